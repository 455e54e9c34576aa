import { EventEmitter } from 'node:events';
import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { Response } from 'express';
import type { Locale, Problem, TurnResult } from '@parley/api-types';
import {
  CHAT,
  Connection,
  failureOf,
  messageEntity,
  problemOf,
  RecordingLogger,
  REPLY,
  turnResult,
  unitConfig,
  USER_MESSAGE,
} from '../../test/support/turn-fixtures.js';
import type { ChatEntity } from '../chats/chat.entity.js';
import type { MessageEntity } from '../chats/message.entity.js';
import { AppError } from '../errors/app-error.js';
import { ProblemFactory, ReplayedProblem } from '../errors/problem.filter.js';
import { Translator } from '../i18n/i18n.module.js';
import { parseIdempotencyKey } from '../idempotency/idempotency-key.js';
import type { BeginOptions, IdempotencyBegin, IdempotencyService } from '../idempotency/idempotency.service.js';
import { LocalTurns } from '../lifecycle/local-turns.js';
import { ProviderError } from '../providers/provider.port.js';
import { ChatBreakers } from '../resilience/chat-breakers.js';
import { RetryPolicy } from '../resilience/retry-policy.js';
import { Checkpoints } from './checkpoints.js';
import { DebugFaults, type DebugFault } from './debug-faults.js';
import type { RepliesService, ReplyOutcome } from './replies.service.js';
import { SseStream, type Position } from './sse-stream.js';
import type { PersistAfterStage } from './stages/persist-after.stage.js';
import type { PersistBeforeStage, StoredTurn } from './stages/persist-before.stage.js';
import type { PrepareStage, PreparedTurn } from './stages/prepare.stage.js';
import type { AnsweredAttempt, ProviderLoopStage } from './stages/provider-loop.stage.js';
import type { PublishStage } from './stages/publish.stage.js';
import type { TurnSink } from './turn-sink.js';
import type { Turn } from './turn.js';
import type { TurnCommand, TurnRequest } from './turn-command.js';
import { TurnPipeline } from './turn-pipeline.js';
import { TurnAdmission } from './admission/turn-admission.js';
import { MetricsService } from '../telemetry/metrics.service.js';
import { MemorySharedState } from '../../test/support/memory-shared-state.js';
import type { TurnStore } from './turn.store.js';
import type { TokenVersions } from '../auth/token-versions.js';

const UNATTENDED_MS = 1_000;
// The account's token version in these tests; a request at another one holds a stale token.
const CURRENT_VERSION = 3;

const configEnv = {
  TURN_TIMEOUT_MS: '30000',
  UNATTENDED_REPLY_MAX_MS: String(UNATTENDED_MS),
  CHECKPOINT_INTERVAL_MS: '60000',
  CHAT_BREAKER_THRESHOLD: '2',
  RETRY_MAX_ATTEMPTS: '2',
  RETRY_BASE_DELAY_MS: '0',
  RETRY_MAX_DELAY_MS: '0',
};
const config = unitConfig(configEnv);

// Lets queued callbacks run until `done` holds (no timers: the fakes answer on their own).
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !done(); i++) await new Promise((resolve) => setImmediate(resolve));
  expect(done()).toBe(true);
}

const faultsOn = unitConfig({ NODE_ENV: 'test', DEBUG_FAULTS: 'true' });

// The stages and the database-backed services are classes with private collaborators, so a fake
// cannot be assigned to one structurally: each fake implements the public methods the pipeline
// calls, checked against the real signatures by `satisfies`, and is cast once, here.
function as<T>(fake: Partial<T>): T {
  return fake as T;
}

// The stored messages of this chat, the reply answering the user's message.
function message(id: string, role: MessageEntity['role']): MessageEntity {
  return messageEntity(id, role, { chatId: CHAT, replyToId: role === 'user' ? null : USER_MESSAGE });
}

const chat: ChatEntity = {
  id: CHAT,
  userId: 'user-1',
  characterId: 'detective',
  title: null,
  personaId: null,
  greetingIndex: 0,
  lorebook: null,
  locale: 'zh' satisfies Locale,
  lastSeq: 1,
  activeLeafId: null,
  createdAt: new Date('2026-11-28T08:00:00Z'),
  updatedAt: new Date('2026-11-28T08:00:00Z'),
};

