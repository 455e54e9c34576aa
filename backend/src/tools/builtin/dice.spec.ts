import fc from 'fast-check';
import { ToolFailure } from '../tool.types.js';
import { parseDice, rollDice } from './dice.js';

describe(rollDice.name, () => {
  it('reads standard notation', () => {
    expect(parseDice('2d6+3')).toEqual({ count: 2, sides: 6, modifier: 3 });
    expect(parseDice('d20')).toEqual({ count: 1, sides: 20, modifier: 0 });
    expect(parseDice(' 4D6 - 1 ')).toEqual({ count: 4, sides: 6, modifier: -1 });
  });

  it.each(['', '2x6', '0d6', '2d1', '101d6', '2d6+', 'roll', '2d6+3d4'])('refuses %p as invalid arguments', (text) => {
    expect(() => parseDice(text)).toThrow(ToolFailure);
    try {
      parseDice(text);
    } catch (error) {
      expect((error as ToolFailure).code).toBe('invalid_arguments');
    }
  });

  it('gives the same roll for the same call id (a replay shows what the user saw)', () => {
    fc.assert(
      fc.property(fc.uuid(), (id) => {
        expect(rollDice('3d20+2', id)).toEqual(rollDice('3d20+2', id));
      }),
    );
  });

  it('stays within the dice and adds the modifier', () => {
    fc.assert(
      fc.property(fc.uuid(), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 2, max: 100 }), (id, count, sides) => {
        const roll = rollDice(`${count}d${sides}-1`, id);
        expect(roll.rolls).toHaveLength(count);
        for (const r of roll.rolls) expect(r >= 1 && r <= sides).toBe(true);
        expect(roll.total).toBe(roll.rolls.reduce((a, b) => a + b, 0) - 1);
      }),
    );
  });

  it('differs between call ids (not a constant)', () => {
    const totals = new Set(Array.from({ length: 50 }, (_, i) => rollDice('1d100', `call-${i}`).total));
    expect(totals.size).toBeGreaterThan(10);
  });
});
