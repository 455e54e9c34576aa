import type { Tool, ToolContext } from '../tool.types.js';
import { rollDice, type DiceRoll } from './dice.js';

export const diceTool: Tool = {
  name: 'roll_dice',
  description:
    'Roll dice in standard notation, such as "d20", "2d6+3" or "4d6-1". Returns each die, the modifier and the total.',
  parameters: {
    type: 'object',
    properties: { notation: { type: 'string', minLength: 2, maxLength: 20, description: 'Dice notation, e.g. 2d6+3' } },
    required: ['notation'],
    additionalProperties: false,
  },
  idempotent: true,
  run(args: Record<string, unknown>, context: ToolContext): Promise<DiceRoll> {
    return Promise.resolve(rollDice(args.notation as string, context.callId));
  },
};