function prepared(command: TurnCommand): PreparedTurn {
  const base = {
    userId: 'user-1',
    chat,
    reserve: 1_500,
    prompt: {
      systemInstruction: 'You are Detective Harlan Grey.',
      messages: [{ role: 'user' as const, content: 'Who took the watch?' }],
      includedMessageIds: ['greeting'],
      omittedMessageIds: ['old'],
      personaVersion: 'detective@1',
    },
  };
  return command.kind === 'send'
    ? { ...base, kind: 'send', content: command.content }
    : { ...base, kind: 'regenerate', answering: message(USER_MESSAGE, 'user'), leaf: REPLY };
}

const stored: StoredTurn = {
  userMessage: message(USER_MESSAGE, 'user'),
  assistantMessage: message(REPLY, 'assistant'),
};

const committed = turnResult(stored);

class KeyTranslator extends Translator {
  translate(key: string, locale: Locale): string {
    return `${locale}:${key}`;
  }
}

type Script = {
  claim?: IdempotencyBegin;
  prepare?: () => void | Promise<void>;
  persist?: () => void;
  attempt?: (turn: Turn) => Promise<AnsweredAttempt>;
  complete?: () => Promise<TurnResult>;
  abandonFails?: boolean;
  completeFails?: boolean;
  outcome?: ReplyOutcome;
  started?: () => void;
};

/**
 * The pipeline with every stage and database-backed service faked: each writes what it was
 * asked into one log, so the order of the stages shows. The breakers, the retry policy, the
 * problem factory, the checkpoints' scheduling and the list of local turns are the real ones.
 */
