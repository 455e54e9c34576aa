import { ToolLoop } from '../../tools/tool-loop.js';
import { ToolRegistry } from '../../tools/tool-registry.js';
import { ToolCallStore } from '../../tools/tool-call.store.js';
import { ChatMemoryService } from '../../tools/chat-memory.service.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import {
  failureOf,
  generationMetrics,
  RecordingSink,
  REPLY,
  turnInit,
  unitConfig,
} from '../../../test/support/turn-fixtures.js';
import { AppError } from '../../errors/app-error.js';
import { ModerationService } from '../../moderation/moderation.service.js';
import { ProviderRegistry } from '../../providers/provider-registry.js';
import {
  ProviderError,
  type LlmProvider,
  type ProviderChunk,
  type ProviderRequest,
} from '../../providers/provider.port.js';
import { DebugFaults, type DebugFault } from '../debug-faults.js';
import { GenerationMetrics } from '../generation.metrics.js';
import { Turn } from '../turn.js';
import { ProviderLoopStage } from './provider-loop.stage.js';
import type { DataSource } from 'typeorm';
import { ReplyCache, type CachedReply } from '../../resilience/reply-cache/reply-cache.js';

type Done = Extract<ProviderChunk, { type: 'done' }>;

const FIRST_TOKEN_TIMEOUT_MS = 1_000;
const STALL_TIMEOUT_MS = 500;

/**
 * A provider that answers from a script: its text in pieces, then a finish (or none), or a
 * failure after the pieces. `hang` answers nothing until the request is aborted, then fails with
 * the abort's reason, as the real adapters do.
 */
class ScriptedProvider implements LlmProvider {
  readonly defaultModel: string;
  readonly isDemo = false;
  readonly calls: Array<{ method: 'stream' | 'generate'; request: ProviderRequest }> = [];

  constructor(
    readonly name: string,
    private readonly script: {
      pieces?: string[];
      done?: Done | null;
      error?: unknown;
      hang?: boolean;
      hangAfterPieces?: boolean;
    } = {},
  ) {
    this.defaultModel = `${name}-model`;
  }

  async *stream(request: ProviderRequest): AsyncIterable<ProviderChunk> {
    this.calls.push({ method: 'stream', request });
    if (this.script.hang) await aborted(request.signal);
    for (const text of this.script.pieces ?? []) yield { type: 'delta', text };
    if (this.script.hangAfterPieces) await aborted(request.signal);
    if (this.script.error !== undefined) throw this.script.error;
    const done = this.finish();
    if (done) yield done;
  }

  async generate(request: ProviderRequest): Promise<{ text: string } & Done> {
    this.calls.push({ method: 'generate', request });
    if (this.script.hang) await aborted(request.signal);
    if (this.script.error !== undefined) throw this.script.error;
    const done = this.finish();
    if (!done) throw new Error('a generate script needs a finish');
    return { ...done, text: (this.script.pieces ?? []).join('') };
  }

  async probe(): Promise<void> {}

  private finish(): Done | null {
    return this.script.done === undefined ? finish(this.defaultModel) : this.script.done;
  }
}

function finish(model: string): Done {
  return { type: 'done', finishReason: 'stop', usage: { promptTokens: 12, completionTokens: 3 }, model };
}

function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error)));
}

// A small policy of its own: the stage's use of moderation is tested apart from the starter lists.
const policyDir = mkdtempSync(join(tmpdir(), 'parley-provider-loop-'));
const policyFile = join(policyDir, 'policy.yaml');
writeFileSync(
  policyFile,
  `
version: loop-1
categories:
  spoiler:
    appliesTo: [output]
    en: { terms: [the butler did it] }
`,
);
const moderation = ModerationService.fromFile(policyFile);

const config = unitConfig({
  FIRST_TOKEN_TIMEOUT_MS: String(FIRST_TOKEN_TIMEOUT_MS),
  STALL_TIMEOUT_MS: String(STALL_TIMEOUT_MS),
  MAX_OUTPUT_TOKENS: '321',
});

// These turns offer no tools, so the tool loop never reaches the database it is given none of.
const noTools = new ToolLoop(
  config,
  new ToolRegistry(new ChatMemoryService(null as never)),
  new ToolCallStore(null as never),
  moderation,
);

