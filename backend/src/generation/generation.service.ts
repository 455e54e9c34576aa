import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In } from 'typeorm';
import type { Request, Response } from 'express';
import type { Locale, ManifestAttempt, TurnResult, ValidationIssue } from '@parley/api-types';
import { AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import { ProblemFactory, toAppError } from '../errors/problem.filter.js';
import { ChatEntity } from '../chats/chat.entity.js';
import { MessageEntity } from '../chats/message.entity.js';
import { toMessageDto } from '../chats/chat.mapper.js';
import { CharacterEntity } from '../characters/character.entity.js';
import { ProviderRegistry } from '../providers/provider-registry.js';
import {
  ProviderError,
  type LlmProvider,
  type ProviderChunk,
  type ProviderRequest,
} from '../providers/provider.port.js';
import { watchStream } from '../resilience/stream-watchdog.js';
import { DebugFaults } from './debug-faults.js';
import { SseWriter } from './sse-writer.js';
import { TurnRateLimiter } from './turn-rate-limiter.js';
import { TurnStore } from './turn-store.js';
import { LocalTurns } from '../lifecycle/local-turns.js';
import { ModerationService } from '../moderation/moderation.service.js';
import { ShutdownService } from '../lifecycle/shutdown.service.js';
import { GenerationMetrics } from './generation.metrics.js';
import { Checkpoints } from './checkpoints.js';
import { Turn, attachTurn, notifyTurnEnded, turnOf, type PromptPlan } from './turn-context.js';

export interface TurnInput {
  request: Request;
  response: Response;
  userId: string;
  chatId: string;
  /** Server-sent events (Accept: text/event-stream) rather than one JSON body. */
  stream: boolean;
}

type ProviderReply = Extract<ProviderChunk, { type: 'done' }> & { text: string };

// Above any seq (an integer column): "before every message".
const MAX_SEQ = 2_147_483_647;

/**
 * One chat turn (DESIGN §5): checks, persist-before, prompt from the database, the provider chain
 * with failover, persist-after or the failure path. Retries and the chat breaker are applied
 * around it by the route's interceptors; each retry calls `send`/`regenerate` again and finds the
 * prepared turn on the request.
 */
@Injectable()
export class GenerationService {
  private readonly logger = new Logger(GenerationService.name);
  private readonly turnLogger = new Logger('Turn');

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly store: TurnStore,
    private readonly checkpoints: Checkpoints,
    private readonly registry: ProviderRegistry,
    private readonly problems: ProblemFactory,
    private readonly limiter: TurnRateLimiter,
    private readonly faults: DebugFaults,
    private readonly local: LocalTurns,
    private readonly moderation: ModerationService,
    private readonly shutdown: ShutdownService,
    private readonly metrics: GenerationMetrics,
  ) {}

  async send(input: TurnInput, content: string): Promise<TurnResult | undefined> {
    const turn = turnOf(input.request) ?? (await this.prepareSend(input, content));
    return this.deliver(turn, await this.attempt(turn, input.request));
  }

  async regenerate(input: TurnInput, messageId: string): Promise<TurnResult | undefined> {
    const turn = turnOf(input.request) ?? (await this.prepareRegenerate(input, messageId));
    return this.deliver(turn, await this.attempt(turn, input.request));
  }

  // A streamed turn has already been delivered as events; only the JSON form returns a body.
  private deliver(turn: Turn, result: TurnResult): TurnResult | undefined {
    return turn.sse ? undefined : result;
  }

  private async prepareSend(input: TurnInput, content: string): Promise<Turn> {
    this.shutdown.assertAccepting();
    this.faults.beforeTurn(input.request);
    this.limiter.take(input.userId);
    const { chat, character } = await this.loadChat(input);
    // Before anything is stored or sent anywhere.
    this.assertAllowedInput(content, chat.locale, { location: 'body', pointer: '/content' });
    const prompt = await this.store.promptPlan(
      chat.id,
      { before: MAX_SEQ, window: this.config.generation.historyWindow, next: content },
      this.persona(chat, character),
    );
    const reserve = this.estimate(prompt);
    const { user, assistant } = await this.store.persistSend(input.userId, chat, content, reserve);
    prompt.includedMessageIds.push(user.id);
    return this.begin(input, chat, user, assistant, prompt, reserve);
  }

  private async prepareRegenerate(input: TurnInput, messageId: string): Promise<Turn> {
    this.shutdown.assertAccepting();
    this.faults.beforeTurn(input.request);
    this.limiter.take(input.userId);
    const { chat, character } = await this.loadChat(input);
    const messages = this.dataSource.getRepository(MessageEntity);
    const target = await messages.findOneBy({ id: messageId, chatId: chat.id });
    if (!target) throw new AppError('message_not_found');
    const inProgress = await messages.existsBy({ chatId: chat.id, status: In(['pending', 'streaming']) });
    if (inProgress) throw new AppError('generation_in_progress');
    const latest = await messages.findOne({ where: { chatId: chat.id, role: 'assistant' }, order: { seq: 'DESC' } });
    if (target.role !== 'assistant' || !target.replyToId || latest?.id !== target.id) {
      throw new AppError('message_not_regenerable');
    }
    const user = await messages.findOneByOrFail({ id: target.replyToId });
    // The policy may have changed since the message was sent: it is checked again.
    this.assertAllowedInput(user.content, chat.locale, { location: 'path', pointer: '/messageId' });
    const prompt = await this.store.promptPlan(
      chat.id,
      { before: MAX_SEQ, window: this.config.generation.historyWindow, replacing: user.id },
      this.persona(chat, character),
    );
    const reserve = this.estimate(prompt);
    const assistant = await this.store.persistRegenerate(input.userId, chat.id, user.id, reserve);
    return this.begin(input, chat, user, assistant, prompt, reserve);
  }

  private async loadChat(input: TurnInput): Promise<{ chat: ChatEntity; character: CharacterEntity }> {
    // One query (findOne with a relation adds a DISTINCT pre-query for its implicit limit).
    const chat = await this.dataSource
      .getRepository(ChatEntity)
      .createQueryBuilder('chat')
      .innerJoinAndSelect('chat.character', 'character')
      .where('chat.id = :chatId AND chat.userId = :userId', { chatId: input.chatId, userId: input.userId })
      .getOne();
    if (!chat?.character) throw new AppError('chat_not_found');
    return { chat, character: chat.character };
  }

  private assertAllowedInput(text: string, locale: Locale, where: Pick<ValidationIssue, 'location' | 'pointer'>): void {
    const verdict = this.moderation.check(text, 'input', locale);
    if (verdict.allowed) return;
    throw new AppError('content_blocked', {
      errors: [{ ...where, message: `blocked by the content policy: ${verdict.category}`, keyword: 'content_policy' }],
    });
  }

  /** Checks a reply's text before any of it is shown or committed; a block is final (no retry, no failover). */
  private assertAllowedOutput(turn: Turn, text: string, provider: LlmProvider): void {
    const verdict = this.moderation.check(text, 'output', turn.init.locale);
    if (verdict.allowed) return;
    turn.moderation = { ...verdict, stage: 'output' };
    throw new ProviderError('content_blocked', provider.name, {
      retryable: false,
      blockCategory: verdict.category ?? 'unspecified',
      detail: 'blocked by the content policy',
    });
  }

  private persona(chat: ChatEntity, character: CharacterEntity) {
    const text = character.translations[chat.locale];
    return { text: text.persona, greeting: text.greeting, version: `${character.id}@${character.version}` };
  }

  // Enough for any reply: the prompt at two characters a token (above every tokenizer's rate for
  // Latin text; CJK may exceed it, and the settlement then takes the rest, never below zero) plus
  // the longest reply allowed.
  private estimate(prompt: PromptPlan): number {
    const chars = prompt.systemInstruction.length + prompt.messages.reduce((sum, m) => sum + m.content.length, 0);
    return Math.ceil(chars / 2) + this.config.generation.maxOutputTokens;
  }

  private begin(
    input: TurnInput,
    chat: ChatEntity,
    userMessage: MessageEntity,
    assistantMessage: MessageEntity,
    prompt: PromptPlan,
    reserve: number,
  ): Turn {
    const sse = input.stream ? new SseWriter(input.response, assistantMessage.id) : undefined;
    const turn = new Turn(
      {
        userId: input.userId,
        chatId: chat.id,
        reserve,
        locale: chat.locale,
        characterId: chat.characterId,
        userMessage,
        assistantMessage,
        prompt,
        sse,
        timeoutMs: this.config.resilience.turnTimeoutMs,
      },
      {
        onRetry: (current, delayMs, reason) => {
          const { code } = toAppError(reason);
          this.metrics.retries.inc({ reason: code });
          current.sse?.send('retry', { attempt: current.retries + 1, delayMs: Math.round(delayMs), reason: code });
        },
        onFail: async (current, error) => {
          const { problem } = this.problems.build(error, input.request);
          try {
            if (problem.code === 'turn_cancelled') {
              await this.store.finishCancelled(
                input.userId,
                assistantMessage.id,
                current.text,
                this.manifest(current, null),
              );
            } else {
              await this.store.fail(
                input.userId,
                assistantMessage.id,
                problem.code,
                this.manifest(current, null),
                current.attempts.length,
                current.moderation,
              );
            }
          } catch (storeError) {
            // The sweep for interrupted turns marks it later; the client still hears the outcome.
            this.logger.error({ event: 'turn_fail_not_stored', messageId: assistantMessage.id }, String(storeError));
          }
          const provider = current.attempts.at(-1)?.provider ?? 'none';
          const outcome = problem.code === 'turn_cancelled' ? 'cancelled' : 'failed';
          this.metrics.turnDuration.observe({ outcome, provider }, (Date.now() - current.startedAt) / 1000);
          this.logTurn(current, 'turn_failed', provider, problem.code);
          await notifyTurnEnded(input.request, current, { status: problem.status, body: problem });
          current.sse?.send('error', problem);
          current.sse?.end();
        },
      },
    );
    attachTurn(input.request, turn);
    this.local.add(turn);
    const unwatch = this.checkpoints.watch(turn);
    turn.deadline.signal.addEventListener('abort', unwatch, { once: true });
    turn.onSettle(() => {
      unwatch();
      this.local.remove(turn);
    });
    // A disconnect is not a stop: the reply goes on (for a bounded time) and is committed.
    input.response.once('close', () => {
      if (!input.response.writableFinished) turn.unattended(this.config.trust.unattendedReplyMaxMs);
    });
    sse?.send('user_message', { message: toMessageDto(userMessage) });
    return turn;
  }

  /** One attempt: the providers in failover order until one answers. */
  private async attempt(turn: Turn, request: Request): Promise<TurnResult> {
    let lastError: unknown;
    const providers = this.registry.ordered();
    for (const [index, provider] of providers.entries()) {
      if (turn.deadline.signal.aborted) throw turn.deadline.signal.reason;
      const failover = index > 0;
      turn.sse?.send('provider', {
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
        const forced = this.faults.providerFailure(request, provider.name);
        const reply = await this.registry.run(provider, () =>
          forced ? Promise.reject(forced) : this.call(turn, provider),
        );
        record.durationMs = Date.now() - started;
        record.model = reply.model;
        this.metrics.providerCalls.inc({ provider: provider.name, outcome: 'success' });
        return await this.finish(turn, provider, reply, request);
      } catch (error) {
        record.durationMs = Date.now() - started;
        record.outcome = 'error';
        record.errorCode = toAppError(error).code;
        this.metrics.providerCalls.inc({ provider: provider.name, outcome: 'error' });
        this.metrics.providerErrors.inc({ provider: provider.name, code: record.errorCode });
        if (error instanceof ProviderError && error.code === 'content_blocked' && !turn.moderation) {
          turn.moderation = { ...this.moderation.fromProvider(error.details.blockCategory ?? ''), stage: 'output' };
        }
        if (turn.hasStreamedText || !(error instanceof ProviderError) || error.code === 'content_blocked') throw error;
        lastError = error;
      }
    }
    throw lastError ?? new AppError('no_provider_available', { retryAfterSeconds: 5 });
  }

  private async call(turn: Turn, provider: LlmProvider): Promise<ProviderReply> {
    const upstream = new AbortController();
    const request: ProviderRequest = {
      systemInstruction: turn.init.prompt.systemInstruction,
      messages: turn.init.prompt.messages,
      signal: AbortSignal.any([turn.deadline.signal, upstream.signal]),
      maxOutputTokens: this.config.generation.maxOutputTokens,
    };
    const { firstTokenTimeoutMs, stallTimeoutMs } = this.config.resilience;
    if (!turn.sse) {
      // One call, bounded like the wait for a first token.
      const timer = setTimeout(
        () => upstream.abort(new ProviderError('provider_timeout', provider.name, { retryable: true })),
        firstTokenTimeoutMs,
      );
      try {
        const reply = await provider.generate(request);
        this.assertAllowedOutput(turn, reply.text, provider);
        this.metrics.firstToken.observe({ provider: provider.name }, (Date.now() - turn.startedAt) / 1000);
        return { ...reply, type: 'done' };
      } finally {
        clearTimeout(timer);
      }
    }
    let done: Extract<ProviderChunk, { type: 'done' }> | undefined;
    const chunks = watchStream(
      provider.stream(request),
      { firstChunkMs: firstTokenTimeoutMs, stallMs: stallTimeoutMs },
      upstream,
      provider.name,
    );
    for await (const chunk of chunks) {
      if (chunk.type === 'done') {
        done = chunk;
        continue;
      }
      this.assertAllowedOutput(turn, turn.text + chunk.text, provider);
      if (!turn.hasStreamedText)
        this.metrics.firstToken.observe({ provider: provider.name }, (Date.now() - turn.startedAt) / 1000);
      turn.text += chunk.text;
      turn.sse.delta(chunk.text);
    }
    if (!done)
      throw new ProviderError('provider_unavailable', provider.name, {
        retryable: true,
        detail: 'stream ended without a finish',
      });
    return { ...done, text: turn.text };
  }

  private async finish(turn: Turn, provider: LlmProvider, reply: ProviderReply, request: Request): Promise<TurnResult> {
    // A last-resort reply is marked degraded and never charged.
    const degraded = this.registry.isFallback(provider);
    const { message, tokenBalance } = await this.store.complete(
      turn.init.userId,
      turn.init.chatId,
      turn.init.assistantMessage.id,
      turn.init.reserve,
      {
        content: reply.text,
        provider: provider.name,
        model: reply.model,
        promptTokens: reply.usage.promptTokens,
        completionTokens: reply.usage.completionTokens,
        degraded,
        attempts: turn.attempts,
        finishReason: reply.finishReason,
        moderation: { allowed: true, policyVersion: this.moderation.policyVersion },
      },
      this.manifest(turn, reply.usage),
    );
    turn.settle();
    const usage = {
      promptTokens: reply.usage.promptTokens,
      completionTokens: reply.usage.completionTokens,
      totalTokens: reply.usage.promptTokens + reply.usage.completionTokens,
    };
    const result: TurnResult = {
      userMessage: toMessageDto(turn.init.userMessage),
      assistantMessage: toMessageDto(message),
      usage,
      retries: turn.retries,
      provider: provider.name,
      model: reply.model,
      degraded,
      tokenBalance,
    };
    turn.result = result;
    this.metrics.turnDuration.observe(
      { outcome: 'complete', provider: provider.name },
      (Date.now() - turn.startedAt) / 1000,
    );
    if (!degraded) this.metrics.tokensCharged.inc(usage.totalTokens);
    this.logTurn(turn, 'turn_completed', provider.name, null);
    await notifyTurnEnded(request, turn, { status: 201, body: result });
    turn.sse?.send('done', result);
    turn.sse?.end();
    return result;
  }

  // One line per turn, with ids and outcome only: never the text.
  private logTurn(
    turn: Turn,
    event: 'turn_completed' | 'turn_failed',
    provider: string,
    errorCode: string | null,
  ): void {
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

  private manifest(turn: Turn, usage: { promptTokens: number; completionTokens: number } | null) {
    const plan: PromptPlan = turn.init.prompt;
    return {
      personaVersion: plan.personaVersion,
      includedMessageIds: plan.includedMessageIds,
      omittedMessageIds: plan.omittedMessageIds,
      attempts: turn.attempts,
      usage: usage && { ...usage, totalTokens: usage.promptTokens + usage.completionTokens },
    };
  }
}
