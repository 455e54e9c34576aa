import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { Request, Response } from 'express';
import type { ManifestAttempt, Message, TurnResult } from '@parley/api-types';
import { AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import { ProblemFactory } from '../errors/problem.filter.js';
import { ChatEntity } from '../chats/chat.entity.js';
import { MessageEntity } from '../chats/message.entity.js';
import { toMessageDto } from '../chats/chat.mapper.js';
import { LocalTurns } from '../lifecycle/local-turns.js';
import { SseWriter, resumeOffset } from './sse-writer.js';
import { TurnStore } from './turn-store.js';

// How long a follower waits past a turn's deadline before calling the reply interrupted.
const FOLLOW_MARGIN_MS = 15_000;

/** Stopping a reply and following one, from any instance: both work through the database. */
@Injectable()
export class RepliesService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly store: TurnStore,
    private readonly local: LocalTurns,
    private readonly problems: ProblemFactory,
  ) {}

  async cancel(userId: string, chatId: string, messageId: string): Promise<Message> {
    const reply = await this.loadReply(userId, chatId, messageId);
    if (reply.role !== 'assistant') throw new AppError('message_not_cancellable');
    const running = this.local.get(messageId);
    const cancelled = await this.store.cancel(messageId, running?.text ?? null);
    if (cancelled) {
      // Here at once; on another instance at its next checkpoint.
      running?.abort(new AppError('turn_cancelled'));
      return toMessageDto(cancelled);
    }
    const current = await this.dataSource.getRepository(MessageEntity).findOneByOrFail({ id: messageId });
    if (current.status === 'cancelled') return toMessageDto(current);
    throw new AppError('message_not_cancellable');
  }

  /**
   * Streams a reply from where the client left off (Last-Event-ID): the text saved so far, then
   * what the checkpoints add, until the reply's terminal state.
   */
  async follow(userId: string, chatId: string, messageId: string, request: Request, response: Response): Promise<void> {
    const reply = await this.loadReply(userId, chatId, messageId);
    if (reply.role !== 'assistant') throw new AppError('message_not_found');
    const header = request.headers['last-event-id'];
    const offset = resumeOffset(typeof header === 'string' ? header : undefined, messageId);
    const sse = new SseWriter(response, messageId, offset);
    const userMessage = reply.replyToId
      ? await this.dataSource.getRepository(MessageEntity).findOneBy({ id: reply.replyToId })
      : null;
    if (offset === 0 && header === undefined && userMessage)
      sse.send('user_message', { message: toMessageDto(userMessage) });
    const giveUpAt = Date.now() + this.config.resilience.turnTimeoutMs + FOLLOW_MARGIN_MS;
    const interval = this.config.trust.checkpointIntervalMs;
    let closed = false;
    response.once('close', () => (closed = true));
    for (;;) {
      const current = await this.dataSource.getRepository(MessageEntity).findOneByOrFail({ id: messageId });
      if (current.content.length > sse.offset) sse.delta(current.content.slice(sse.offset));
      if (current.status === 'complete') {
        sse.send('done', await this.replayedResult(userId, userMessage, current));
        break;
      }
      if (current.status === 'failed' || current.status === 'cancelled') {
        sse.send('error', this.problems.build(new AppError(current.errorCode ?? 'turn_interrupted'), request).problem);
        break;
      }
      if (closed) return;
      if (Date.now() > giveUpAt) {
        sse.send('error', this.problems.build(new AppError('turn_interrupted'), request).problem);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, interval));
    }
    sse.end();
  }

  private async replayedResult(userId: string, user: MessageEntity | null, reply: MessageEntity): Promise<TurnResult> {
    const assistant = toMessageDto(reply);
    const attempts = (
      (reply.metadata?.manifest as { attempts?: ManifestAttempt[] } | undefined)?.attempts ?? []
    ).filter((a) => a.retryDelayMs !== null);
    return {
      userMessage: user ? toMessageDto(user) : assistant,
      assistantMessage: assistant,
      usage: assistant.usage,
      retries: attempts.length,
      provider: reply.provider,
      model: reply.model,
      degraded: reply.degraded,
      tokenBalance: await this.store.balance(this.dataSource.manager, userId),
    };
  }

  private async loadReply(userId: string, chatId: string, messageId: string): Promise<MessageEntity> {
    const owned = await this.dataSource.getRepository(ChatEntity).existsBy({ id: chatId, userId });
    if (!owned) throw new AppError('chat_not_found');
    const message = await this.dataSource.getRepository(MessageEntity).findOneBy({ id: messageId, chatId });
    if (!message) throw new AppError('message_not_found');
    return message;
  }
}
