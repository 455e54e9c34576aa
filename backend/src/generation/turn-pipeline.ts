import { Injectable, Logger } from '@nestjs/common';
import type { Problem, TurnResult } from '@parley/api-types';
import { AppConfig } from '../config/app-config.js';
import { TokenVersions } from '../auth/token-versions.js';
import { AppError } from '../errors/app-error.js';
import { ProblemFactory, ReplayedProblem, toAppError, type ProblemContext } from '../errors/problem.filter.js';
import { IdempotencyService, type IdempotencyBegin } from '../idempotency/idempotency.service.js';
import { requestFingerprint } from '../idempotency/request-fingerprint.js';
import { ChatBreakers, type Admitted } from '../resilience/chat-breakers.js';
import { RetryPolicy } from '../resilience/retry-policy.js';
import { LocalTurns } from '../lifecycle/local-turns.js';
import { Checkpoints } from './checkpoints.js';
import { DebugFaults, type DebugFault } from './debug-faults.js';
import { RepliesService } from './replies.service.js';
import { PrepareStage, type PreparedTurn } from './stages/prepare.stage.js';
import { PersistBeforeStage, type StoredTurn } from './stages/persist-before.stage.js';
import { ProviderLoopStage } from './stages/provider-loop.stage.js';
import { PersistAfterStage } from './stages/persist-after.stage.js';
import { PublishStage } from './stages/publish.stage.js';
import { Turn } from './turn.js';
import { TurnAdmission } from './admission/turn-admission.js';
import type { TurnCommand, TurnRequest } from './turn-command.js';
import { ResponseOnlySink, type ResumableSink, type TurnSink } from './turn-sink.js';
import { START, type Position } from './sse-stream.js';
import { inSpan, markFailed } from '../telemetry/tracing/spans.js';

// An in-flight claim older than any turn can live belonged to a process that died.
const STALE_MARGIN_MS = 15_000;

type Claim = IdempotencyBegin | undefined;
type Ended = { kind: 'done'; result: TurnResult } | { kind: 'error'; error: unknown };

/**
 * A chat turn, stage by stage (DESIGN §5, §10):
 *
 *   idempotency → prepare → persist-before → [breaker → retry → provider loop] → persist-after → publish
 *
 * The pipeline owns the order and what crosses between stages; each stage does one thing. It
 * knows no transport: the JSON form returns the outcome, the streaming form publishes it to a
 * sink, and both share everything else, including what a repeat of an idempotent request gets
 * (the first request's outcome, or its reply followed, never a second generation).
 */
@Injectable()
export class TurnPipeline {
  private readonly logger = new Logger(TurnPipeline.name);

  constructor(
    private readonly config: AppConfig,
    private readonly idempotency: IdempotencyService,
    private readonly breakers: ChatBreakers,
    private readonly retry: RetryPolicy,
    private readonly prepare: PrepareStage,
    private readonly persistBefore: PersistBeforeStage,
    private readonly providers: ProviderLoopStage,
    private readonly persistAfter: PersistAfterStage,
    private readonly publish: PublishStage,
    private readonly replies: RepliesService,
    private readonly problems: ProblemFactory,
    private readonly checkpoints: Checkpoints,
    private readonly local: LocalTurns,
    private readonly faults: DebugFaults,
    private readonly admission: TurnAdmission,
    private readonly versions: TokenVersions,
  ) {}

  /** The JSON form: the committed turn, or its failure thrown as the error it is. */
  async json(
    request: TurnRequest,
    command: TurnCommand,
    connection: ConstructorParameters<typeof ResponseOnlySink>[0],
  ): Promise<TurnResult> {
    return inSpan('turn', spanAttributes(command, 'json'), async (span) => {
      const begun = await this.admitted(request, async () => {
        const claim = await this.claim(request, command);
        if (claim && claim.kind !== 'started') return { claim };
        return this.start(request, command, new ResponseOnlySink(connection), claim);
      });
      if ('claim' in begun) return this.replayJson(request, command, begun.claim);
      const { turn, admitted } = begun;
      span.setAttribute('parley.message_id', turn.init.assistantMessage.id);
      const ended = await this.run(turn, admitted, request);
      if (ended.kind === 'done') return ended.result;
      throw ended.error;
    });
  }

