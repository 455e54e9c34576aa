import { Injectable, Logger } from '@nestjs/common';
import type { ErrorCode, Problem, TurnResult } from '@parley/api-types';
import { toMessageDto } from '../../chats/chat.mapper.js';
import { IdempotencyService } from '../../idempotency/idempotency.service.js';
import { RealtimeEvents } from '../../realtime/realtime-events.js';
import { TurnFanoutSink } from '../../realtime/turn-fanout.sink.js';
import { GenerationMetrics } from '../generation.metrics.js';
import type { Turn } from '../turn.js';
import type { TurnSink } from '../turn-sink.js';
import { titleFrom } from '../turn.store.js';
import type { PreparedTurn } from './prepare.stage.js';

/**
 * Stage 5, publish: what the world hears of a turn once it is committed. The start (both
 * messages stored), and the end: the outcome recorded for the request's idempotency key (so a
 * repeat answers it), the turn's metrics and its one log line, then the terminal event and the
 * end of the stream. The terminal event is written whatever happens to the bookkeeping before
 * it: a client is never left without an end. Everything the turn publishes also reaches the
 * user's other tabs and devices, as the user's events (`sinkFor`).
 */
@Injectable()
export class PublishStage {
  private readonly logger = new Logger(PublishStage.name);
  private readonly turnLogger = new Logger('Turn');

  constructor(
    private readonly idempotency: IdempotencyService,
    private readonly metrics: GenerationMetrics,
    private readonly events: RealtimeEvents,
  ) {}

  /** Where a turn's events go: the client that asked for it, and the user's realtime events. */
  sinkFor(prepared: PreparedTurn, client: TurnSink): TurnSink {
    return new TurnFanoutSink(client, this.events, {
      userId: prepared.userId,
      chatId: prepared.chat.id,
      announcesUserMessage: prepared.kind === 'send' || prepared.kind === 'edit',
      pathChanged:
        prepared.kind === 'regenerate' ? 'assistantMessage' : prepared.kind === 'edit' ? 'userMessage' : undefined,
      continuesFrom: prepared.kind === 'continue' ? prepared.reply.content.length : undefined,
      // persist-before titles an untitled chat from its first message, in the same statement.
      newTitle: prepared.kind === 'send' && prepared.chat.title === null ? titleFrom(prepared.content) : null,
    });
  }

  started(turn: Turn): void {
    turn.publish({
      type: 'turn_started',
      chatId: turn.init.chatId,
      userMessage: toMessageDto(turn.init.userMessage, turn.init.alternatives?.user),
      assistantMessage: toMessageDto(turn.init.assistantMessage, turn.init.alternatives?.assistant),
    });
  }

  async done(turn: Turn, result: TurnResult): Promise<void> {
    turn.result = result;
    await this.recordOutcome(turn, 201, result);
    this.metrics.turnDuration.observe(
      { outcome: 'complete', provider: result.provider ?? 'none' },
      (Date.now() - turn.startedAt) / 1000,
    );
    if (!result.degraded) this.metrics.tokensCharged.inc(result.usage?.totalTokens ?? 0);
    this.log(turn, 'turn_completed', result.provider ?? 'none', null);
    turn.publish({ type: 'done', messageId: turn.messageId, result });
    turn.sink.end();
  }

  async failed(turn: Turn, problem: Problem): Promise<void> {
    await this.recordOutcome(turn, problem.status, problem);
    const provider = turn.attempts.at(-1)?.provider ?? 'none';
    const outcome = problem.code === 'turn_cancelled' ? 'cancelled' : 'failed';
    this.metrics.turnDuration.observe({ outcome, provider }, (Date.now() - turn.startedAt) / 1000);
    this.log(turn, 'turn_failed', provider, problem.code);
    turn.publish({ type: 'error', messageId: turn.messageId, problem });
    turn.sink.end();
  }

  retried(turn: Turn, delayMs: number, reason: ErrorCode): void {
    this.metrics.retries.inc({ reason });
    turn.publish({
      type: 'retry',
      messageId: turn.messageId,
      attempt: turn.retries + 1,
      delayMs: Math.round(delayMs),
      reason,
    });
  }

  // Best effort: the key already names the reply, so a repeat finds the outcome there anyway.
  private async recordOutcome(turn: Turn, status: number, body: unknown): Promise<void> {
    const recordId = turn.init.idempotencyRecordId;
    if (!recordId) return;
    try {
      await this.idempotency.complete(recordId, status, body);
    } catch (error) {
      this.logger.warn({ event: 'idempotency_outcome_not_stored', messageId: turn.messageId }, String(error));
    }
  }

  // One line per turn, with ids and outcome only: never the text.
  private log(turn: Turn, event: 'turn_completed' | 'turn_failed', provider: string, errorCode: string | null): void {
    this.turnLogger.log({
      event,
      chat_id: turn.init.chatId,
      user_id: turn.init.userId,
      character_id: turn.init.characterId,
      provider,
      error_code: errorCode,
      retry_count: turn.retries,
      duration_ms: Date.now() - turn.startedAt,
    });
  }
}
