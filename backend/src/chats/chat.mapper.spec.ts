import { messageEntity, USER_MESSAGE } from '../../test/support/turn-fixtures.js';
import { finishReasonOf, toMessageDto } from './chat.mapper.js';

const reply = (overrides: Parameters<typeof messageEntity>[2] = {}) =>
  messageEntity('reply', 'assistant', {
    replyToId: USER_MESSAGE,
    parentId: USER_MESSAGE,
    provider: 'demo',
    ...overrides,
  });

describe('finishReasonOf', () => {
  it('says why a reply ended, from its status and what the provider said', () => {
    expect(finishReasonOf(reply({ status: 'complete', metadata: { finishReason: 'stop' } }))).toBe('stop');
    expect(finishReasonOf(reply({ status: 'complete', metadata: { finishReason: 'max_tokens' } }))).toBe('max_tokens');
    // Replies stored before the provider's reason was kept count as finished.
    expect(finishReasonOf(reply({ status: 'complete', metadata: {} }))).toBe('stop');
    expect(finishReasonOf(reply({ status: 'cancelled', errorCode: 'turn_cancelled' }))).toBe('stopped');
    expect(finishReasonOf(reply({ status: 'failed', errorCode: 'content_blocked' }))).toBe('safety');
    expect(finishReasonOf(reply({ status: 'failed', errorCode: 'provider_unavailable' }))).toBe('error');
  });

  it('is null while a reply runs, for user messages and for the greeting', () => {
    expect(finishReasonOf(reply({ status: 'pending' }))).toBeNull();
    expect(finishReasonOf(reply({ status: 'streaming' }))).toBeNull();
    expect(finishReasonOf(messageEntity('user', 'user'))).toBeNull();
    const greeting = messageEntity('greeting', 'assistant', { status: 'complete', metadata: { greeting: true } });
    expect(finishReasonOf(greeting)).toBeNull();
  });
});

describe('toMessageDto', () => {
  it('carries the parent, and the alternatives only when they were computed', () => {
    const dto = toMessageDto(reply({ status: 'complete' }));
    expect(dto.parentId).toBe(USER_MESSAGE);
    expect('alternatives' in dto).toBe(false);
    expect(toMessageDto(reply(), { index: 2, count: 3 }).alternatives).toEqual({ index: 2, count: 3 });
  });
});
