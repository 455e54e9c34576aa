import { Injectable } from '@nestjs/common';
import type { ManifestAttempt } from '@parley/api-types';
import { AppConfig } from '../../config/app-config.js';
import { AppError } from '../../errors/app-error.js';
import { toAppError } from '../../errors/problem.filter.js';
import { ModerationService } from '../../moderation/moderation.service.js';
import { ProviderRegistry } from '../../providers/provider-registry.js';
import {
  ProviderError,
  type LlmProvider,
  type ProviderChunk,
  type ProviderRequest,
} from '../../providers/provider.port.js';
import { watchStream } from '../../resilience/stream-watchdog.js';
import { ReplyCache, type CacheableRequest } from '../../resilience/reply-cache/reply-cache.js';
import { DEBUG_MAX_TOKENS, DebugFaults } from '../debug-faults.js';
import { GenerationMetrics } from '../generation.metrics.js';
import type { Turn } from '../turn.js';
import { ToolLoop, type ToolSession } from '../../tools/tool-loop.js';

type ProviderDone = Extract<ProviderChunk, { type: 'done' }>;
/** A whole reply; `tool_limit` when the model kept calling tools past the step limit. */
export type ProviderReply = Omit<ProviderDone, 'finishReason'> & {
  finishReason: ProviderDone['finishReason'] | 'tool_limit';
  text: string;
};

export interface AnsweredAttempt {
  /** Who answered: a provider, or the cache of recent replies (named after its own provider). */
  provider: Pick<LlmProvider, 'name' | 'isDemo'>;
  reply: ProviderReply;
  /** Served by a fallback (the demo provider standing in, a cached reply): never charged. */
  degraded: boolean;
}

/** The name a reply served from the cache is recorded under (messages, manifest, `provider` event). */
export const CACHED_REPLY_PROVIDER = 'cache';

/**
 * Stage 3, the provider loop: one attempt of a turn, the providers in failover order until one
 * answers. Text streams through to the turn's sink as it arrives, each piece checked by the
 * output policy before it is shown; a provider that fails before any text was shown hands over
 * to the next. The retry policy and the chat's breaker wrap this stage (see the pipeline).
 */
@Injectable()
export class ProviderLoopStage {
  constructor(
    private readonly config: AppConfig,
    private readonly registry: ProviderRegistry,
    private readonly moderation: ModerationService,
    private readonly faults: DebugFaults,
    private readonly metrics: GenerationMetrics,
    private readonly cache: ReplyCache,
    private readonly tools: ToolLoop,
  ) {}

  /**
   * One attempt. When every provider has failed (or none can be tried: all breakers open), a
   * cached reply to the identical request answers, degraded, before the demo fallback is tried
   * and before the failure is given up to the retry policy.
   */
  async attempt(turn: Turn): Promise<AnsweredAttempt> {
    let ordered: LlmProvider[];
    try {
      ordered = this.registry.ordered();
    } catch (error) {
      const cached = await this.fromCache(turn, false);
      if (cached) return cached;
      throw error;
    }
    let lastError: unknown;
    for (const [index, provider] of ordered.entries()) {
      if (turn.signal.aborted) throw turn.signal.reason;
      const failover = index > 0;
      const fallback = this.registry.isFallback(provider);
      if (fallback) {
        const cached = await this.fromCache(turn, failover);
        if (cached) return cached;
      }
      turn.announceProvider({
        provider: provider.name,
        model: provider.defaultModel,
        demo: provider.isDemo,
        failover,
      });
      const record: ManifestAttempt = {
        attempt: turn.attempts.length + 1,
        provider: provider.name,
        model: provider.defaultModel,
        startedAt: new Date().toISOString(),
        durationMs: 0,
        outcome: 'success',
        errorCode: null,
        retryDelayMs: null,
        failover,
      };
      turn.attempts.push(record);
      const started = Date.now();
      try {
        const forced = this.faults.providerFailure(turn.init.fault, provider.name);
        const reply = await this.registry.run(
          provider,
          () => (forced ? Promise.reject(forced) : this.call(turn, provider)),
          { 'parley.attempt': record.attempt, 'parley.failover': failover, 'parley.forced': forced !== undefined },
        );
        record.durationMs = Date.now() - started;
        record.model = reply.model;
        this.metrics.providerCalls.inc({ provider: provider.name, outcome: 'success' });
        // Only complete replies of real providers are kept (in the background: a cache write
        // never delays or fails a turn).
        if (!fallback && reply.finishReason === 'stop' && this.cache.enabled && !turn.init.continuation) {
          void this.cache.remember(this.cache.keyOf(this.requestOf(turn)), {
            text: reply.text,
            provider: provider.name,
            model: reply.model,
          });
        }
        return { provider, reply, degraded: fallback };
      } catch (error) {
        record.durationMs = Date.now() - started;
        const code = toAppError(error).code;
        // A stop is not the provider's failure: the attempt is recorded as cancelled.
        record.outcome = code === 'turn_cancelled' ? 'cancelled' : 'error';
        record.errorCode = record.outcome === 'error' ? code : null;
        this.metrics.providerCalls.inc({ provider: provider.name, outcome: record.outcome });
        if (record.errorCode) this.metrics.providerErrors.inc({ provider: provider.name, code: record.errorCode });
        if (error instanceof ProviderError && error.code === 'content_blocked' && !turn.moderation) {
          turn.moderation = { ...this.moderation.fromProvider(error.details.blockCategory ?? ''), stage: 'output' };
        }
        // Shown text cannot be taken back, and a block or an error of our own is final.
        if (turn.hasStreamedText || !(error instanceof ProviderError) || error.code === 'content_blocked') throw error;
        lastError = error;
      }
    }
    const cached = lastError === undefined ? undefined : await this.fromCache(turn, true);
    if (cached) return cached;
    throw lastError ?? new AppError('no_provider_available', { retryAfterSeconds: 5 });
  }