  /**
   * The streaming form: the turn's events on a stream opened by `open` (given the text offset the
   * client already has). Failures before the turn starts are thrown, before anything is written.
   */
  async stream(request: TurnRequest, command: TurnCommand, open: (from: Position) => ResumableSink): Promise<void> {
    return inSpan('turn', spanAttributes(command, 'stream'), async (span) => {
      const begun = await this.admitted(request, async () => {
        const claim = await this.claim(request, command);
        if (claim && claim.kind !== 'started') return { claim };
        return this.start(request, command, open(START), claim);
      });
      if ('claim' in begun) return this.replayStream(request, command, begun.claim, open);
      const { turn, admitted } = begun;
      span.setAttribute('parley.message_id', turn.init.assistantMessage.id);
      const ended = await this.run(turn, admitted, request);
      // Told to the client as an error event, not thrown: the span still ends failed.
      if (ended.kind === 'error') markFailed(span, toAppError(ended.error));
    });
  }

  /**
   * The database work before the provider is called (the claim, prepare, persist-before) runs
   * once admitted: a burst of starts larger than the pool queues fairly between users instead of
   * timing out in the pool. The slot is given back as soon as that work is done — a replay that
   * follows a reply, and the provider loop, run outside it.
   */
  private async admitted<T>(request: TurnRequest, work: () => Promise<T>): Promise<T> {
    const release = await this.admission.admit(request.userId);
    try {
      return await work();
    } finally {
      release();
    }
  }

  // Persist-after goes ahead of the starts waiting: what was admitted drains first, and its
  // statement does not time out in the pool's queue behind a burst of starts.
  private async finishing<T>(work: () => Promise<T>): Promise<T> {
    const release = await this.admission.finishing();
    try {
      return await work();
    } finally {
      release();
    }
  }

  private async claim(request: TurnRequest, command: TurnCommand): Promise<Claim> {
    const key = this.idempotency.parseKey(request.idempotencyKey);
    if (key === undefined) return undefined;
    // The generating routes leave the token's version to prepare's statement, which a repeat
    // never reaches: a key's outcome is answered only to a token still current.
    await this.versions.check(request.userId, request.tokenVersion);
    return this.idempotency.begin(request.userId, key, fingerprintOf(command), {
      staleInFlightMs: this.config.resilience.turnTimeoutMs + STALE_MARGIN_MS,
    });
  }

  /** Stages 1 and 2, and the turn set running. A failure here stored nothing: the key is given back. */
  private async start(
    request: TurnRequest,
    command: TurnCommand,
    sink: TurnSink,
    claim: Claim,
  ): Promise<{ turn: Turn; admitted: Admitted }> {
    const recordId = claim?.kind === 'started' ? claim.recordId : null;
    const fault = this.faults.requested(request.debugFault);
    let prepared: PreparedTurn;
    let stored: StoredTurn;
    let admitted: Admitted;
    try {
      if (fault === 'breaker') await this.breakers.trip(command.chatId);
      // Fail fast, before any work, while the chat's breaker is open (on any instance).
      admitted = await this.breakers.admit(command.chatId);
      prepared = await this.prepare.prepare(request, command, fault);
      stored = await this.persistBefore.persist(prepared, recordId);
    } catch (error) {
      if (recordId)
        await this.idempotency.abandon(recordId).catch((e: unknown) => this.warn('idempotency_abandon_failed', e));
      throw error;
    }
    // From here the reply is stored and the key names it: it is never given back.
    return { turn: await this.begin(request, prepared, stored, sink, recordId, fault), admitted };
  }

  private async begin(
    request: TurnRequest,
    prepared: PreparedTurn,
    stored: StoredTurn,
    sink: TurnSink,
    idempotencyRecordId: string | null,
    fault: DebugFault | undefined,
  ): Promise<Turn> {
    const turn = new Turn(
      {
        userId: prepared.userId,
        chatId: prepared.chat.id,
        characterId: prepared.chat.characterId,
        locale: prepared.chat.locale,
        userMessage: stored.userMessage,
        assistantMessage: stored.assistantMessage,
        prompt: {
          ...prepared.prompt,
          includedMessageIds:
            prepared.kind === 'send' || prepared.kind === 'edit'
              ? [...prepared.prompt.includedMessageIds, stored.userMessage.id]
              : prepared.prompt.includedMessageIds,
        },
        reserve: prepared.reserve,
        timeoutMs: this.config.resilience.turnTimeoutMs,
        idempotencyRecordId,
        fault,
        freshUserMessage: prepared.kind === 'send' || prepared.kind === 'edit',
        alternatives: stored.alternatives,
        continuation:
          prepared.kind === 'continue' ? { prefix: prepared.reply.content, segment: stored.segment ?? 1 } : undefined,
      },
      this.publish.sinkFor(prepared, sink),
      (current, delayMs, reason) => this.publish.retried(current, delayMs, toAppError(reason).code),
    );
    try {
      this.local.add(turn);
      turn.onSettle(() => this.local.remove(turn));
      const unwatch = this.checkpoints.watch(turn);
      turn.signal.addEventListener('abort', unwatch, { once: true });
      turn.onSettle(unwatch);
      // A disconnect is not a stop: the reply goes on (for a bounded time) and is committed.
      sink.onDisconnect(() => turn.unattended(this.config.trust.unattendedReplyMaxMs));
      this.publish.started(turn);
      return turn;
    } catch (error) {
      // Stored but never started: the reply ends failed, as any turn that fails, never pending.
      turn.settle();
      await this.persistAfter.fail(turn, this.problems.build(error, contextOf(request)).problem);
      throw error;
    }
  }

