import { coalesceDeltas, type EventDraft } from './event-draft.js';

const CHAT = 'c1';
const delta = (messageId: string, offset: number, text: string, chatId = CHAT): EventDraft => ({
  type: 'reply.delta',
  chatId,
  messageId,
  offset,
  text,
});
const of = (userId: string, draft: EventDraft) => ({ userId, draft });

describe('coalesceDeltas', () => {
  it("joins a reply's consecutive deltas at the first offset, keeping other events in place", () => {
    const out = coalesceDeltas([
      of('u', delta('m', 0, 'Hel')),
      of('u', { type: 'balance.changed' }),
      of('u', delta('m', 3, 'lo ')),
      of('u', delta('m', 6, 'there')),
    ]);
    expect(out.map((o) => o.draft)).toEqual([delta('m', 0, 'Hello there'), { type: 'balance.changed' }]);
  });

  it('keeps replies and users apart', () => {
    const out = coalesceDeltas([
      of('u', delta('m', 0, 'a')),
      of('v', delta('m', 1, 'b')),
      of('u', delta('n', 1, 'c')),
      of('u', delta('m', 1, 'd')),
    ]);
    expect(out.map((o) => [o.userId, o.draft])).toEqual([
      ['u', delta('m', 0, 'ad')],
      ['v', delta('m', 1, 'b')],
      ['u', delta('n', 1, 'c')],
    ]);
  });

  it('never joins across a gap, or across another event of the same chat', () => {
    const message = { type: 'message.updated', chatId: CHAT, reload: 'm' } as const;
    const out = coalesceDeltas([
      of('u', delta('m', 0, 'ab')),
      of('u', delta('m', 5, 'cd')),
      of('u', message),
      of('u', delta('m', 7, 'ef')),
      of('u', delta('x', 0, 'elsewhere', 'c2')),
      of('u', delta('m', 9, 'gh')),
    ]);
    expect(out.map((o) => o.draft)).toEqual([
      delta('m', 0, 'ab'),
      delta('m', 5, 'cd'),
      message,
      delta('m', 7, 'efgh'),
      delta('x', 0, 'elsewhere', 'c2'),
    ]);
  });

  it('leaves the batch it was given as it was', () => {
    const batch = [of('u', delta('m', 0, 'a')), of('u', delta('m', 1, 'b'))];
    coalesceDeltas(batch);
    expect(batch.map((o) => o.draft)).toEqual([delta('m', 0, 'a'), delta('m', 1, 'b')]);
  });
});
