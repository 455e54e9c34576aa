import type { Alternatives, Locale, LorebookFiring, ManifestAttempt, StreamEvent, TurnResult } from '@parley/api-types';
import type { MessageEntity } from '../chats/message.entity.js';
import { AppError } from '../errors/app-error.js';
import type { RetrySubject } from '../resilience/retry-subject.js';
import type { LocalTurn } from '../lifecycle/local-turns.js';
import type { TurnSink } from './turn-sink.js';
import type { DebugFault } from './debug-faults.js';

/** What is sent to the provider, and which stored messages it was built from. */
export interface PromptPlan {
  systemInstruction: string;
  messages: Array<{ role: 'user' | 'assistant'; content: string }>;
  includedMessageIds: string[];
  omittedMessageIds: string[];
  personaVersion: string;
  /** The lorebook entries inserted, with the keyword that fired each. */
  lorebookEntries?: LorebookFiring[];
  /** The tools offered to the model (the character's, those that exist here). */
  tools?: string[];
}

export interface TurnInit {
  userId: string;
  chatId: string;
  characterId: string;
  /** The chat's language: the persona's and the moderation lists'. */
  locale: Locale;
  userMessage: MessageEntity;
  assistantMessage: MessageEntity;
  prompt: PromptPlan;
  /** Tokens reserved for this reply at persist-before. */
  reserve: number;
  timeoutMs: number;
  /** The idempotency record the turn answers for, when the request carried a key. */
  idempotencyRecordId: string | null;
  /** A development fault to inject into every provider attempt. */
  fault: DebugFault | undefined;
  /** The user's message was stored by this turn (send, edit): no earlier reply to it has tool calls. */
  freshUserMessage?: boolean;
  /** Each message's place among its siblings, as the turn's results show it (‹ n/m ›). */
  alternatives?: { user: Alternatives; assistant: Alternatives };
  /** For a continue: the reply's text so far (the new text is appended to it) and the segment. */
  continuation?: { prefix: string; segment: number };
}

/**
 * One turn while it runs: its reply's text so far, its attempts, its deadline, and the sink its
 * events go to. It implements the small interfaces the lower layers own (the retry policy's
 * subject, this instance's list of running turns), so they need nothing else of it.
 */
export class Turn implements RetrySubject, LocalTurn {
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
  private announcedProvider: string | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly cleanups: Array<() => void> = [];

  constructor(
    readonly init: TurnInit,
    readonly sink: TurnSink,
    private readonly onRetry: (turn: Turn, delayMs: number, reason: unknown) => void = () => undefined,
  ) {
    this.timer = setTimeout(() => this.deadline.abort(new AppError('turn_timeout')), init.timeoutMs);
    this.timer.unref();
    this.text = init.continuation?.prefix ?? '';
  }

  get messageId(): string {
    return this.init.assistantMessage.id;
  }

  get signal(): AbortSignal {
    return this.deadline.signal;
  }

  /** Text of this turn reached the client (a continuation's earlier text does not count). */
  get hasStreamedText(): boolean {
    return this.text.length > (this.init.continuation?.prefix.length ?? 0);
  }

  /** A reply that has shown text cannot start over: the client would see it twice. */
  mayRetry(): boolean {
    return !this.hasStreamedText;
  }

  remainingMs(): number {
    return this.startedAt + this.init.timeoutMs - Date.now();
  }

  retrying(delayMs: number, reason: unknown): void {
    this.retries++;
    const last = this.attempts.at(-1);
    if (last) last.retryDelayMs = Math.round(delayMs);
    this.onRetry(this, delayMs, reason);
  }

  /** Ends the turn early (cancel, unattended cap, shutdown): the upstream call is aborted with the reason. */
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

  /** Publishes an event of this turn to its sink. */
  publish(event: StreamEvent): void {
    this.sink.send(event);
  }

  /** The provider about to answer; announced when it is the first or another one (failover). */
  announceProvider(event: Omit<Extract<StreamEvent, { type: 'provider' }>, 'type' | 'messageId'>): void {
    if (event.provider === this.announcedProvider) return;
    this.announcedProvider = event.provider;
    this.publish({ type: 'provider', messageId: this.messageId, ...event });
  }

  /** More of the reply's text reached the client. */
  appendText(text: string): void {
    if (text.length === 0) return;
    this.text += text;
    this.publish({ type: 'delta', messageId: this.messageId, text });
  }

  /** Runs when the turn is over (committed or failed). */
  onSettle(cleanup: () => void): void {
    this.cleanups.push(cleanup);
  }

  /** The turn is over: its deadline and helpers stop. */
  settle(): void {
    clearTimeout(this.timer);
    for (const cleanup of this.cleanups.splice(0)) cleanup();
  }
}
