import { ChatMemoryService } from './chat-memory.service.js';
import { ToolRegistry } from './tool-registry.js';
import { ToolFailure } from './tool.types.js';

// The memory tools are registered but never run here, so their service needs no database.
const registry = new ToolRegistry(new ChatMemoryService(null as never));
const offered = ['roll_dice', 'current_time'];

function failure(run: () => unknown): ToolFailure {
  try {
    run();
  } catch (error) {
    if (error instanceof ToolFailure) return error;
    throw error;
  }
  throw new Error('accepted');
}

describe(ToolRegistry.name, () => {
  it('declares the tools asked for that exist, in order, without repeats', () => {
    expect(registry.declarations(['recall', 'no_such_tool', 'roll_dice', 'recall']).map((d) => d.name)).toEqual([
      'recall',
      'roll_dice',
    ]);
    expect(registry.declarationChars(['roll_dice'])).toBeGreaterThan(50);
  });

  it('resolves a call with valid arguments', () => {
    expect(registry.resolve('roll_dice', offered, { notation: '2d6' }).tool.name).toBe('roll_dice');
  });

  it('refuses an unknown tool, and one the character was not offered', () => {
    expect(failure(() => registry.resolve('launch', offered, {})).code).toBe('unknown_tool');
    expect(failure(() => registry.resolve('remember', offered, { content: 'x' })).code).toBe('unknown_tool');
  });

  it.each([
    ['a wrong type', { notation: 5 }],
    ['a missing field', {}],
    ['an extra field', { notation: '2d6', extra: 1 }],
    ['not an object', 'notation=2d6'],
    ['null', null],
  ])('refuses %s with the schema’s complaint', (_, args) => {
    const error = failure(() => registry.resolve('roll_dice', offered, args));
    expect(error.code).toBe('invalid_arguments');
    expect(error.message).toMatch(/schema/);
  });

  it('refuses a tool name providers would reject', () => {
    expect(() =>
      registry.register({ name: 'bad name!', description: '', parameters: {}, idempotent: true, run: async () => 1 }),
    ).toThrow(/invalid tool name/);
  });
});