function setUp(script: Script = {}, settings = config) {
  const log: string[] = [];
  const faults: unknown[] = [];
  const claims: Array<{ key: string; fingerprint: string; options: BeginOptions | undefined }> = [];
  const completed: Array<{ recordId: string; status: number; body: unknown }> = [];
  const followed: unknown[][] = [];
  const failures: Problem[] = [];
  const turns: Turn[] = [];
  const versionChecks: number[] = [];

  const versions = {
    check: async (_userId: string, version: number) => {
      versionChecks.push(version);
      if (version !== CURRENT_VERSION) throw new AppError('unauthenticated');
    },
  } satisfies Partial<TokenVersions>;

  const idempotency = {
    parseKey: parseIdempotencyKey,
    begin: async (_userId: string, key: string, fingerprint: string, options?: BeginOptions) => {
      claims.push({ key, fingerprint, options });
      return script.claim ?? { kind: 'started', recordId: 'record-1' };
    },
    complete: async (recordId: string, status: number, body: unknown) => {
      if (script.completeFails) throw new Error('database unavailable');
      completed.push({ recordId, status, body });
      log.push(`idempotency.complete:${status}`);
    },
    abandon: async (recordId: string) => {
      log.push(`idempotency.abandon:${recordId}`);
      if (script.abandonFails) throw new Error('database unavailable');
    },
  } satisfies Partial<IdempotencyService>;

  const prepare = {
    prepare: async (_request: TurnRequest, command: TurnCommand, fault: DebugFault | undefined) => {
      log.push('prepare');
      faults.push(fault);
      await script.prepare?.();
      return prepared(command);
    },
  } satisfies Partial<PrepareStage>;

  const persistBefore = {
    persist: async (_prepared: PreparedTurn, recordId: string | null) => {
      log.push(`persistBefore:${recordId}`);
      script.persist?.();
      return stored;
    },
  } satisfies Partial<PersistBeforeStage>;

  const providers = {
    attempt: async (turn: Turn) => {
      log.push('attempt');
      turns.push(turn);
      return script.attempt ? script.attempt(turn) : { provider: demo, reply: answer, degraded: false };
    },
  } satisfies Partial<ProviderLoopStage>;

  const persistAfter = {
    complete: async () => {
      log.push('persistAfter.complete');
      return script.complete ? script.complete() : committed;
    },
    fail: async (_turn: Turn, failure: Problem) => {
      log.push(`persistAfter.fail:${failure.code}`);
      failures.push(failure);
    },
  } satisfies Partial<PersistAfterStage>;

  const publish = {
    started: (turn: Turn) => {
      log.push('publish.started');
      turns.push(turn);
      script.started?.();
    },
    done: async (_turn: Turn, result: TurnResult) => {
      log.push(`publish.done:${result === committed ? 'committed' : 'other'}`);
    },
    failed: async (_turn: Turn, failure: Problem) => {
      log.push(`publish.failed:${failure.code}`);
    },
    retried: (_turn: Turn, delayMs: number, reason: string) => {
      log.push(`publish.retried:${reason}`);
    },
    // The client's own sink: the user's other sockets are the fan-out's concern (its own tests).
    sinkFor: (_prepared: unknown, sink: TurnSink) => sink,
  } satisfies Partial<PublishStage>;

  const replies = {
    outcome: async (...args: unknown[]) => {
      log.push('replies.outcome');
      followed.push(args);
      return script.outcome;
    },
    follow: async (...args: unknown[]) => {
      log.push('replies.follow');
      followed.push(args);
    },
  } satisfies Partial<RepliesService>;

  // A database adapter: the checkpoints' store answers that every reply is still running.
  const store = {
    checkpointMany: async (writes: Array<{ id: string }>, reads: string[]) =>
      new Set([...writes.map((w) => w.id), ...reads]),
  } satisfies Partial<TurnStore>;

  const shared = new MemorySharedState();
  const breakers = new ChatBreakers(settings, shared);
  const local = new LocalTurns();
  const checkpoints = new Checkpoints(store as unknown as TurnStore, settings);
  const pipeline = new TurnPipeline(
    settings,
    as<IdempotencyService>(idempotency),
    breakers,
    new RetryPolicy(settings),
    as<PrepareStage>(prepare),
    as<PersistBeforeStage>(persistBefore),
    as<ProviderLoopStage>(providers),
    as<PersistAfterStage>(persistAfter),
    as<PublishStage>(publish),
    as<RepliesService>(replies),
    new ProblemFactory(new KeyTranslator()),
    checkpoints,
    local,
    new DebugFaults(settings),
    new TurnAdmission(settings, new MetricsService()),
    as<TokenVersions>(versions),
  );
  return {
    pipeline,
    log,
    claims,
    completed,
    followed,
    failures,
    turns,
    breakers,
    shared,
    local,
    checkpoints,
    faults,
    versionChecks,
  };
}

const demo = {
  name: 'demo',
  defaultModel: 'm',
  isDemo: true,
  stream: () => (async function* () {})(),
  generate: () => Promise.reject(new Error('unused')),
  probe: () => Promise.resolve(),
};
const answer: AnsweredAttempt['reply'] = {
  type: 'done',
  finishReason: 'stop',
  usage: { promptTokens: 10, completionTokens: 5 },
  model: 'm',
  text: 'Hello',
};

function request(overrides: Partial<TurnRequest> = {}): TurnRequest {
  return {
    userId: 'user-1',
    tokenVersion: CURRENT_VERSION,
    requestId: 'request-2',
    acceptLanguage: 'zh-CN',
    idempotencyKey: undefined,
    lastEventId: undefined,
    debugFault: undefined,
    ...overrides,
  };
}

const send: TurnCommand = { kind: 'send', chatId: CHAT, content: 'Who took the watch?' };
const regenerate: TurnCommand = { kind: 'regenerate', chatId: CHAT, messageId: REPLY };

/** The smallest response an SseStream can be opened on (the fake stages write nothing to it). */
class QuietResponse extends EventEmitter {
  writableEnded = false;
  writableFinished = false;
  destroyed = false;
}

function opener() {
  const offsets: number[] = [];
  const streams: SseStream[] = [];
  const open = (from: Position): SseStream => {
    offsets.push(from.text);
    const stream = new SseStream(new QuietResponse() as unknown as Response, from);
    streams.push(stream);
    return stream;
  };
  return { open, offsets, streams };
}

const failing = (error: unknown) => () => Promise.reject(error);