  /** What every provider is sent for this turn (the cache's key is made of exactly this). */
  private requestOf(turn: Turn): CacheableRequest {
    return {
      systemInstruction: turn.init.prompt.systemInstruction,
      messages: turn.init.prompt.messages,
      // The debug fault `max_tokens` asks for a reply cut short at the length limit (a real one).
      maxOutputTokens: turn.init.fault === 'max_tokens' ? DEBUG_MAX_TOKENS : this.config.generation.maxOutputTokens,
    };
  }

  /**
   * The cached degraded fallback: a recent reply to the identical request, shown like a provider's
   * (announced, checked by the output policy, streamed as one delta) and recorded as an attempt.
   */
  private async fromCache(turn: Turn, failover: boolean): Promise<AnsweredAttempt | undefined> {
    // A continuation is never answered from the cache (its reply is the text so far and the new).
    if (!this.cache.enabled || turn.hasStreamedText || turn.signal.aborted || turn.init.continuation) return undefined;
    const started = Date.now();
    const cached = await this.cache.recall(this.cache.keyOf(this.requestOf(turn)));
    if (!cached) return undefined;
    const provider = { name: CACHED_REPLY_PROVIDER, isDemo: false };
    turn.announceProvider({ provider: provider.name, model: cached.model, demo: false, failover });
    turn.attempts.push({
      attempt: turn.attempts.length + 1,
      provider: provider.name,
      model: cached.model,
      startedAt: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      outcome: 'success',
      errorCode: null,
      retryDelayMs: null,
      failover,
    });
    this.assertAllowedOutput(turn, cached.text, provider);
    if (turn.sink.streaming) turn.appendText(cached.text);
    this.metrics.providerCalls.inc({ provider: provider.name, outcome: 'success' });
    return {
      provider,
      // Nothing was generated for this turn: no usage, nothing to charge.
      reply: {
        type: 'done',
        text: cached.text,
        finishReason: 'stop',
        model: cached.model,
        usage: { promptTokens: 0, completionTokens: 0 },
      },
      degraded: true,
    };
  }

