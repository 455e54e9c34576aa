import fc from 'fast-check';
import { ChatMemoryService } from '../chat-memory.service.js';
import { ToolRegistry } from '../tool-registry.js';
import { ToolFailure, type ToolContext } from '../tool.types.js';
import { diceTool } from './dice.tool.js';
import { parseDice, rollDice, type DiceRoll } from './dice.js';

// Properties of the dice notation over its whole range (1–100 dice, 2–1000 sides, a modifier of
// up to five digits), beside the examples in dice.spec.ts.
const count = fc.integer({ min: 1, max: 100 });
const sides = fc.integer({ min: 2, max: 1000 });
const modifier = fc.integer({ min: -99_999, max: 99_999 });
const dice = fc.record({ count, sides, modifier });
const seed = fc.string({ maxLength: 40 });

// The notation a person or a model might write for the same dice: any case, spaces around the
// parts, the count of one left out, a zero modifier written or not.
const written = dice.chain((d) =>
  fc
    .record({
      d: fc.constantFrom('d', 'D'),
      space: fc.array(fc.constantFrom('', ' ', '  ', '\t'), { minLength: 6, maxLength: 6 }),
      omitOne: fc.boolean(),
      writeZero: fc.boolean(),
    })
    .map(({ d: letter, space: s, omitOne, writeZero }) => {
      const head = d.count === 1 && omitOne ? '' : String(d.count);
      const sign = d.modifier < 0 ? '-' : '+';
      const tail = d.modifier !== 0 || writeZero ? `${s[3]}${sign}${s[4]}${Math.abs(d.modifier)}` : '';
      return { dice: d, notation: `${s[0]}${head}${s[1]}${letter}${s[2]}${d.sides}${tail}${s[5]}` };
    }),
);

const context = (callId: string): ToolContext => ({
  userId: 'u',
  chatId: 'c',
  messageId: 'm',
  callId,
  signal: new AbortController().signal,
});

// The memory tools are registered but never run here, so their service needs no database.
const registry = new ToolRegistry(new ChatMemoryService(null as never));

/** What a model's call to roll_dice comes to: the roll, or the ToolFailure the model is told. */
async function callDice(args: unknown, callId: string): Promise<DiceRoll | ToolFailure> {
  try {
    const resolved = registry.resolve('roll_dice', ['roll_dice'], args);
    return (await resolved.tool.run(resolved.args, context(callId))) as DiceRoll;
  } catch (error) {
    if (error instanceof ToolFailure) return error;
    throw error;
  }
}

describe('dice notation (properties)', () => {
  it('reads back what it writes: the canonical notation parses to the same dice and is a fixed point', () => {
    fc.assert(
      fc.property(written, seed, ({ dice: d, notation }, id) => {
        expect(parseDice(notation)).toEqual(d);
        const roll = rollDice(notation, id);
        expect(parseDice(roll.notation)).toEqual(d);
        expect(rollDice(roll.notation, id)).toEqual(roll);
        expect(roll.notation).toMatch(/^\d{1,3}d\d{1,4}([+-]\d{1,5})?$/);
      }),
      { numRuns: 300 },
    );
  });

  it('rolls each die within 1..sides, as many as asked, the total their sum plus the modifier', () => {
    fc.assert(
      fc.property(dice, seed, (d, id) => {
        const roll = rollDice(`${d.count}d${d.sides}${d.modifier < 0 ? '' : '+'}${d.modifier}`, id);
        expect(roll.rolls).toHaveLength(d.count);
        for (const r of roll.rolls) {
          expect(Number.isInteger(r)).toBe(true);
          expect(r).toBeGreaterThanOrEqual(1);
          expect(r).toBeLessThanOrEqual(d.sides);
        }
        expect(roll.modifier).toBe(d.modifier);
        expect(roll.total).toBe(roll.rolls.reduce((a, b) => a + b, 0) + d.modifier);
      }),
      { numRuns: 300 },
    );
  });

  it('reaches every face of a small die (1 and sides included) over a few call ids', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 12 }), fc.string({ maxLength: 10 }), (faces, prefix) => {
        const seen = new Set(['a', 'b', 'c'].flatMap((call) => rollDice(`100d${faces}`, `${prefix}-${call}`).rolls));
        expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: faces }, (_, i) => i + 1));
      }),
      { numRuns: 50 },
    );
  });

  it('gives the same roll for the same seed, whatever the seed and the notation', () => {
    fc.assert(
      fc.property(written, fc.string({ maxLength: 200, unit: 'binary' }), ({ notation }, id) => {
        expect(rollDice(notation, id)).toEqual(rollDice(notation, id));
      }),
      { numRuns: 200 },
    );
  });

  it('answers any arguments a model sends with a roll or an invalid_arguments tool error, never a throw', async () => {
    // Near-misses of the notation as well as anything at all.
    const nearMiss = fc
      .tuple(
        fc.integer({ min: -5, max: 1200 }),
        fc.constantFrom('d', 'D', 'x', 'dd', ''),
        fc.integer({ min: -5, max: 12_000 }),
        fc.constantFrom('', '+', '-', '*', '+-'),
        fc.oneof(fc.constant(''), fc.integer({ min: 0, max: 1_000_000 }).map(String)),
      )
      .map((parts) => parts.join(''));
    const notation = fc.oneof(nearMiss, fc.string({ maxLength: 24 }), fc.string({ maxLength: 24, unit: 'binary' }));
    const args = fc.oneof(
      notation.map((n) => ({ notation: n })),
      fc.anything({ maxDepth: 2 }),
    );
    await fc.assert(
      fc.asyncProperty(args, fc.uuid(), async (input, id) => {
        const outcome = await callDice(input, id);
        if (outcome instanceof ToolFailure) {
          expect(outcome.code).toBe('invalid_arguments');
          expect(outcome.message.length).toBeGreaterThan(0);
          return;
        }
        // Accepted: it was real notation within the range, and the roll is the one rollDice gives.
        const text = (input as { notation: string }).notation;
        expect(outcome).toEqual(rollDice(text, id));
        const read = parseDice(text);
        expect(read.count >= 1 && read.count <= 100).toBe(true);
        expect(read.sides >= 2 && read.sides <= 1000).toBe(true);
        for (const r of outcome.rolls) expect(r >= 1 && r <= read.sides).toBe(true);
        // (`1d6-0` reads as a modifier of -0; its canonical form has none.)
        expect(parseDice(outcome.notation)).toEqual({ ...read, modifier: read.modifier + 0 });
      }),
      { numRuns: 500 },
    );
  });

  it('refuses a count outside 1..100 or sides outside 2..1000 as invalid_arguments', async () => {
    const outside = fc.oneof(
      fc.record({ count: fc.constantFrom(0, 101, 999), sides }),
      fc.record({ count, sides: fc.constantFrom(0, 1, 1001, 9999) }),
    );
    await fc.assert(
      fc.asyncProperty(outside, fc.uuid(), async (d, id) => {
        const outcome = await callDice({ notation: `${d.count}d${d.sides}` }, id);
        expect(outcome).toBeInstanceOf(ToolFailure);
        expect((outcome as ToolFailure).code).toBe('invalid_arguments');
      }),
    );
  });

  it('is the function behind the roll_dice tool (the call id is the seed)', async () => {
    await fc.assert(
      fc.asyncProperty(written, fc.uuid(), async ({ notation }, id) => {
        fc.pre(notation.length >= 2 && notation.length <= 20);
        expect(await diceTool.run({ notation }, context(id))).toEqual(rollDice(notation, id));
      }),
      { numRuns: 100 },
    );
  });
});
