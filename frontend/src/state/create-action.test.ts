import { createRoot } from 'solid-js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createAction } from './create-action';

let disposers: (() => void)[] = [];

function action<Input, Output>(perform: (input: Input) => Promise<Output>) {
  return createRoot((dispose) => {
    disposers.push(dispose);
    return createAction(perform);
  });
}

describe(createAction.name, () => {
  afterEach(() => {
    for (const dispose of disposers) dispose();
    disposers = [];
  });

  it('does nothing until called; each call is a new attempt, even with the same input', async () => {
    const perform = vi.fn(async (name: string) => `renamed to ${name}`);
    const [result, run] = action(perform);
    expect(perform).not.toHaveBeenCalled();
    expect(result()).toBeUndefined();

    run('Ada');
    expect(result.loading).toBe(true);
    await vi.waitFor(() => expect(result.loading).toBe(false));
    expect(result()).toBe('renamed to Ada');

    run('Ada');
    await vi.waitFor(() => expect(perform).toHaveBeenCalledTimes(2));
    expect(perform).toHaveBeenLastCalledWith('Ada');
  });

  it('holds the error of a failed attempt', async () => {
    const refused = new Error('refused');
    const [result, run] = action(async () => {
      throw refused;
    });

    run(undefined);

    await vi.waitFor(() => expect(result.error).toBe(refused));
    expect(result.loading).toBe(false);
  });
});
