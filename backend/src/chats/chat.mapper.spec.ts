import { messageEntity, USER_MESSAGE } from '../../test/support/turn-fixtures.js';
import { finishReasonOf, toMessageDto, toMessageDtoFromRow, type MessagePageRow } from './chat.mapper.js';

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

describe('toMessageDtoFromRow', () => {
  // A message_page row of the same message as an entity: both mappings must give the same DTO.
  const rowOf = (entity: ReturnType<typeof reply>): MessagePageRow => ({
    id: entity.id,
    seq: entity.seq,
    role: entity.role,
    content: entity.content,
    status: entity.status,
    error_code: entity.errorCode,
    reply_to_id: entity.replyToId,
    parent_id: entity.parentId,
    provider: entity.provider,
    model: entity.model,
    prompt_tokens: entity.promptTokens,
    completion_tokens: entity.completionTokens,
    attempts: entity.attempts,
    degraded: entity.degraded,
    finish_reason: typeof entity.metadata.finishReason === 'string' ? entity.metadata.finishReason : null,
    // As PostgreSQL's date_part('epoch', …) * 1000 gives it: a double, not always whole.
    created_ms: entity.createdAt.getTime() + 1e-7,
    updated_ms: entity.updatedAt.getTime() - 1e-7,
    alt_index: 2,
    alt_count: 3,
  });

  it('gives what toMessageDto gives for the same message', () => {
    const cases = [
      reply({
        status: 'complete',
        metadata: { finishReason: 'max_tokens' },
        promptTokens: 12,
        completionTokens: 30,
        createdAt: new Date('2026-11-28T09:00:00.123Z'),
        updatedAt: new Date('2026-11-28T09:00:01.999Z'),
      }),
      reply({ status: 'failed', errorCode: 'content_blocked' }),
      reply({ status: 'cancelled', errorCode: 'turn_cancelled', degraded: true }),
      messageEntity('user', 'user', { parentId: 'greeting' }),
    ];
    for (const entity of cases) {
      expect(toMessageDtoFromRow(entity.chatId, rowOf(entity))).toEqual(toMessageDto(entity, { index: 2, count: 3 }));
    }
  });

  it("gives the chat's first message (no parent) one alternative, itself", () => {
    const greeting = messageEntity('greeting', 'assistant', { status: 'complete', parentId: null });
    expect(toMessageDtoFromRow(greeting.chatId, rowOf(greeting)).alternatives).toEqual({ index: 1, count: 1 });
  });
});
