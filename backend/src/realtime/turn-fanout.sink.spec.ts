import type { StreamEvent } from '@parley/api-types';
import { messageEntity, RecordingSink, REPLY, USER_MESSAGE } from '../../test/support/turn-fixtures.js';
import { toMessageDto } from '../chats/chat.mapper.js';
import type { EventDraft } from './event-draft.js';
import { TurnFanoutSink, type FanoutSubject } from './turn-fanout.sink.js';

const CHAT = 'chat-1';

function fanout(subject: Partial<FanoutSubject>) {
  const published: EventDraft[] = [];
  const sink = new TurnFanoutSink(
    new RecordingSink(),
    { publish: (_userId: string, ...events: EventDraft[]) => void published.push(...events) },
    { userId: 'user-1', chatId: CHAT, announcesUserMessage: false, newTitle: null, ...subject },
  );
  return { sink, types: () => published.map((e) => e.type), published };
}

const started: StreamEvent = {
  type: 'turn_started',
  chatId: CHAT,
  userMessage: toMessageDto(messageEntity(USER_MESSAGE, 'user')),
  assistantMessage: toMessageDto(messageEntity(REPLY, 'assistant')),
};

describe(TurnFanoutSink.name, () => {
  it('tells where the path branched (the new reply, or the edited message) with its versions, and the new preview', () => {
    const versions = (index: number, count: number) => ({ index, count });
    const withVersions: StreamEvent = {
      type: 'turn_started',
      chatId: CHAT,
      userMessage: toMessageDto(messageEntity(USER_MESSAGE, 'user'), versions(2, 2)),
      assistantMessage: toMessageDto(messageEntity(REPLY, 'assistant'), versions(3, 3)),
    };
    const reply = withVersions.assistantMessage;
    const regenerated = fanout({ pathChanged: 'assistantMessage' });
    regenerated.sink.send(withVersions);
    expect(regenerated.published.find((e) => e.type === 'chat.path_changed')).toEqual({
      type: 'chat.path_changed',
      chatId: CHAT,
      activeLeafId: REPLY,
      lastMessage: {
        id: REPLY,
        role: 'assistant',
        content: reply.content,
        status: reply.status,
        createdAt: reply.createdAt,
      },
      updatedAt: reply.createdAt,
      branch: { messageId: REPLY, parentId: reply.parentId, alternatives: versions(3, 3) },
    });
    const edited = fanout({ pathChanged: 'userMessage', announcesUserMessage: true });
    edited.sink.send(withVersions);
    expect(edited.published.find((e) => e.type === 'chat.path_changed')).toMatchObject({
      activeLeafId: REPLY,
      branch: { messageId: USER_MESSAGE, alternatives: versions(2, 2) },
    });
  });

  it('announces a regenerated or edited reply as the new end of the path', () => {
    const { sink, published } = fanout({ pathChanged: 'assistantMessage', announcesUserMessage: true });
    sink.send(started);
    expect(published).toContainEqual(
      expect.objectContaining({ type: 'chat.path_changed', chatId: CHAT, activeLeafId: REPLY }),
    );
    expect(published.map((e) => e.type)).toEqual([
      'message.created',
      'message.created',
      'chat.path_changed',
      'balance.changed',
    ]);
  });

  it('announces a continued reply as updated, its text going on from where it was', () => {
    const { sink, types, published } = fanout({ continuesFrom: 9 });
    sink.send(started);
    sink.send({ type: 'delta', messageId: REPLY, text: ' a time' });
    sink.send({ type: 'delta', messageId: REPLY, text: '.' });
    expect(types()).toEqual(['message.updated', 'balance.changed', 'reply.delta', 'reply.delta']);
    expect(published.flatMap((e) => (e.type === 'reply.delta' ? [e.offset] : []))).toEqual([9, 16]);
  });
});
