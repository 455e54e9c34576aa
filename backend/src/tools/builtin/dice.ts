import { createHash } from 'node:crypto';
import { ToolFailure } from '../tool.types.js';

export interface DiceRoll {
  notation: string;
  rolls: number[];
  modifier: number;
  total: number;
}

// Standard notation: [count]d<sides>[+|-modifier], e.g. d20, 2d6+3, 4d6-1, 1d100.
const NOTATION = /^\s*(\d{0,3})\s*d\s*(\d{1,4})\s*(?:([+-])\s*(\d{1,5}))?\s*$/i;
const MAX_DICE = 100;
const MAX_SIDES = 1000;

/** Parses standard dice notation; a ToolFailure (invalid_arguments) when it is not. */
export function parseDice(notation: string): { count: number; sides: number; modifier: number } {
  const match = NOTATION.exec(notation);
  if (!match) throw new ToolFailure('invalid_arguments', `"${notation.slice(0, 40)}" is not dice notation like 2d6+3`);
  const count = match[1] ? Number(match[1]) : 1;
  const sides = Number(match[2]);
  const modifier = match[4] ? Number(match[4]) * (match[3] === '-' ? -1 : 1) : 0;
  if (count < 1 || count > MAX_DICE) throw new ToolFailure('invalid_arguments', `roll 1 to ${MAX_DICE} dice`);
  if (sides < 2 || sides > MAX_SIDES) throw new ToolFailure('invalid_arguments', `dice have 2 to ${MAX_SIDES} sides`);
  return { count, sides, modifier };
}

/**
 * Rolls dice from a seed: the same seed (the call's id) gives the same roll, so a call that is
 * replayed — a retry, a recovery — shows the result the user already saw.
 */
export function rollDice(notation: string, seed: string): DiceRoll {
  const { count, sides, modifier } = parseDice(notation);
  const next = seededRandom(seed);
  const rolls = Array.from({ length: count }, () => 1 + Math.floor(next() * sides));
  const canonical = `${count}d${sides}${modifier > 0 ? `+${modifier}` : modifier < 0 ? `${modifier}` : ''}`;
  return { notation: canonical, rolls, modifier, total: rolls.reduce((sum, r) => sum + r, 0) + modifier };
}

/** mulberry32 seeded from SHA-256 of the seed text. */
function seededRandom(seed: string): () => number {
  let state = createHash('sha256').update(seed).digest().readUInt32BE(0);
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