const turns: Turn[] = [];

/** The cache's behaviour in memory (its SQL is the e2e test's): turned on, keys as the real one makes them. */
class MemoryReplyCache extends ReplyCache {
  readonly entries = new Map<string, CachedReply>();
  readonly writes: string[] = [];

  constructor() {
    super(unitConfig({ PROVIDER_CACHED_FALLBACK: 'true' }), undefined as unknown as DataSource);
  }

  override async remember(key: string, reply: CachedReply): Promise<void> {
    this.writes.push(key);
    this.entries.set(key, reply);
  }

  override async recall(key: string): Promise<CachedReply | undefined> {
    return this.entries.get(key);
  }
}

function setUp(
  providers: LlmProvider[],
  options: { streaming?: boolean; fault?: DebugFault; cache?: ReplyCache } = {},
) {
  const registry = new ProviderRegistry(providers, config);
  const metrics = generationMetrics(config, registry);
  // PROVIDER_CACHED_FALLBACK is off in this config: the cache never reaches its database.
  const cache = options.cache ?? new ReplyCache(config, undefined as unknown as DataSource);
  const stage = new ProviderLoopStage(config, registry, moderation, new DebugFaults(config), metrics, cache, noTools);
  const sink = new RecordingSink(options.streaming ?? true);
  const turn = new Turn(turnInit({ timeoutMs: config.resilience.turnTimeoutMs, fault: options.fault }), sink);
  turns.push(turn);
  return { stage, turn, sink, metrics };
}

async function firstTokenCount(metrics: GenerationMetrics, provider: string): Promise<number | undefined> {
  const values = (await metrics.firstToken.get()).values;
  return values.find((v) => v.metricName === 'parley_turn_first_token_seconds_count' && v.labels.provider === provider)
    ?.value;
}

const unavailable = () => new ProviderError('provider_unavailable', 'a', { retryable: true, status: 503 });

