import { Logger } from '@nestjs/common';
import type { StreamEvent, TurnResult } from '@parley/api-types';
import {
  failedAttempt,
  generationMetrics,
  messageEntity,
  problemOf,
  RecordingLogger,
  RecordingSink,
  REPLY,
  turnInit,
  turnResult,
  unitConfig,
  USER_MESSAGE,
} from '../../../test/support/turn-fixtures.js';
import { toMessageDto } from '../../chats/chat.mapper.js';
import type { IdempotencyService } from '../../idempotency/idempotency.service.js';
import type { GenerationMetrics } from '../generation.metrics.js';
import { Turn } from '../turn.js';
import type { RealtimeEvents } from '../../realtime/realtime-events.js';
import { PublishStage } from './publish.stage.js';

const config = unitConfig();

/** A sink that writes what happens into the shared log too, so the order across collaborators shows. */
class LoggingSink extends RecordingSink {
  constructor(private readonly log: string[]) {
    super();
  }

  override send(event: StreamEvent): void {
    super.send(event);
    this.log.push(`event:${event.type}`);
  }

  override end(): void {
    this.log.push('end');
  }
}

/** The idempotency bookkeeping (a database adapter): records outcomes into the log, or fails to. */
function idempotency(log: string[], fails: boolean) {
  const recorded: Array<{ recordId: string; status: number; body: unknown }> = [];
  const service = {
    complete: async (recordId: string, status: number, body: unknown): Promise<void> => {
      // A round trip to the database: the outcome is recorded a turn of the event loop later.
      await new Promise((resolve) => setImmediate(resolve));
      if (fails) throw new Error('database unavailable');
      recorded.push({ recordId, status, body });
      log.push(`recorded:${status}`);
    },
  } satisfies Pick<IdempotencyService, 'complete'>;
  return { service: service as unknown as IdempotencyService, recorded };
}

function setUp(options: { recordId?: string | null; recordingFails?: boolean } = {}) {
  const log: string[] = [];
  const { service, recorded } = idempotency(log, options.recordingFails ?? false);
  const metrics = generationMetrics(config);
  const sink = new LoggingSink(log);
  const turn = new Turn(
    turnInit({ idempotencyRecordId: options.recordId === undefined ? 'record-1' : options.recordId }),
    sink,
  );
  turn.settle();
  return {
    stage: new PublishStage(service, metrics, { publish: () => undefined } as unknown as RealtimeEvents),
    turn,
    sink,
    log,
    recorded,
    metrics,
  };
}

const stored = {
  userMessage: messageEntity(USER_MESSAGE, 'user'),
  assistantMessage: messageEntity(REPLY, 'assistant'),
};
const result = (overrides: Partial<TurnResult> = {}) => turnResult(stored, overrides);

const problem = problemOf('provider_unavailable', 503, { retryable: true, retryAfterSeconds: 5 });

async function turnCounts(metrics: GenerationMetrics): Promise<Array<[Record<string, unknown>, number]>> {
  return (await metrics.turnDuration.get()).values
    .filter((v) => v.metricName === 'parley_turn_duration_seconds_count')
    .map((v) => [{ ...v.labels }, v.value]);
}

