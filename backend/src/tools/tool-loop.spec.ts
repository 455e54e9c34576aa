import type { ToolCallEntity } from '../chats/tool-call.entity.js';
import { toolEventsOf } from './tool-loop.js';

const REPLY = '9f8e7d6c-5b4a-4c3d-9e2f-1a0b9c8d7e6f';

// A stored call as the table holds it (only what the ordering reads matters).
function row(step: number, index: number, status: ToolCallEntity['status'], extra: Partial<ToolCallEntity> = {}) {
  return {
    id: `call-${step}-${index}`,
    chatId: 'chat-1',
    messageId: REPLY,
    step,
    index,
    toolName: 'roll_dice',
    parameters: {},
    status,
    result: status === 'complete' ? { total: 4 } : null,
    error: null,
    idempotent: true,
    provider: 'gemini',
    attempt: 1,
    providerCallId: null,
    textOffset: 0,
    stepCalls: 1,
    executedAt: new Date(0),
    finishedAt: status === 'complete' ? new Date(2) : null,
    durationMs: status === 'complete' ? 2 : null,
    createdAt: new Date(0),
    ...extra,
  } as ToolCallEntity;
}

const told = (rows: ToolCallEntity[]) =>
  toolEventsOf(rows).map(({ offset, event }) => `${offset}:${event.type}:${event.call.id}:${event.call.status}`);

describe(toolEventsOf.name, () => {
  it('tells a step as its stream did: every call, then every result, each at the text offset of the step', () => {
    const rows = [
      row(2, 0, 'complete', { textOffset: 20 }),
      row(1, 1, 'failed', { stepCalls: 2, textOffset: 5 }),
      row(1, 0, 'complete', { stepCalls: 2, textOffset: 5 }),
    ];
    expect(told(rows)).toEqual([
      '5:tool_call:call-1-0:running',
      '5:tool_call:call-1-1:running',
      '5:tool_result:call-1-0:complete',
      '5:tool_result:call-1-1:failed',
      '20:tool_call:call-2-0:running',
      '20:tool_result:call-2-0:complete',
    ]);
    // A call is told as it started: its result comes with `tool_result`.
    expect(toolEventsOf(rows)[0]?.event.call).toMatchObject({ result: null, finishedAt: null, durationMs: null });
  });

  it('tells no result of a step before all its calls are stored, and results only in index order', () => {
    expect(told([row(1, 0, 'complete', { stepCalls: 2 })])).toEqual(['0:tool_call:call-1-0:running']);
    expect(told([row(1, 0, 'running', { stepCalls: 2 }), row(1, 1, 'complete', { stepCalls: 2 })])).toEqual([
      '0:tool_call:call-1-0:running',
      '0:tool_call:call-1-1:running',
    ]);
    // A later call stored before an earlier one is not told ahead of it.
    expect(told([row(1, 1, 'complete', { stepCalls: 2 })])).toEqual([]);
  });
});