describe(TurnPipeline.name, () => {
  const logger = new RecordingLogger();
  beforeAll(() => Logger.overrideLogger(logger));
  afterEach(() => jest.useRealTimers());

  describe('json', () => {
    it('never gives the key back, and ends the stored reply, when starting the stored turn fails', async () => {
      const { pipeline, log, local } = setUp({
        started: () => {
          throw new Error('a bug after persist-before');
        },
      });

      await failureOf(pipeline.json(request({ idempotencyKey: 'key-1' }), send, new Connection()));

      expect(log.filter((entry) => entry.startsWith('idempotency.abandon'))).toEqual([]);
      expect(log).toContain('persistAfter.fail:internal_error');
      expect(local.size).toBe(0);
    });

    it('admits one start at a time with one slot: the next waits for persist-before, not for the provider', async () => {
      let answerNow!: () => void;
      const answered = new Promise<void>((resolve) => (answerNow = resolve));
      const { pipeline, log } = setUp(
        {
          attempt: async () => {
            await answered;
            return { provider: demo, reply: answer, degraded: false };
          },
        },
        unitConfig({ ...configEnv, TURN_ADMISSION_CONCURRENCY: '1' }),
      );

      const first = pipeline.json(request(), send, new Connection());
      const second = pipeline.json(request({ userId: 'user-2' }), send, new Connection());
      // Both reach the provider while the first is still waiting for it: the slot was given back.
      await until(() => log.filter((entry) => entry === 'attempt').length === 2);
      expect(log.slice(0, 4)).toEqual(['prepare', 'persistBefore:null', 'publish.started', 'attempt']);
      answerNow();
      await Promise.all([first, second]);
    });

    it('answers 503 database_unavailable with Retry-After, before any stage, when admission is full', async () => {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const { pipeline, log } = setUp(
        { prepare: () => held },
        unitConfig({ ...configEnv, TURN_ADMISSION_CONCURRENCY: '1', TURN_ADMISSION_QUEUE_MAX: '0' }),
      );

      // The one slot is held by a start whose prepare has not returned yet.
      const first = pipeline.json(request(), send, new Connection());
      await until(() => log.includes('prepare'));
      const error = await failureOf(pipeline.json(request({ userId: 'user-2' }), send, new Connection()));

      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({ code: 'database_unavailable', details: { retryAfterSeconds: 15 } });
      expect(log.filter((entry) => entry === 'prepare')).toHaveLength(1);
      release();
      await first;
    });

    it('runs the stages in order and answers the committed turn', async () => {
      const { pipeline, log, claims } = setUp();

      const result = await pipeline.json(request(), send, new Connection());

      expect(result).toBe(committed);
      expect(log).toEqual([
        'prepare',
        'persistBefore:null',
        'publish.started',
        'attempt',
        'persistAfter.complete',
        'publish.done:committed',
      ]);
      expect(claims).toEqual([]);
    });

    it('builds the turn from what prepare and persist-before gave, the stored user message in the prompt of a send', async () => {
      const { pipeline, turns } = setUp({ claim: { kind: 'started', recordId: 'record-1' } });

      await pipeline.json(request({ idempotencyKey: 'key-1' }), send, new Connection());

      const { init } = turns[0];
      expect(init).toMatchObject({
        userId: 'user-1',
        chatId: CHAT,
        characterId: 'detective',
        locale: 'zh',
        userMessage: stored.userMessage,
        assistantMessage: stored.assistantMessage,
        reserve: 1_500,
        timeoutMs: 30_000,
        idempotencyRecordId: 'record-1',
        fault: undefined,
      });
      expect(init.prompt.includedMessageIds).toEqual(['greeting', USER_MESSAGE]);
      expect(init.prompt.omittedMessageIds).toEqual(['old']);
    });

    it('leaves the prompt’s messages as they are for a regenerate (the user message was in it already)', async () => {
      const { pipeline, turns } = setUp();

      await pipeline.json(request(), regenerate, new Connection());

      expect(turns[0].init.prompt.includedMessageIds).toEqual(['greeting']);
    });

    it('lists the turn as running on this instance and checkpoints it until it settles', async () => {
      const seen: Array<{ local: boolean; checkpointed: number; aborted: boolean }> = [];
      const { pipeline, local, checkpoints } = setUp({
        attempt: async (turn) => {
          seen.push({ local: local.get(REPLY) === turn, checkpointed: checkpoints.size, aborted: turn.signal.aborted });
          return { provider: demo, reply: answer, degraded: false };
        },
      });

      await pipeline.json(request(), send, new Connection());

      expect(seen).toEqual([{ local: true, checkpointed: 1, aborted: false }]);
      expect(local.size).toBe(0);
      expect(checkpoints.size).toBe(0);
    });

    it('claims the key with the request’s fingerprint and a stale limit past the turn’s deadline', async () => {
      const { pipeline, claims, log } = setUp();

      await pipeline.json(request({ idempotencyKey: '"key-1"' }), send, new Connection());

      expect(claims).toEqual([
        { key: 'key-1', fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/), options: { staleInFlightMs: 45_000 } },
      ]);
      expect(log[1]).toBe('persistBefore:record-1');
    });

    it('checks the token’s version before claiming a key: a stale token is refused and the key left alone', async () => {
      const { pipeline, claims, log, versionChecks } = setUp({
        claim: { kind: 'replay', status: 201, body: committed, messageId: REPLY },
      });

      const error = await failureOf(
        pipeline.json(request({ idempotencyKey: 'key-1', tokenVersion: CURRENT_VERSION - 1 }), send, new Connection()),
      );

      expect(error).toMatchObject({ code: 'unauthenticated' });
      expect(versionChecks).toEqual([CURRENT_VERSION - 1]);
      expect(claims).toEqual([]);
      expect(log).toEqual([]);
    });

    it('leaves the token’s version to prepare’s statement when the request carries no key', async () => {
      const { pipeline, versionChecks } = setUp();

      await pipeline.json(request({ tokenVersion: CURRENT_VERSION - 1 }), send, new Connection());

      expect(versionChecks).toEqual([]);
    });

    it('refuses a malformed key before any stage runs', async () => {
      const { pipeline, log } = setUp();

      const error = await failureOf(pipeline.json(request({ idempotencyKey: ['a', 'b'] }), send, new Connection()));

      expect(error).toMatchObject({ code: 'validation_failed' });
      expect(log).toEqual([]);
    });

    it('gives the key back and stores nothing when prepare fails', async () => {
      const refused = new AppError('chat_not_found');
      const { pipeline, log } = setUp({
        prepare: () => {
          throw refused;
        },
      });

      expect(await failureOf(pipeline.json(request({ idempotencyKey: 'key-1' }), send, new Connection()))).toBe(
        refused,
      );
      expect(log).toEqual(['prepare', 'idempotency.abandon:record-1']);
    });

    it('gives the key back when persist-before fails (it stored nothing)', async () => {
      const refused = new AppError('insufficient_tokens');
      const { pipeline, log } = setUp({
        persist: () => {
          throw refused;
        },
      });

      expect(await failureOf(pipeline.json(request({ idempotencyKey: 'key-1' }), send, new Connection()))).toBe(
        refused,
      );
      expect(log).toEqual(['prepare', 'persistBefore:record-1', 'idempotency.abandon:record-1']);
    });

    it('answers the stage’s failure, not the bookkeeping’s, when giving the key back fails too', async () => {
      const refused = new AppError('chat_not_found');
      const { pipeline } = setUp({
        abandonFails: true,
        prepare: () => {
          throw refused;
        },
      });

      expect(await failureOf(pipeline.json(request({ idempotencyKey: 'key-1' }), send, new Connection()))).toBe(
        refused,
      );
      expect(logger.warnings).toContainEqual({ event: 'idempotency_abandon_failed' });
    });

    it('has no key to give back when the request carried none', async () => {
      const { pipeline, log } = setUp({
        prepare: () => {
          throw new AppError('chat_not_found');
        },
      });

      await failureOf(pipeline.json(request(), send, new Connection()));

      expect(log).toEqual(['prepare']);
    });

    it('never gives the key back once the turn is stored, and records the failure, when the providers fail', async () => {
      const error = new ProviderError('provider_invalid_request', 'demo', { retryable: false });
      const { pipeline, log, failures } = setUp({ attempt: failing(error) });

      expect(await failureOf(pipeline.json(request({ idempotencyKey: 'key-1' }), send, new Connection()))).toBe(error);
      expect(log).toEqual([
        'prepare',
        'persistBefore:record-1',
        'publish.started',
        'attempt',
        'persistAfter.fail:provider_invalid_request',
        'publish.failed:provider_invalid_request',
      ]);
      expect(failures[0]).toMatchObject({ requestId: 'request-2', message: 'zh:errors.provider_invalid_request' });
    });

    it('settles the turn when it fails: no longer listed as running nor checkpointed', async () => {
      const { pipeline, local, checkpoints } = setUp({ attempt: failing(new AppError('chat_not_found')) });

      await failureOf(pipeline.json(request(), send, new Connection()));

      expect(local.size).toBe(0);
      expect(checkpoints.size).toBe(0);
    });

    it('never gives the key back, and records the failure, when the commit fails', async () => {
      const { pipeline, log } = setUp({ complete: failing(new AppError('database_unavailable')) });

      await failureOf(pipeline.json(request({ idempotencyKey: 'key-1' }), send, new Connection()));

      expect(log.slice(3)).toEqual([
        'attempt',
        'persistAfter.complete',
        'persistAfter.fail:database_unavailable',
        'publish.failed:database_unavailable',
      ]);
      expect(log.filter((entry) => entry.startsWith('idempotency.abandon'))).toEqual([]);
    });

    it('announces a retry through the publish stage, with the failure’s code, when an attempt is retried', async () => {
      let calls = 0;
      const { pipeline, log, turns } = setUp({
        attempt: async () => {
          if (++calls === 1) throw new ProviderError('stream_stalled', 'demo', { retryable: true });
          return { provider: demo, reply: answer, degraded: false };
        },
      });

      await pipeline.json(request(), send, new Connection());

      expect(log.slice(3, 6)).toEqual(['attempt', 'publish.retried:stream_stalled', 'attempt']);
      expect(turns[0].retries).toBe(1);
    });

    it('fails fast with breaker_open before prepare, and gives the key back, when the chat’s breaker is open', async () => {
      const { pipeline, log, breakers } = setUp();
      await breakers.trip(CHAT);

      const error = await failureOf(pipeline.json(request({ idempotencyKey: 'key-1' }), send, new Connection()));

      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({ code: 'breaker_open', details: { breakerState: 'open' } });
      expect(log).toEqual(['idempotency.abandon:record-1']);
    });

    it('trips the chat’s breaker, and fails fast on it, when the breaker debug fault is honoured', async () => {
      const { pipeline, log, shared } = setUp({}, faultsOn);

      const error = await failureOf(pipeline.json(request({ debugFault: 'breaker' }), send, new Connection()));

      expect(error).toMatchObject({ code: 'breaker_open' });
      expect(shared.stateOf(CHAT)).toBe('open');
      expect(log).toEqual([]);
    });

    it('hands an honoured debug fault to prepare and to the turn', async () => {
      const { pipeline, faults, turns } = setUp({}, faultsOn);

      await pipeline.json(request({ debugFault: 'provider_503' }), send, new Connection());

      expect(faults).toEqual(['provider_503']);
      expect(turns[0].init.fault).toBe('provider_503');
    });

    it('ignores a debug fault when faults are off', async () => {
      const { pipeline, faults, shared } = setUp();

      expect(await pipeline.json(request({ debugFault: 'breaker' }), send, new Connection())).toBe(committed);
      expect(faults).toEqual([undefined]);
      expect(shared.stateOf(CHAT)).toBe('closed');
    });

    it('runs the providers under the chat’s breaker, so failing turns open it', async () => {
      const { pipeline, log } = setUp({
        attempt: failing(new ProviderError('provider_unavailable', 'demo', { retryable: false })),
      });

      for (let i = 0; i < 3; i++) await failureOf(pipeline.json(request(), send, new Connection()));

      expect(log.filter((entry) => entry === 'prepare')).toHaveLength(2);
    });

    it('ends the turn at the unattended limit, as turn_timeout, when the client goes away', async () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
      const connection = new Connection();
      let reached = false;
      const { pipeline, log } = setUp({
        attempt: (turn) =>
          new Promise((_, reject) => {
            reached = true;
            turn.signal.addEventListener('abort', () => reject(turn.signal.reason as Error));
          }),
      });

      const running = failureOf(pipeline.json(request(), send, connection));
      await jest.advanceTimersByTimeAsync(0);
      expect(reached).toBe(true);
      connection.emit('close');
      await jest.advanceTimersByTimeAsync(UNATTENDED_MS - 1);
      expect(log.at(-1)).toBe('attempt');
      await jest.advanceTimersByTimeAsync(1);

      expect(await running).toMatchObject({ code: 'turn_timeout' });
      expect(log.at(-1)).toBe('publish.failed:turn_timeout');
    });

    it('answers the stored body, generating nothing, when the key was answered before', async () => {
      const body = { ...committed, tokenBalance: 1 };
      const { pipeline, log } = setUp({ claim: { kind: 'replay', status: 201, body, messageId: REPLY } });

      expect(await pipeline.json(request({ idempotencyKey: 'key-1' }), send, new Connection())).toBe(body);
      expect(log).toEqual([]);
    });

    it('throws the stored problem as a ReplayedProblem when the key was answered with an error', async () => {
      const recorded = problemOf('insufficient_tokens', 402);
      const { pipeline, log } = setUp({ claim: { kind: 'replay', status: 402, body: recorded, messageId: null } });

      const error = await failureOf(pipeline.json(request({ idempotencyKey: 'key-1' }), send, new Connection()));

      expect(error).toBeInstanceOf(ReplayedProblem);
      expect((error as ReplayedProblem).problem).toBe(recorded);
      expect(log).toEqual([]);
    });

    it('answers 409 idempotency_key_in_flight, retry after 1 s, when the first request’s reply is still running', async () => {
      const { pipeline, log, completed, followed } = setUp({
        claim: { kind: 'attached', recordId: 'record-1', messageId: REPLY },
      });

      const error = await failureOf(pipeline.json(request({ idempotencyKey: 'key-1' }), send, new Connection()));

      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({
        code: 'idempotency_key_in_flight',
        status: 409,
        details: { retryAfterSeconds: 1 },
      });
      expect(log).toEqual(['replies.outcome']);
      expect(followed).toEqual([['user-1', CHAT, REPLY, { requestId: 'request-2', acceptLanguage: 'zh-CN' }]]);
      expect(completed).toEqual([]);
    });

    it('records and answers the outcome when the first request’s reply has finished', async () => {
      const { pipeline, log, completed } = setUp({
        claim: { kind: 'attached', recordId: 'record-1', messageId: REPLY },
        outcome: { kind: 'done', result: committed },
      });

      expect(await pipeline.json(request({ idempotencyKey: 'key-1' }), send, new Connection())).toBe(committed);
      expect(completed).toEqual([{ recordId: 'record-1', status: 201, body: committed }]);
      expect(log).toEqual(['replies.outcome', 'idempotency.complete:201']);
    });

    it('records and throws the problem when the first request’s reply has failed', async () => {
      const failed = problemOf('provider_unavailable', 503);
      const { pipeline, completed } = setUp({
        claim: { kind: 'attached', recordId: 'record-1', messageId: REPLY },
        outcome: { kind: 'error', problem: failed },
      });

      const error = await failureOf(pipeline.json(request({ idempotencyKey: 'key-1' }), send, new Connection()));

      expect(error).toBeInstanceOf(ReplayedProblem);
      expect((error as ReplayedProblem).problem).toBe(failed);
      expect(completed).toEqual([{ recordId: 'record-1', status: 503, body: failed }]);
    });

    it('still answers the finished reply’s outcome when it cannot be recorded', async () => {
      const { pipeline } = setUp({
        claim: { kind: 'attached', recordId: 'record-1', messageId: REPLY },
        outcome: { kind: 'done', result: committed },
        completeFails: true,
      });

      expect(await pipeline.json(request({ idempotencyKey: 'key-1' }), send, new Connection())).toBe(committed);
    });
  });

  describe('stream', () => {
    it('runs the turn on a stream opened at offset 0, and publishes a failure rather than throwing it', async () => {
      const { open, offsets, streams } = opener();
      const { pipeline, log, turns } = setUp({ attempt: failing(new AppError('no_provider_available')) });

      await pipeline.stream(request(), send, open);

      expect(offsets).toEqual([0]);
      expect(turns[0].sink).toBe(streams[0]);
      expect(log.at(-1)).toBe('publish.failed:no_provider_available');
    });

    it('throws a failure from before the turn started, having published nothing', async () => {
      const refused = new AppError('chat_not_found');
      const { open } = opener();
      const { pipeline, log } = setUp({
        prepare: () => {
          throw refused;
        },
      });

      expect(await failureOf(pipeline.stream(request(), send, open))).toBe(refused);
      expect(log.filter((entry) => entry.startsWith('publish'))).toEqual([]);
    });

    it.each([
      ['attached to a reply still running', { kind: 'attached', recordId: 'record-1', messageId: REPLY } as const],
      ['answered before', { kind: 'replay', status: 201, body: committed, messageId: REPLY } as const],
    ])('follows the first request’s reply instead of generating, when the key was %s', async (_case, claim) => {
      const { open, offsets } = opener();
      const { pipeline, log, followed } = setUp({ claim });
      const lastEventId = `${REPLY}:5.3`;

      await pipeline.stream(request({ idempotencyKey: 'key-1', lastEventId }), send, open);

      expect(log).toEqual(['replies.follow']);
      expect(followed).toEqual([
        ['user-1', CHAT, REPLY, lastEventId, open, { requestId: 'request-2', acceptLanguage: 'zh-CN' }],
      ]);
      expect(offsets).toEqual([]);
    });

    it('throws the stored problem when the key was answered with an error and no reply', async () => {
      const recorded = problemOf('insufficient_tokens', 402);
      const { open } = opener();
      const { pipeline, log } = setUp({ claim: { kind: 'replay', status: 402, body: recorded, messageId: null } });

      const error = await failureOf(pipeline.stream(request({ idempotencyKey: 'key-1' }), send, open));

      expect(error).toBeInstanceOf(ReplayedProblem);
      expect((error as ReplayedProblem).problem).toBe(recorded);
      expect(log).toEqual([]);
    });

    it('fails as internal_error when the key was answered with a success but no reply', async () => {
      const { open } = opener();
      const { pipeline } = setUp({ claim: { kind: 'replay', status: 201, body: committed, messageId: null } });

      expect(await failureOf(pipeline.stream(request({ idempotencyKey: 'key-1' }), send, open))).toMatchObject({
        code: 'internal_error',
      });
    });
  });

  describe('fingerprint', () => {
    async function fingerprintOf(form: 'json' | 'stream', command: TurnCommand): Promise<string> {
      const { pipeline, claims } = setUp({ claim: { kind: 'replay', status: 201, body: committed, messageId: REPLY } });
      const asked = request({ idempotencyKey: 'key-1' });
      if (form === 'json') await pipeline.json(asked, command, new Connection());
      else await pipeline.stream(asked, command, opener().open);
      return claims[0].fingerprint;
    }

    it('is the same for the JSON and the streaming form of one action, and differs between actions', async () => {
      const other: TurnCommand = { ...send, content: 'Who took the hat?' };
      const elsewhere: TurnCommand = { ...send, chatId: 'another-chat' };
      const otherReply: TurnCommand = { ...regenerate, messageId: USER_MESSAGE };

      const sendJson = await fingerprintOf('json', send);
      const regenerateJson = await fingerprintOf('json', regenerate);
      expect(await fingerprintOf('stream', send)).toBe(sendJson);
      expect(await fingerprintOf('stream', regenerate)).toBe(regenerateJson);

      const all = [sendJson, regenerateJson];
      for (const command of [other, elsewhere, otherReply]) all.push(await fingerprintOf('json', command));
      expect(new Set(all).size).toBe(all.length);
    });
  });
});