describe(PublishStage.name, () => {
  const logger = new RecordingLogger();
  beforeAll(() => Logger.overrideLogger(logger));
  beforeEach(() => logger.lines.splice(0));
  describe('started', () => {
    it('publishes both stored messages as the turn’s first event', () => {
      const { stage, turn, sink } = setUp();

      stage.started(turn);

      expect(sink.events).toEqual([
        {
          type: 'turn_started',
          chatId: 'chat-1',
          userMessage: toMessageDto(turn.init.userMessage),
          assistantMessage: toMessageDto(turn.init.assistantMessage),
        },
      ]);
    });
  });

  describe('done', () => {
    it('records the outcome for the idempotency key, then writes done and ends the stream', async () => {
      const { stage, turn, sink, log, recorded, metrics } = setUp();
      const committed = result();

      await stage.done(turn, committed);

      expect(log).toEqual(['recorded:201', 'event:done', 'end']);
      expect(recorded).toEqual([{ recordId: 'record-1', status: 201, body: committed }]);
      expect(await turnCounts(metrics)).toEqual([[{ outcome: 'complete', provider: 'demo' }, 1]]);
      expect(sink.events).toEqual([{ type: 'done', messageId: REPLY, result: committed }]);
      expect(turn.result).toBe(committed);
    });

    it('logs one line for the turn, with ids and outcome and never the reply’s text', async () => {
      const { stage, turn } = setUp();
      turn.retries = 2;

      await stage.done(turn, result());

      expect(logger.lines).toEqual([
        {
          level: 'log',
          context: 'Turn',
          message: {
            event: 'turn_completed',
            chat_id: 'chat-1',
            user_id: 'user-1',
            character_id: 'detective',
            provider: 'demo',
            error_code: null,
            retry_count: 2,
            duration_ms: expect.any(Number),
          },
        },
      ]);
      expect(JSON.stringify(logger.lines)).not.toContain('Hello');
    });

    it('still writes done and ends the stream when the outcome cannot be recorded', async () => {
      const { stage, turn, log } = setUp({ recordingFails: true });

      await stage.done(turn, result());

      expect(log).toEqual(['event:done', 'end']);
      expect(logger.lines).toContainEqual(
        expect.objectContaining({
          level: 'warn',
          message: expect.objectContaining({ event: 'idempotency_outcome_not_stored' }),
        }),
      );
    });

    it('records nothing when the request had no idempotency key', async () => {
      const { stage, turn, log, recorded } = setUp({ recordId: null });

      await stage.done(turn, result());

      expect(recorded).toEqual([]);
      expect(log).toEqual(['event:done', 'end']);
    });

    it('counts the tokens charged, and none for a degraded reply', async () => {
      const charged = setUp();
      await charged.stage.done(charged.turn, result());
      expect((await charged.metrics.tokensCharged.get()).values[0].value).toBe(15);

      const degraded = setUp();
      await degraded.stage.done(degraded.turn, result({ degraded: true }));
      expect((await degraded.metrics.tokensCharged.get()).values[0]?.value ?? 0).toBe(0);
    });
  });

  describe('failed', () => {
    it('records the problem with its status, then writes error and ends the stream', async () => {
      const { stage, turn, sink, log, recorded } = setUp();

      await stage.failed(turn, problem);

      expect(log).toEqual(['recorded:503', 'event:error', 'end']);
      expect(recorded).toEqual([{ recordId: 'record-1', status: 503, body: problem }]);
      expect(sink.events).toEqual([{ type: 'error', messageId: REPLY, problem }]);
    });

    it('still writes error and ends the stream when the outcome cannot be recorded', async () => {
      const { stage, turn, log } = setUp({ recordingFails: true });

      await stage.failed(turn, problem);

      expect(log).toEqual(['event:error', 'end']);
    });

    it('counts a stopped turn as cancelled and a failed one as failed, under the last provider tried', async () => {
      const { stage, turn, metrics } = setUp();

      await stage.failed(turn, { ...problem, code: 'turn_cancelled', status: 409 });
      for (const [attempt, provider] of [
        [1, 'openai-compatible'],
        [2, 'gemini'],
      ] as const) {
        turn.attempts.push(failedAttempt(attempt, { provider, failover: attempt > 1 }));
      }
      await stage.failed(turn, problem);

      const counts = await turnCounts(metrics);
      expect(counts).toEqual(
        expect.arrayContaining([
          [{ outcome: 'cancelled', provider: 'none' }, 1],
          [{ outcome: 'failed', provider: 'gemini' }, 1],
        ]),
      );
      expect(counts).toHaveLength(2);
      expect(logger.lines.at(-1)?.message).toMatchObject({
        event: 'turn_failed',
        provider: 'gemini',
        error_code: 'provider_unavailable',
      });
    });
  });

  describe('retried', () => {
    it('announces the number of the attempt about to be made, the delay in whole ms and the reason', async () => {
      const { stage, turn, sink, metrics } = setUp();
      turn.retries = 1;

      stage.retried(turn, 1234.4, 'provider_rate_limited');
      turn.retries = 2;
      stage.retried(turn, 2000, 'stream_stalled');

      expect(sink.events).toEqual([
        { type: 'retry', messageId: REPLY, attempt: 2, delayMs: 1234, reason: 'provider_rate_limited' },
        { type: 'retry', messageId: REPLY, attempt: 3, delayMs: 2000, reason: 'stream_stalled' },
      ]);
      expect((await metrics.retries.get()).values.map((v) => [v.labels.reason, v.value])).toEqual([
        ['provider_rate_limited', 1],
        ['stream_stalled', 1],
      ]);
    });
  });
});
