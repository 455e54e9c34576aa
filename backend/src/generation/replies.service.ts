import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { ManifestAttempt, Message, Problem, TurnResult } from '@parley/api-types';
import { AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import { ProblemFactory, type ProblemContext } from '../errors/problem.filter.js';
import { ChatEntity } from '../chats/chat.entity.js';
import { MessageEntity } from '../chats/message.entity.js';
import { toMessageDto } from '../chats/chat.mapper.js';
import { alternativesOf } from '../chats/messages.repository.js';
import { BillingService } from '../billing/billing.service.js';
import { LocalTurns } from '../lifecycle/local-turns.js';
import { RealtimeEvents } from '../realtime/realtime-events.js';
import { resumeOffset } from './sse-stream.js';
import type { ResumableSink } from './turn-sink.js';
import { TurnStore } from './turn.store.js';

// How long a follower waits past a turn's deadline before calling the reply interrupted.
const FOLLOW_MARGIN_MS = 15_000;

/** How a finished reply ended, as the request that started it was (or would have been) answered. */
export type ReplyOutcome = { kind: 'done'; result: TurnResult } | { kind: 'error'; problem: Problem };

/** A reply that is a generated answer: its chat is the caller's, and it answers a user message. */
interface OwnedReply {
  reply: MessageEntity;
  userMessage: MessageEntity;
}

/**
 * Stopping a reply and following one, from any instance: both work through the database (a
 * checkpointed reply's text, its status), so no instance needs another's memory.
 */
@Injectable()
export class RepliesService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly store: TurnStore,
    private readonly local: LocalTurns,
    private readonly problems: ProblemFactory,
    private readonly billing: BillingService,
    private readonly events: RealtimeEvents,
  ) {}

  async cancel(userId: string, chatId: string, messageId: string): Promise<Message> {
    const owned = await this.loadMessage(userId, chatId, messageId);
    if (owned.role !== 'assistant') throw new AppError('message_not_cancellable');
    const running = this.local.get(messageId);
    const cancelled = await this.store.cancel(messageId, running?.text ?? null);
    if (cancelled) {
      // Here at once; on another instance at its next checkpoint.
      running?.abort(new AppError('turn_cancelled'));
      const message = toMessageDto(cancelled);
      this.events.publish(userId, { type: 'message.updated', chatId, message }, { type: 'balance.changed' });
      return message;
    }
    // Not running any more: already stopped, finished, or the chat went away meanwhile.
    const current = await this.reload(messageId);
    if (current.status === 'cancelled') return toMessageDto(current);
    throw new AppError('message_not_cancellable');
  }

  /**
   * Streams a reply from where the client left off (`Last-Event-ID`): the turn's start and the
   * text saved so far, then what the checkpoints add, until the reply's terminal state.
   */
  async follow(
    userId: string,
    chatId: string,
    messageId: string,
    lastEventId: string | string[] | undefined,
    stream: (offset: number) => ResumableSink,
    context: ProblemContext,
  ): Promise<void> {
    const { reply, userMessage } = await this.loadReply(userId, chatId, messageId);
    const offset = resumeOffset(lastEventId, messageId);
    const sse = stream(offset);
    if (lastEventId === undefined) {
      const alternatives = await alternativesOf(this.dataSource, [userMessage.id, reply.id]);
      sse.send({
        type: 'turn_started',
        chatId,
        userMessage: toMessageDto(userMessage, alternatives.get(userMessage.id)),
        assistantMessage: toMessageDto(reply, alternatives.get(reply.id)),
      });
    }
    const giveUpAt = Date.now() + this.config.resilience.turnTimeoutMs + FOLLOW_MARGIN_MS;
    const interval = this.config.trust.checkpointIntervalMs;
    let closed = false;
    sse.onDisconnect(() => (closed = true));
    for (let current: MessageEntity | null = reply; ; current = await this.find(messageId)) {
      if (!current) {
        // Deleted with its chat while being followed.
        sse.send({ type: 'error', messageId, problem: this.problem('message_not_found', context) });
        break;
      }
      if (current.content.length > sse.offset) {
        sse.send({ type: 'delta', messageId, text: current.content.slice(sse.offset) });
      }
      const outcome = await this.outcomeOf(userId, userMessage, current, context);
      if (outcome) {
        sse.send(
          outcome.kind === 'done'
            ? { type: 'done', messageId, result: outcome.result }
            : { type: 'error', messageId, problem: outcome.problem },
        );
        break;
      }
      if (closed) return;
      if (Date.now() > giveUpAt) {
        sse.send({ type: 'error', messageId, problem: this.problem('turn_interrupted', context) });
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, interval));
    }
    sse.end();
  }

  /** The outcome of a reply that has finished; undefined while it is still being written. */
  async outcome(
    userId: string,
    chatId: string,
    messageId: string,
    context: ProblemContext,
  ): Promise<ReplyOutcome | undefined> {
    const { reply, userMessage } = await this.loadReply(userId, chatId, messageId);
    return this.outcomeOf(userId, userMessage, reply, context);
  }

  private async outcomeOf(
    userId: string,
    userMessage: MessageEntity,
    reply: MessageEntity,
    context: ProblemContext,
  ): Promise<ReplyOutcome | undefined> {
    if (reply.status === 'complete')
      return { kind: 'done', result: await this.replayedResult(userId, userMessage, reply) };
    if (reply.status === 'failed' || reply.status === 'cancelled') {
      return { kind: 'error', problem: this.problem(reply.errorCode ?? 'turn_interrupted', context) };
    }
    return undefined;
  }

  private problem(code: NonNullable<MessageEntity['errorCode']>, context: ProblemContext): Problem {
    return this.problems.build(new AppError(code), context).problem;
  }

  private async replayedResult(userId: string, user: MessageEntity, reply: MessageEntity): Promise<TurnResult> {
    const alternatives = await alternativesOf(this.dataSource, [user.id, reply.id]);
    const assistant = toMessageDto(reply, alternatives.get(reply.id));
    const attempts = (
      (reply.metadata?.manifest as { attempts?: ManifestAttempt[] } | undefined)?.attempts ?? []
    ).filter((a) => a.retryDelayMs !== null);
    return {
      userMessage: toMessageDto(user, alternatives.get(user.id)),
      assistantMessage: assistant,
      usage: assistant.usage,
      retries: attempts.length,
      provider: reply.provider,
      model: reply.model,
      degraded: reply.degraded,
      tokenBalance: await this.billing.balance(userId),
    };
  }

  /** A generated reply of the caller's chat, with the user message it answers; 404 otherwise. */
  private async loadReply(userId: string, chatId: string, messageId: string): Promise<OwnedReply> {
    const reply = await this.loadMessage(userId, chatId, messageId);
    const userMessage =
      reply.role === 'assistant' && reply.replyToId
        ? await this.dataSource.getRepository(MessageEntity).findOneBy({ id: reply.replyToId, chatId })
        : null;
    if (!userMessage) throw new AppError('message_not_found');
    return { reply, userMessage };
  }

  private async loadMessage(userId: string, chatId: string, messageId: string): Promise<MessageEntity> {
    const owned = await this.dataSource.getRepository(ChatEntity).existsBy({ id: chatId, userId });
    if (!owned) throw new AppError('chat_not_found');
    const message = await this.dataSource.getRepository(MessageEntity).findOneBy({ id: messageId, chatId });
    if (!message) throw new AppError('message_not_found');
    return message;
  }

  // The message may be gone since it was loaded (its chat deleted): that is a 404, never a 500.
  private async reload(messageId: string): Promise<MessageEntity> {
    const message = await this.find(messageId);
    if (!message) throw new AppError('message_not_found');
    return message;
  }

  private find(messageId: string): Promise<MessageEntity | null> {
    return this.dataSource.getRepository(MessageEntity).findOneBy({ id: messageId });
  }
}