  /**
   * One provider's answer, with the tool loop: while the model asks for calls, they run (stored
   * first, see ToolLoop) and the model is asked again with their results, up to the step limit;
   * past it the calls are refused and the model answers without tools (`tool_limit`).
   */
  private async call(turn: Turn, provider: LlmProvider): Promise<ProviderReply> {
    const session = await this.tools.session(turn, provider.name);
    const usage = { promptTokens: 0, completionTokens: 0 };
    let limited = false;
    // A continuation's text is the reply's so far and the new.
    let text = turn.init.continuation?.prefix ?? '';
    for (;;) {
      const reply = await this.callOnce(turn, provider, session, limited, text);
      text += reply.text;
      usage.promptTokens += reply.usage.promptTokens;
      usage.completionTokens += reply.usage.completionTokens;
      const calls = reply.toolCalls ?? [];
      if (calls.length === 0 || limited) {
        const { toolCalls: _asked, ...rest } = reply;
        return { ...rest, usage, text, finishReason: limited ? 'tool_limit' : reply.finishReason };
      }
      limited = !session.mayCallTools;
      await session.step(reply.text, calls, limited);
    }
  }

  /** One provider call (one step of the tool loop): this step's text, checked with `before` (the reply's text so far). */
  private async callOnce(
    turn: Turn,
    provider: LlmProvider,
    session: ToolSession,
    toolsRefused: boolean,
    before: string,
  ): Promise<ProviderReply> {
    const upstream = new AbortController();
    const request: ProviderRequest = {
      ...this.requestOf(turn),
      signal: AbortSignal.any([turn.signal, upstream.signal]),
      ...(session.declarations.length === 0
        ? {}
        : {
            tools: session.declarations,
            toolExchanges: session.exchanges,
            ...(toolsRefused ? { toolChoice: 'none' as const } : {}),
          }),
    };
    const { firstTokenTimeoutMs, stallTimeoutMs } = this.config.resilience;
    if (!turn.sink.streaming) {
      // One call, bounded like the wait for a first token.
      const timer = setTimeout(
        () => upstream.abort(new ProviderError('provider_timeout', provider.name, { retryable: true })),
        firstTokenTimeoutMs,
      );
      try {
        const reply = await provider.generate(request);
        // The policy reads the reply whole: its text so far (a continuation's, earlier steps') and this.
        this.assertAllowedOutput(turn, before + reply.text, provider);
        this.metrics.firstToken.observe({ provider: provider.name }, (Date.now() - turn.startedAt) / 1000);
        return { ...reply, type: 'done' };
      } finally {
        clearTimeout(timer);
      }
    }
    let done: Extract<ProviderChunk, { type: 'done' }> | undefined;
    const textBefore = turn.text.length;
    const chunks = watchStream(
      provider.stream(request),
      { firstChunkMs: firstTokenTimeoutMs, stallMs: stallTimeoutMs },
      upstream,
      provider.name,
    );
    // The first chunk of a call is read with all the text before it (a continuation's earlier
    // text is checked again under today's policy); later ones with a window of the text allowed
    // before them, so a reply costs time linear in its length and a blocked phrase split across
    // chunks is still caught.
    let allowedBefore = false;
    for await (const chunk of chunks) {
      if (chunk.type === 'done') {
        done = chunk;
        continue;
      }
      if (allowedBefore) this.assertAllowedOutput(turn, chunk.text, provider, turn.text);
      else this.assertAllowedOutput(turn, turn.text + chunk.text, provider);
      allowedBefore = true;
      if (!turn.hasStreamedText) {
        this.metrics.firstToken.observe({ provider: provider.name }, (Date.now() - turn.startedAt) / 1000);
      }
      turn.appendText(chunk.text);
    }
    if (!done) {
      throw new ProviderError('provider_unavailable', provider.name, {
        retryable: true,
        detail: 'stream ended without a finish',
      });
    }
    // This step's text (earlier steps' text is already the turn's).
    return { ...done, text: turn.text.slice(textBefore) };
  }

  /** Checks a reply's text before any of it is shown or committed; a block is final (no retry, no failover). */
  private assertAllowedOutput(turn: Turn, text: string, provider: Pick<LlmProvider, 'name'>, allowedBefore = ''): void {
    const verdict =
      allowedBefore === ''
        ? this.moderation.check(text, 'output', turn.init.locale)
        : this.moderation.checkAppended(allowedBefore, text, 'output', turn.init.locale);
    if (verdict.allowed) return;
    turn.moderation = { ...verdict, stage: 'output' };
    throw new ProviderError('content_blocked', provider.name, {
      retryable: false,
      blockCategory: verdict.category ?? 'unspecified',
      detail: 'blocked by the content policy',
    });
  }
}