  /** Stages 3 to 5: the providers under the chat's breaker and the retry policy, then the end. */
  private async run(turn: Turn, admitted: Admitted, request: TurnRequest): Promise<Ended> {
    try {
      const answered = await this.breakers.execute(admitted, () =>
        this.retry.execute(turn, () => this.providers.attempt(turn)),
      );
      const result = await this.finishing(() => this.persistAfter.complete(turn, answered));
      turn.settle();
      await this.publish.done(turn, result);
      return { kind: 'done', result };
    } catch (error) {
      turn.settle();
      const { problem } = this.problems.build(error, contextOf(request));
      await this.finishing(() => this.persistAfter.fail(turn, problem));
      await this.publish.failed(turn, problem);
      return { kind: 'error', error };
    }
  }

  /** A repeat in the JSON form: the first request's outcome, never a second generation. */
  private async replayJson(
    request: TurnRequest,
    command: TurnCommand,
    claim: Exclude<Claim, undefined | { kind: 'started' }>,
  ): Promise<TurnResult> {
    if (claim.kind === 'replay') {
      // Stored by this pipeline from the same types.
      if (claim.status < 400) return claim.body as TurnResult;
      throw new ReplayedProblem(claim.body as Problem);
    }
    const context = contextOf(request);
    const outcome = await this.replies.outcome(request.userId, command.chatId, claim.messageId, context);
    // The reply is still being written (here, elsewhere, or by a process that died and the
    // sweep has not reached yet).
    if (!outcome) throw new AppError('idempotency_key_in_flight', { retryAfterSeconds: 1 });
    const [status, body] = outcome.kind === 'done' ? [201, outcome.result] : [outcome.problem.status, outcome.problem];
    await this.idempotency
      .complete(claim.recordId, status, body)
      .catch((e: unknown) => this.warn('idempotency_outcome_not_stored', e));
    if (outcome.kind === 'done') return outcome.result;
    throw new ReplayedProblem(outcome.problem);
  }

  /** A repeat in the streaming form: the first request's reply, followed from where the client is. */
  private async replayStream(
    request: TurnRequest,
    command: TurnCommand,
    claim: Exclude<Claim, undefined | { kind: 'started' }>,
    open: (from: Position) => ResumableSink,
  ): Promise<void> {
    if (claim.messageId === null) {
      // Recorded without a reply (nothing was stored): answered as recorded.
      throw claim.kind === 'replay' && claim.status >= 400
        ? new ReplayedProblem(claim.body as Problem)
        : new AppError('internal_error', { detail: 'an idempotent outcome without its reply' });
    }
    return this.replies.follow(
      request.userId,
      command.chatId,
      claim.messageId,
      request.lastEventId,
      open,
      contextOf(request),
    );
  }

  private warn(event: string, error: unknown): void {
    this.logger.warn({ event }, String(error));
  }
}

// The JSON and the streaming form of an operation are the same request to a key; different
// operations never are.
export function fingerprintOf(command: TurnCommand): string {
  switch (command.kind) {
    case 'send':
      return requestFingerprint('sendMessage', { chatId: command.chatId }, { content: command.content });
    case 'regenerate':
      return requestFingerprint('regenerateMessage', { chatId: command.chatId, messageId: command.messageId }, null);
    case 'edit':
      return requestFingerprint(
        'editMessage',
        { chatId: command.chatId, messageId: command.messageId },
        { content: command.content },
      );
    case 'continue':
      return requestFingerprint('continueMessage', { chatId: command.chatId, messageId: command.messageId }, null);
  }
}

// One span per turn (the request's child; the provider attempts and statements are its children).
function spanAttributes(command: TurnCommand, form: 'json' | 'stream'): Record<string, string> {
  return { 'parley.turn.kind': command.kind, 'parley.turn.form': form, 'parley.chat_id': command.chatId };
}

function contextOf(request: TurnRequest): ProblemContext {
  return { requestId: request.requestId, acceptLanguage: request.acceptLanguage };
}