describe(ProviderLoopStage.name, () => {
  afterEach(() => {
    for (const turn of turns.splice(0)) turn.settle();
    jest.useRealTimers();
  });

  describe('attempt', () => {
    it('records an attempt stopped by a cancel as cancelled', async () => {
      const a = new ScriptedProvider('a', { hang: true });
      const { stage, turn } = setUp([a]);
      const running = failureOf(stage.attempt(turn));
      await new Promise((resolve) => setImmediate(resolve));
      const cancelled = new AppError('turn_cancelled');

      turn.abort(cancelled);

      expect(await running).toBe(cancelled);
      expect(turn.attempts[0]).toMatchObject({ outcome: 'cancelled', errorCode: null });
    });

    it('streams the reply through the sink and answers the provider’s finish, when the client reads a stream', async () => {
      const a = new ScriptedProvider('a', { pieces: ['Hel', 'lo'] });
      const { stage, turn, sink, metrics } = setUp([a]);

      const answered = await stage.attempt(turn);

      expect(answered.provider).toBe(a);
      expect(answered.reply).toEqual({ ...finish('a-model'), text: 'Hello' });
      expect(a.calls.map((c) => c.method)).toEqual(['stream']);
      expect(sink.events).toEqual([
        { type: 'provider', messageId: REPLY, provider: 'a', model: 'a-model', demo: false, failover: false },
        { type: 'delta', messageId: REPLY, text: 'Hel' },
        { type: 'delta', messageId: REPLY, text: 'lo' },
      ]);
      expect(turn.text).toBe('Hello');
      expect(await firstTokenCount(metrics, 'a')).toBe(1);
    });

    it('asks for one whole reply with generate, showing no text, when the client waits for JSON', async () => {
      const a = new ScriptedProvider('a', { pieces: ['Hel', 'lo'] });
      const { stage, turn, sink, metrics } = setUp([a], { streaming: false });

      const answered = await stage.attempt(turn);

      expect(answered.reply).toEqual({ ...finish('a-model'), text: 'Hello' });
      expect(a.calls.map((c) => c.method)).toEqual(['generate']);
      expect(sink.deltas).toEqual([]);
      expect(await firstTokenCount(metrics, 'a')).toBe(1);
    });

    it('sends the turn’s prompt, the configured length limit and a signal that follows the turn', async () => {
      const a = new ScriptedProvider('a', { pieces: ['Hi'] });
      const { stage, turn } = setUp([a]);

      await stage.attempt(turn);

      const { request } = a.calls[0];
      expect(request).toMatchObject({
        systemInstruction: 'You are Detective Harlan Grey.',
        messages: [{ role: 'user', content: 'Who took the watch?' }],
        maxOutputTokens: 321,
      });
      expect(request.signal.aborted).toBe(false);
      const cancelled = new AppError('turn_cancelled');
      turn.abort(cancelled);
      expect(request.signal.aborted).toBe(true);
      expect(request.signal.reason).toBe(cancelled);
    });

    it('records the attempt with the model that answered, when the first provider answers', async () => {
      const a = new ScriptedProvider('a', { pieces: ['Hi'], done: finish('a-model-002') });
      const { stage, turn } = setUp([a]);

      await stage.attempt(turn);

      expect(turn.attempts).toEqual([
        {
          attempt: 1,
          provider: 'a',
          model: 'a-model-002',
          startedAt: expect.any(String),
          durationMs: expect.any(Number),
          outcome: 'success',
          errorCode: null,
          retryDelayMs: null,
          failover: false,
        },
      ]);
    });

    it.each([
      ['a retryable failure', unavailable()],
      [
        'a failure that is not retryable (quota)',
        new ProviderError('provider_quota_exhausted', 'a', { retryable: false }),
      ],
    ])('fails over to the next provider after %s, when no text was shown', async (_case, error) => {
      const a = new ScriptedProvider('a', { error });
      const b = new ScriptedProvider('b', { pieces: ['Hello'] });
      const { stage, turn, sink, metrics } = setUp([a, b]);

      const answered = await stage.attempt(turn);

      expect(answered.provider).toBe(b);
      expect(sink.providers).toEqual([
        { provider: 'a', failover: false },
        { provider: 'b', failover: true },
      ]);
      expect(sink.deltas).toEqual(['Hello']);
      expect(
        turn.attempts.map(({ attempt, provider, outcome, errorCode, failover }) => ({
          attempt,
          provider,
          outcome,
          errorCode,
          failover,
        })),
      ).toEqual([
        { attempt: 1, provider: 'a', outcome: 'error', errorCode: error.code, failover: false },
        { attempt: 2, provider: 'b', outcome: 'success', errorCode: null, failover: true },
      ]);
      expect((await metrics.providerCalls.get()).values).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ labels: { provider: 'a', outcome: 'error' }, value: 1 }),
          expect.objectContaining({ labels: { provider: 'b', outcome: 'success' }, value: 1 }),
        ]),
      );
      expect((await metrics.providerErrors.get()).values).toEqual([
        expect.objectContaining({ labels: { provider: 'a', code: error.code }, value: 1 }),
      ]);
    });

    it('fails over when a stream ends with neither text nor a finish', async () => {
      const a = new ScriptedProvider('a', { done: null });
      const b = new ScriptedProvider('b', { pieces: ['Hello'] });
      const { stage, turn } = setUp([a, b]);

      expect((await stage.attempt(turn)).provider).toBe(b);
      expect(turn.attempts[0]).toMatchObject({ outcome: 'error', errorCode: 'provider_unavailable' });
    });

    it('does not fail over once text was shown, when the provider fails mid-reply', async () => {
      const error = unavailable();
      const a = new ScriptedProvider('a', { pieces: ['Hel'], error });
      const b = new ScriptedProvider('b', { pieces: ['Hello'] });
      const { stage, turn, sink } = setUp([a, b]);

      expect(await failureOf(stage.attempt(turn))).toBe(error);
      expect(b.calls).toEqual([]);
      expect(sink.deltas).toEqual(['Hel']);
      expect(turn.attempts).toHaveLength(1);
      expect(turn.attempts[0]).toMatchObject({ outcome: 'error', errorCode: 'provider_unavailable' });
    });

    it('fails as provider_unavailable, retryable, when a stream ends after text without a finish', async () => {
      const a = new ScriptedProvider('a', { pieces: ['Hel'], done: null });
      const b = new ScriptedProvider('b', { pieces: ['Hello'] });
      const { stage, turn } = setUp([a, b]);

      const error = await failureOf(stage.attempt(turn));

      expect(error).toBeInstanceOf(ProviderError);
      expect(error).toMatchObject({ code: 'provider_unavailable', provider: 'a', retryable: true });
      expect(b.calls).toEqual([]);
    });

    it('treats a provider’s content block as final, even before any text', async () => {
      const error = new ProviderError('content_blocked', 'a', { retryable: false, blockCategory: 'SAFETY' });
      const a = new ScriptedProvider('a', { error });
      const b = new ScriptedProvider('b', { pieces: ['Hello'] });
      const { stage, turn } = setUp([a, b]);

      expect(await failureOf(stage.attempt(turn))).toBe(error);
      expect(b.calls).toEqual([]);
      expect(turn.moderation).toEqual({ allowed: false, category: 'SAFETY', source: 'provider', stage: 'output' });
      expect(turn.attempts[0]).toMatchObject({ outcome: 'error', errorCode: 'content_blocked' });
    });

    it('treats an error of our own as final', async () => {
      const error = new Error('a bug');
      const a = new ScriptedProvider('a', { error });
      const b = new ScriptedProvider('b', { pieces: ['Hello'] });
      const { stage, turn } = setUp([a, b]);

      expect(await failureOf(stage.attempt(turn))).toBe(error);
      expect(b.calls).toEqual([]);
      expect(turn.attempts[0]).toMatchObject({ outcome: 'error', errorCode: 'internal_error' });
    });

    it('fails with the last provider’s failure when every provider fails before any text', async () => {
      const last = new ProviderError('provider_timeout', 'b', { retryable: true });
      const { stage, turn } = setUp([
        new ScriptedProvider('a', { error: unavailable() }),
        new ScriptedProvider('b', { error: last }),
      ]);

      expect(await failureOf(stage.attempt(turn))).toBe(last);
      expect(turn.attempts.map((a) => a.errorCode)).toEqual(['provider_unavailable', 'provider_timeout']);
    });

    it('numbers its attempts on from the turn’s earlier ones, when the attempt is a retry', async () => {
      const a = new ScriptedProvider('a', { error: unavailable() });
      const b = new ScriptedProvider('b', { error: unavailable() });
      const { stage, turn } = setUp([a, b]);

      await failureOf(stage.attempt(turn));
      await failureOf(stage.attempt(turn));

      expect(turn.attempts.map((x) => [x.attempt, x.provider, x.failover])).toEqual([
        [1, 'a', false],
        [2, 'b', true],
        [3, 'a', false],
        [4, 'b', true],
      ]);
    });

    it('fails every provider with the debug fault’s error, calling none, when the turn carries a fault', async () => {
      const a = new ScriptedProvider('a', { pieces: ['Hello'] });
      const b = new ScriptedProvider('b', { pieces: ['Hello'] });
      const { stage, turn } = setUp([a, b], { fault: 'provider_503' });

      expect(await failureOf(stage.attempt(turn))).toMatchObject({ code: 'provider_unavailable', provider: 'b' });
      expect([a.calls, b.calls]).toEqual([[], []]);
      expect(turn.attempts.map((x) => x.errorCode)).toEqual(['provider_unavailable', 'provider_unavailable']);
    });

    it('calls no provider when the turn was already aborted', async () => {
      const a = new ScriptedProvider('a', { pieces: ['Hello'] });
      const { stage, turn, sink } = setUp([a]);
      const cancelled = new AppError('turn_cancelled');
      turn.abort(cancelled);

      expect(await failureOf(stage.attempt(turn))).toBe(cancelled);
      expect(a.calls).toEqual([]);
      expect(sink.events).toEqual([]);
    });

    it('catches a blocked phrase split across two pieces and never shows it', async () => {
      const a = new ScriptedProvider('a', { pieces: ['Clearly, the but', 'ler did it.', ' Case closed.'] });
      const b = new ScriptedProvider('b', { pieces: ['Hello'] });
      const { stage, turn, sink } = setUp([a, b]);

      const error = await failureOf(stage.attempt(turn));

      expect(error).toBeInstanceOf(ProviderError);
      expect(error).toMatchObject({ code: 'content_blocked', retryable: false, details: { blockCategory: 'spoiler' } });
      expect(sink.deltas).toEqual(['Clearly, the but']);
      expect(turn.text).toBe('Clearly, the but');
      expect(turn.moderation).toEqual({ allowed: false, category: 'spoiler', source: 'policy', stage: 'output' });
      expect(b.calls).toEqual([]);
    });

    it('blocks a phrase in the first piece before any text is shown, without failing over', async () => {
      const a = new ScriptedProvider('a', { pieces: ['The butler did it.'] });
      const b = new ScriptedProvider('b', { pieces: ['Hello'] });
      const { stage, turn, sink } = setUp([a, b]);

      expect(await failureOf(stage.attempt(turn))).toMatchObject({ code: 'content_blocked' });
      expect(sink.deltas).toEqual([]);
      expect(b.calls).toEqual([]);
    });

    it('blocks a whole reply with a blocked phrase, when the client waits for JSON', async () => {
      const a = new ScriptedProvider('a', { pieces: ['Clearly, the butler did it.'] });
      const b = new ScriptedProvider('b', { pieces: ['Hello'] });
      const { stage, turn } = setUp([a, b], { streaming: false });

      expect(await failureOf(stage.attempt(turn))).toMatchObject({ code: 'content_blocked' });
      expect(turn.moderation).toMatchObject({ allowed: false, category: 'spoiler', stage: 'output' });
      expect(b.calls).toEqual([]);
    });

    it('gives up on a JSON-form call after the first-token timeout and fails over', async () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'], now: new Date('2026-11-28T09:00:00Z') });
      const a = new ScriptedProvider('a', { hang: true });
      const b = new ScriptedProvider('b', { pieces: ['Hello'] });
      const { stage, turn } = setUp([a, b], { streaming: false });

      const running = stage.attempt(turn);
      await jest.advanceTimersByTimeAsync(FIRST_TOKEN_TIMEOUT_MS - 1);
      expect(b.calls).toEqual([]);
      await jest.advanceTimersByTimeAsync(1);

      expect((await running).provider).toBe(b);
      expect(turn.attempts[0]).toMatchObject({
        provider: 'a',
        startedAt: '2026-11-28T09:00:00.000Z',
        durationMs: FIRST_TOKEN_TIMEOUT_MS,
        outcome: 'error',
        errorCode: 'provider_timeout',
      });
    });

    it('gives up on a stream without a first piece after the first-token timeout and fails over', async () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
      const a = new ScriptedProvider('a', { hang: true });
      const b = new ScriptedProvider('b', { pieces: ['Hello'] });
      const { stage, turn } = setUp([a, b]);

      const running = stage.attempt(turn);
      await jest.advanceTimersByTimeAsync(FIRST_TOKEN_TIMEOUT_MS);

      expect((await running).provider).toBe(b);
      expect(a.calls[0].request.signal.aborted).toBe(true);
      expect(turn.attempts[0]).toMatchObject({ provider: 'a', outcome: 'error', errorCode: 'provider_timeout' });
    });

    it('fails as stream_stalled, without failing over, when a stream goes quiet after text', async () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
      const a = new ScriptedProvider('a', { pieces: ['Hel'], hangAfterPieces: true });
      const b = new ScriptedProvider('b', { pieces: ['Hello'] });
      const { stage, turn } = setUp([a, b]);

      let settled = false;
      const running = failureOf(stage.attempt(turn)).finally(() => (settled = true));
      await jest.advanceTimersByTimeAsync(STALL_TIMEOUT_MS - 1);
      expect(settled).toBe(false);
      await jest.advanceTimersByTimeAsync(1);

      expect(await running).toMatchObject({ code: 'stream_stalled', retryable: true });
      expect(turn.attempts[0]).toMatchObject({ outcome: 'error', errorCode: 'stream_stalled' });
      expect(b.calls).toEqual([]);
    });
  });

  describe('the cached degraded fallback', () => {
    const demoFallback = () =>
      Object.assign(new ScriptedProvider('demo', { pieces: ['Static reply'] }), { isDemo: true });
    const keyOfTurn = (cache: ReplyCache, turn: Turn) =>
      cache.keyOf({
        systemInstruction: turn.init.prompt.systemInstruction,
        messages: turn.init.prompt.messages,
        maxOutputTokens: 321,
      });

    it('remembers a real provider’s complete reply under the key of the request it was sent', async () => {
      const cache = new MemoryReplyCache();
      const { stage, turn } = setUp([new ScriptedProvider('a', { pieces: ['Hello'] })], { cache });

      const answered = await stage.attempt(turn);

      expect(answered.degraded).toBe(false);
      expect(cache.writes).toEqual([keyOfTurn(cache, turn)]);
      expect(cache.entries.get(keyOfTurn(cache, turn))).toEqual({ text: 'Hello', provider: 'a', model: 'a-model' });
    });

    it('remembers neither a reply cut at the length limit nor one of the demo fallback', async () => {
      const cache = new MemoryReplyCache();
      const cut = { ...finish('a-model'), finishReason: 'max_tokens' as const };
      const first = setUp([new ScriptedProvider('a', { pieces: ['Hel'], done: cut })], { cache });
      await first.stage.attempt(first.turn);
      const second = setUp([new ScriptedProvider('a', { error: unavailable() }), demoFallback()], { cache });
      expect(await second.stage.attempt(second.turn)).toMatchObject({ provider: { name: 'demo' }, degraded: true });
      expect(cache.writes).toEqual([]);
    });

    it('answers from the cache, degraded and streamed, once every provider has failed', async () => {
      const cache = new MemoryReplyCache();
      const a = new ScriptedProvider('a', { error: unavailable() });
      const b = new ScriptedProvider('b', { error: unavailable() });
      const { stage, turn, sink } = setUp([a, b], { cache });
      cache.entries.set(keyOfTurn(cache, turn), { text: 'Remembered', provider: 'a', model: 'a-model' });

      const answered = await stage.attempt(turn);

      expect(answered).toMatchObject({ provider: { name: 'cache' }, degraded: true, reply: { text: 'Remembered' } });
      expect(answered.reply.usage).toEqual({ promptTokens: 0, completionTokens: 0 });
      expect(a.calls).toHaveLength(1);
      expect(b.calls).toHaveLength(1);
      expect(turn.attempts.map((x) => [x.provider, x.outcome])).toEqual([
        ['a', 'error'],
        ['b', 'error'],
        ['cache', 'success'],
      ]);
      expect(sink.events.filter((e) => e.type === 'delta').map((e) => (e as { text: string }).text)).toEqual([
        'Remembered',
      ]);
    });

    it('answers before the demo fallback, which is then not called', async () => {
      const cache = new MemoryReplyCache();
      const demo = demoFallback();
      const { stage, turn } = setUp([new ScriptedProvider('a', { error: unavailable() }), demo], { cache });
      cache.entries.set(keyOfTurn(cache, turn), { text: 'Remembered', provider: 'a', model: 'a-model' });

      expect(await stage.attempt(turn)).toMatchObject({ provider: { name: 'cache' }, degraded: true });
      expect(demo.calls).toEqual([]);
    });

    it('answers when no provider can be tried at all', async () => {
      const cache = new MemoryReplyCache();
      const { stage, turn } = setUp([], { cache });
      expect(await failureOf(stage.attempt(turn))).toMatchObject({ code: 'no_provider_available' });
      cache.entries.set(keyOfTurn(cache, turn), { text: 'Remembered', provider: 'a', model: 'a-model' });
      expect(await stage.attempt(turn)).toMatchObject({ provider: { name: 'cache' }, degraded: true });
    });

    it('does not answer a request it holds no reply for', async () => {
      const cache = new MemoryReplyCache();
      const { stage, turn } = setUp([new ScriptedProvider('a', { error: unavailable() })], { cache });
      cache.entries.set('another request', { text: 'Remembered', provider: 'a', model: 'a-model' });
      expect(await failureOf(stage.attempt(turn))).toMatchObject({ code: 'provider_unavailable' });
    });

    it('still applies the output policy to a cached reply', async () => {
      const cache = new MemoryReplyCache();
      const { stage, turn } = setUp([new ScriptedProvider('a', { error: unavailable() })], { cache });
      cache.entries.set(keyOfTurn(cache, turn), { text: 'Well, the butler did it.', provider: 'a', model: 'a-model' });
      expect(await failureOf(stage.attempt(turn))).toMatchObject({ code: 'content_blocked' });
    });
  });
});
