import type { Request } from 'express';
import type { Locale, ManifestAttempt, TurnResult } from '@parley/api-types';
import type { MessageEntity } from '../chats/message.entity.js';
import { AppError } from '../errors/app-error.js';
import type { SseWriter } from './sse-writer.js';

/** What is sent to the provider, and which stored messages it was built from. */
export interface PromptPlan {
  systemInstruction: string;
  messages: Array<{ role: 'user' | 'assistant'; content: string }>;
  includedMessageIds: string[];
  omittedMessageIds: string[];
  personaVersion: string;
}

export interface TurnInit {
  userId: string;
  chatId: string;
  /** Tokens reserved for this reply at persist-before. */
  reserve: number;
  /** The chat's language: the persona's and the moderation lists'. */
  locale: Locale;
  characterId: string;
  userMessage: MessageEntity;
  assistantMessage: MessageEntity;
  prompt: PromptPlan;
  sse: SseWriter | undefined;
  timeoutMs: number;
}

export interface TurnHooks {
  onRetry(turn: Turn, delayMs: number, reason: unknown): void;
  onFail(turn: Turn, error: unknown): Promise<void>;
}

/**
 * Everything one turn carries across its attempts. Lives on the request: the retry interceptor
 * re-runs the handler, which finds the turn here instead of persisting the user's message again.
 */
export class Turn {
  /** The reply's text as far as it reached the client. */
  text = '';
  retries = 0;
  /** The committed turn, once there is one. */
  result: TurnResult | undefined;
  /** Set when moderation (ours or the provider's) blocked the reply; stored on the message. */
  moderation: Record<string, unknown> | null = null;
  readonly attempts: ManifestAttempt[] = [];
  /** Fires at the turn's deadline or when it is cancelled; every upstream call listens to it. */
  readonly deadline = new AbortController();
  readonly startedAt = Date.now();
  private readonly timer: NodeJS.Timeout;
  private readonly cleanups: Array<() => void> = [];

  constructor(
    readonly init: TurnInit,
    private readonly hooks: TurnHooks,
  ) {
    this.timer = setTimeout(() => this.deadline.abort(new AppError('turn_timeout')), init.timeoutMs);
    this.timer.unref();
  }

  get sse(): SseWriter | undefined {
    return this.init.sse;
  }

  get hasStreamedText(): boolean {
    return this.text.length > 0;
  }

  remainingMs(): number {
    return this.startedAt + this.init.timeoutMs - Date.now();
  }

  /** Ends the turn early (cancel, unattended cap): the upstream call is aborted with the reason. */
  abort(reason: AppError): void {
    if (!this.deadline.signal.aborted) this.deadline.abort(reason);
  }

  /** The client went away: the reply goes on, but no longer than `maxMs` from now. */
  unattended(maxMs: number): void {
    if (maxMs >= this.remainingMs()) return;
    const timer = setTimeout(() => this.abort(new AppError('turn_timeout')), maxMs);
    timer.unref();
    this.deadline.signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
  }

  announceRetry(delayMs: number, reason: unknown): void {
    this.retries++;
    const last = this.attempts.at(-1);
    if (last) last.retryDelayMs = Math.round(delayMs);
    this.hooks.onRetry(this, delayMs, reason);
  }

  /** Runs when the turn is over (committed or failed). */
  onSettle(cleanup: () => void): void {
    this.cleanups.push(cleanup);
  }

  /** The turn is over (committed or failed): its deadline and helpers stop. */
  settle(): void {
    clearTimeout(this.timer);
    for (const cleanup of this.cleanups.splice(0)) cleanup();
  }

  async fail(error: unknown): Promise<void> {
    this.settle();
    await this.hooks.onFail(this, error);
  }
}

const TURN = Symbol('turn');
type WithTurn = Request & { [TURN]?: Turn };

export function turnOf(request: Request): Turn | undefined {
  return (request as WithTurn)[TURN];
}

export function attachTurn(request: Request, turn: Turn): void {
  (request as WithTurn)[TURN] = turn;
}

/** A turn's outcome as the client will receive it: the committed turn, or the problem. */
export interface TurnOutcome {
  status: number;
  body: unknown;
}

export type OutcomeListener = (turn: Turn, outcome: TurnOutcome) => Promise<void>;
const OUTCOME_LISTENERS = Symbol('outcomeListeners');
type WithListeners = Request & { [OUTCOME_LISTENERS]?: OutcomeListener[] };

/** Runs once the turn has ended (committed or failed), before the client hears of it. */
export function onTurnEnded(request: Request, listener: OutcomeListener): void {
  const holder = request as WithListeners;
  (holder[OUTCOME_LISTENERS] ??= []).push(listener);
}

export async function notifyTurnEnded(request: Request, turn: Turn, outcome: TurnOutcome): Promise<void> {
  for (const listener of (request as WithListeners)[OUTCOME_LISTENERS] ?? []) await listener(turn, outcome);
}
