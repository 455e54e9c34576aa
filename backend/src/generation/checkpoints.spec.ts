import { unitConfig } from '../../test/support/turn-fixtures.js';
import { AppError } from '../errors/app-error.js';
import { Checkpoints, type CheckpointedTurn } from './checkpoints.js';
import type { TurnStore } from './turn.store.js';

type Call = { writes: { id: string; text: string }[]; reads: string[] };

/** A store that records each checkpoint statement and answers which replies still run. */
function fakeStore(stillRunning: (id: string) => boolean) {
  const calls: Call[] = [];
  const store = {
    checkpointMany: async (writes: Call['writes'], reads: string[]) => {
      calls.push({ writes: writes.map((w) => ({ ...w })), reads: [...reads] });
      return new Set([...writes.map((w) => w.id), ...reads].filter(stillRunning));
    },
  };
  return { store: store as unknown as TurnStore, calls };
}

// Mutable text: the test plays the turn writing more of its reply between ticks.
function turn(
  id: string,
  text = '',
): { -readonly [K in keyof CheckpointedTurn]: CheckpointedTurn[K] } & { aborted: unknown[] } {
  const aborted: unknown[] = [];
  return { messageId: id, text, abort: (reason: unknown) => void aborted.push(reason), aborted };
}

const config = unitConfig({ CHECKPOINT_INTERVAL_MS: '60000' });

describe(Checkpoints.name, () => {
  it('covers every running turn with one statement per tick, writing only new text', async () => {
    const { store, calls } = fakeStore(() => true);
    const checkpoints = new Checkpoints(store, config);
    const a = turn('a', 'Once');
    const b = turn('b');
    const c = turn('c', 'Hello');
    const stops = [a, b, c].map((t) => checkpoints.watch(t));

    await checkpoints.tick();
    a.text = 'Once upon';
    await checkpoints.tick();

    expect(calls).toEqual([
      {
        writes: [
          { id: 'a', text: 'Once' },
          { id: 'c', text: 'Hello' },
        ],
        reads: ['b'],
      },
      { writes: [{ id: 'a', text: 'Once upon' }], reads: ['b', 'c'] },
    ]);
    for (const stop of stops) stop();
    expect(checkpoints.size).toBe(0);
    await checkpoints.tick();
    expect(calls).toHaveLength(2);
  });

  it('ends a turn cancelled elsewhere, and only that one', async () => {
    const { store } = fakeStore((id) => id !== 'b');
    const checkpoints = new Checkpoints(store, config);
    const a = turn('a', 'text');
    const b = turn('b', 'text');
    checkpoints.watch(a);
    checkpoints.watch(b);

    await checkpoints.tick();

    expect(a.aborted).toEqual([]);
    expect(b.aborted).toEqual([expect.objectContaining({ code: 'turn_cancelled' })]);
    expect(b.aborted[0]).toBeInstanceOf(AppError);
  });

  it('does not end a turn that stopped being watched while its checkpoint ran', async () => {
    let release: () => void = () => undefined;
    const store = {
      checkpointMany: () => new Promise<Set<string>>((resolve) => (release = () => resolve(new Set()))),
    } as unknown as TurnStore;
    const checkpoints = new Checkpoints(store, config);
    const finished = turn('a', 'all of it');
    const stop = checkpoints.watch(finished);

    const ticking = checkpoints.tick();
    stop(); // the turn completed: its row is no longer running, but it was not cancelled
    release();
    await ticking;

    expect(finished.aborted).toEqual([]);
  });

  it('keeps going after a failed checkpoint', async () => {
    let fail = true;
    const calls: number[] = [];
    const store = {
      checkpointMany: async () => {
        calls.push(1);
        if (fail) throw new Error('database unavailable');
        return new Set(['a']);
      },
    } as unknown as TurnStore;
    const checkpoints = new Checkpoints(store, config);
    const a = turn('a', 'text');
    checkpoints.watch(a);

    await checkpoints.tick();
    fail = false;
    await checkpoints.tick();

    expect(calls).toHaveLength(2);
    expect(a.aborted).toEqual([]);
  });
});
