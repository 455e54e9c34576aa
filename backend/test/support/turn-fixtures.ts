import { MemorySharedState } from './memory-shared-state.js';
import { EventEmitter } from 'node:events';
import type { LoggerService } from '@nestjs/common';
import type { ManifestAttempt, Problem, StreamEvent, TurnResult } from '@parley/api-types';
import type { DataSource } from 'typeorm';
import { toMessageDto } from '../../src/chats/chat.mapper.js';
import type { MessageEntity } from '../../src/chats/message.entity.js';
import { loadConfig, type AppConfig } from '../../src/config/app-config.js';
import { GenerationMetrics } from '../../src/generation/generation.metrics.js';
import type { TurnInit } from '../../src/generation/turn.js';
import type { TurnSink } from '../../src/generation/turn-sink.js';
import { LocalTurns } from '../../src/lifecycle/local-turns.js';
import { ProviderRegistry } from '../../src/providers/provider-registry.js';
import { ChatBreakers } from '../../src/resilience/chat-breakers.js';
import { MetricsService } from '../../src/telemetry/metrics.service.js';

// Builders for the unit tests of a turn and its stages, so each spec states only what it is about.

export const CHAT = '0b9d6c3e-8a41-4f0e-b2f7-51c6e2a9d370';
export const USER_MESSAGE = '5e1f9a20-6b7c-4d8e-9f01-a2b3c4d5e6f7';
export const REPLY = '7d3c0a52-3f1e-4c55-9d7e-2b8f0c9a1e64';

/** The app's config from these variables, plus the one it refuses to start without. */
export function unitConfig(env: Record<string, string> = {}): AppConfig {
  return loadConfig({ JWT_SECRET: 'x'.repeat(40), ...env });
}

/** A stored message as persist-before leaves it: the user's complete, the reply pending and empty. */
export function messageEntity(
  id: string,
  role: MessageEntity['role'],
  overrides: Partial<MessageEntity> = {},
): MessageEntity {
  return {
    id,
    chatId: 'chat-1',
    seq: role === 'user' ? 2 : 3,
    role,
    content: role === 'user' ? 'Who took the watch?' : '',
    status: role === 'user' ? 'complete' : 'pending',
    errorCode: null,
    replyToId: null,
    parentId: null,
    provider: null,
    model: null,
    promptTokens: null,
    completionTokens: null,
    attempts: 0,
    degraded: false,
    metadata: {},
    createdAt: new Date('2026-11-28T09:00:00Z'),
    updatedAt: new Date('2026-11-28T09:00:00Z'),
    ...overrides,
  };
}

export function turnInit(overrides: Partial<TurnInit> = {}): TurnInit {
  return {
    userId: 'user-1',
    chatId: 'chat-1',
    characterId: 'detective',
    locale: 'en',
    userMessage: messageEntity(USER_MESSAGE, 'user'),
    assistantMessage: messageEntity(REPLY, 'assistant'),
    prompt: {
      systemInstruction: 'You are Detective Harlan Grey.',
      messages: [{ role: 'user', content: 'Who took the watch?' }],
      includedMessageIds: [],
      omittedMessageIds: [],
      personaVersion: 'detective@1',
    },
    reserve: 100,
    timeoutMs: 30_000,
    idempotencyRecordId: null,
    fault: undefined,
    ...overrides,
  };
}

/** The committed turn for these stored messages: the reply complete with `Hello`. */
export function turnResult(
  stored: { userMessage: MessageEntity; assistantMessage: MessageEntity },
  overrides: Partial<TurnResult> = {},
): TurnResult {
  return {
    userMessage: toMessageDto(stored.userMessage),
    assistantMessage: { ...toMessageDto(stored.assistantMessage), status: 'complete', content: 'Hello' },
    usage: { promptTokens: 10, completionTokens: 5, totalTokens: 15 },
    retries: 0,
    provider: 'demo',
    model: 'm',
    degraded: false,
    tokenBalance: 985,
    ...overrides,
  };
}

export function problemOf(code: Problem['code'], status: number, overrides: Partial<Problem> = {}): Problem {
  return {
    type: `urn:parley:problem:${code}`,
    title: code,
    status,
    code,
    messageKey: `errors.${code}`,
    message: code,
    retryable: false,
    retryAfterSeconds: null,
    breakerState: null,
    requestId: 'first-request',
    ...overrides,
  };
}

/** A failed provider attempt of the turn's manifest. */
export function failedAttempt(attempt: number, overrides: Partial<ManifestAttempt> = {}): ManifestAttempt {
  return {
    attempt,
    provider: 'demo',
    model: 'm',
    startedAt: '2026-11-28T09:00:00.000Z',
    durationMs: 10,
    outcome: 'error',
    errorCode: 'provider_unavailable',
    retryDelayMs: null,
    failover: false,
    ...overrides,
  };
}

/** A sink that keeps what the turn published, so tests read the turn's events in order. */
export class RecordingSink implements TurnSink {
  readonly events: StreamEvent[] = [];

  constructor(readonly streaming = true) {}

  send(event: StreamEvent): void {
    this.events.push(event);
  }

  end(): void {}

  onDisconnect(): void {}

  get deltas(): string[] {
    return this.events.flatMap((e) => (e.type === 'delta' ? [e.text] : []));
  }

  get providers(): Array<{ provider: string; failover: boolean }> {
    return this.events.flatMap((e) => (e.type === 'provider' ? [{ provider: e.provider, failover: e.failover }] : []));
  }
}

/** The HTTP connection of the JSON form, as far as its sink reads it. */
export class Connection extends EventEmitter {
  writableFinished = false;
}

/** Keeps what is logged, so a test can read it (and the output stays quiet). */
export class RecordingLogger implements LoggerService {
  readonly lines: Array<{ level: string; message: unknown; context: unknown }> = [];

  log(message: unknown, context?: unknown): void {
    this.lines.push({ level: 'log', message, context });
  }

  warn(message: unknown, ...rest: unknown[]): void {
    this.lines.push({ level: 'warn', message, context: rest.at(-1) });
  }

  error(message: unknown, ...rest: unknown[]): void {
    this.lines.push({ level: 'error', message, context: rest.at(-1) });
  }

  get warnings(): unknown[] {
    return this.lines.filter((line) => line.level === 'warn').map((line) => line.message);
  }
}

/** The turn's metrics on a registry of their own. */
export function generationMetrics(config: AppConfig, registry = new ProviderRegistry([], config)): GenerationMetrics {
  // The data source is read only when metrics are scraped, which unit tests never do.
  return new GenerationMetrics(
    new MetricsService(),
    registry,
    new ChatBreakers(config, new MemorySharedState()),
    new LocalTurns(),
    {} as unknown as DataSource,
  );
}

/** The failure of a call that must fail. */
export async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('the call succeeded');
}
