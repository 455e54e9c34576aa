import { loadRealtimeDocument, RealtimeContract } from './realtime-contract.js';

// The conformance check the realtime tests rely on (test/support/realtime-client.ts): it must
// pass what the contract allows and report what it does not, or the tests prove nothing.
describe(RealtimeContract.name, () => {
  const contract = new RealtimeContract();
  const document = loadRealtimeDocument();
  const message = {
    id: '9f8e7d6c-5b4a-4c3d-9e2f-1a0b9c8d7e6f',
    chatId: '7d9e4b2a-1c3f-4e5d-8a6b-9c0d1e2f3a4b',
    seq: 3,
    role: 'assistant',
    content: 'Hello',
    status: 'complete',
    errorCode: null,
    replyToId: '5e1f9a20-6b7c-4d8e-9f01-a2b3c4d5e6f7',
    parentId: '5e1f9a20-6b7c-4d8e-9f01-a2b3c4d5e6f7',
    finishReason: 'stop',
    provider: 'demo',
    model: 'demo-1',
    degraded: false,
    usage: { promptTokens: 1, completionTokens: 2, totalTokens: 3 },
    attempts: 1,
    createdAt: '2026-11-28T10:00:00.000Z',
    updatedAt: '2026-11-28T10:00:01.000Z',
  };
  const genuine: Array<Record<string, unknown>> = [
    { type: 'ready', userId: message.chatId, seq: 0, resync: false, heartbeatIntervalMs: 30000 },
    { type: 'message.updated', seq: 4, chatId: message.chatId, message },
    { type: 'reply.delta', seq: 5, chatId: message.chatId, messageId: message.id, offset: 0, text: 'Hi' },
    { type: 'balance.changed', seq: 6, tokenBalance: 99 },
    { type: 'chat.path_changed', seq: 7, chatId: message.chatId, activeLeafId: message.id },
    { type: 'message.deleted', seq: 8, chatId: message.chatId, messageIds: [message.id] },
    { type: 'error', ref: null, problem: problem() },
  ];

  it('finds nothing wrong with frames the contract allows, its own examples included', () => {
    for (const frame of genuine) expect(contract.serverFrameViolations(frame)).toEqual([]);
    for (const [name, entry] of Object.entries(document.components.messages)) {
      const examples = (entry as { examples?: Array<{ payload: unknown }> }).examples ?? [];
      for (const example of examples) {
        const violations = [
          ...contract.serverFrameViolations(example.payload),
          ...contract.clientFrameViolations(example.payload),
        ];
        // An example is one side's frame: it passes one of the two checks.
        expect({ name, ok: violations.length < 2 }).toEqual({ name, ok: true });
      }
    }
    expect(contract.clientFrameViolations({ type: 'subscribe', chatId: message.chatId })).toEqual([]);
  });

  it.each([
    ['an unknown type', { ...genuine[3], type: 'telepathy' }],
    ['a missing field', { type: 'reply.delta', seq: 5, chatId: message.chatId, offset: 0, text: 'Hi' }],
    ['an extra field', { ...genuine[3], extra: true }],
    ['a negative offset', { ...genuine[2], offset: -1 }],
    ['a seq of zero', { ...genuine[3], seq: 0 }],
    ['a message that breaks the HTTP contract', { ...genuine[1], message: { ...message, status: 'thinking' } }],
    ['a problem without its code', { type: 'error', ref: null, problem: { ...problem(), code: undefined } }],
  ])('reports %s', (_name, frame) => {
    expect(contract.serverFrameViolations(frame)).not.toEqual([]);
  });

  it('knows the frames a client may send, and only those', () => {
    expect([...contract.clientTypes].sort()).toEqual(['hello', 'ping', 'send', 'stop', 'subscribe', 'unsubscribe']);
    const subscribe = contract.clientFrame('subscribe');
    expect(subscribe?.({ type: 'subscribe', chatId: message.chatId })).toBe(true);
    expect(subscribe?.({ type: 'subscribe', chatId: 'not-a-uuid' })).toBe(false);
    expect(contract.clientFrame('ready')).toBeUndefined();
  });

  it('names an unknown frame type, on either side, and a frame without one', () => {
    expect(contract.serverFrameViolations({ type: 'subscribe' })).toEqual(['unknown server frame type "subscribe"']);
    expect(contract.clientFrameViolations({ type: 'ready' })).toEqual(['unknown client frame type "ready"']);
    expect(contract.serverFrameViolations(null)).toEqual(['unknown server frame type undefined']);
    expect(contract.clientFrameViolations(null)).toEqual(['unknown client frame type undefined']);
  });

  it("names the frame's type and its first three errors", () => {
    const errorsOf = (violations: string[], type: string) => {
      expect(violations).toHaveLength(1);
      expect(violations[0]?.startsWith(`${type}: `)).toBe(true);
      return JSON.parse(violations[0]!.slice(type.length + 2)) as Array<{ instancePath: string }>;
    };
    const broken = { type: 'reply.delta', seq: 'a', chatId: 1, messageId: 2, offset: 'x', text: 3 };
    expect(errorsOf(contract.serverFrameViolations(broken), 'reply.delta')).toHaveLength(3);
    const client = errorsOf(contract.clientFrameViolations({ type: 'subscribe', chatId: 'x' }), 'subscribe');
    expect(new Set(client.map((error) => error.instancePath))).toEqual(new Set(['/chatId']));
    const messy = { type: 'subscribe', chatId: 5, id: 7, colour: 'red', size: 'large' };
    expect(errorsOf(contract.clientFrameViolations(messy), 'subscribe')).toHaveLength(3);
  });

  it('declares its limits and close codes', () => {
    expect(contract.limits.maxFrameBytes).toBeGreaterThan(0);
    expect(contract.closeCode('resync')).toBe(4409);
    expect(contract.path).toBe('/api/v1/realtime');
  });
});

function problem() {
  return {
    type: 'urn:parley:problem:chat_not_found',
    title: 'chat_not_found',
    status: 404,
    code: 'chat_not_found',
    messageKey: 'errors.chat_not_found',
    message: 'Chat not found.',
    retryable: false,
    retryAfterSeconds: null,
    breakerState: null,
    requestId: '5c0f7a52-8d43-4b7e-9a61-2f3e4d5c6b7a',
  };
}
