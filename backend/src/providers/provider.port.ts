import type { ErrorCode } from '../errors/error-codes.js';

/** One message of the conversation as the provider sees it (the persona goes separately). */
export interface ProviderMessage {
  role: 'user' | 'assistant';
  content: string;
}

export interface ProviderRequest {
  /** The character's persona, sent as the system instruction. */
  systemInstruction: string;
  /** The history, oldest first, ending with the user's message. */
  messages: ProviderMessage[];
  /** Aborts the upstream call (client stop, timeout, shutdown). */
  signal: AbortSignal;
  /** Overrides the provider's configured model. */
  model?: string;
  /** Upper bound on the reply's length. */
  maxOutputTokens?: number;
}

export interface ProviderUsage {
  promptTokens: number;
  completionTokens: number;
}

/** What a provider yields while answering: text as it arrives, then exactly one `done`. */
export type ProviderChunk =
  | { type: 'delta'; text: string }
  | {
      type: 'done';
      /** `stop` is a complete reply; `max_tokens` a reply cut at the length limit. */
      finishReason: 'stop' | 'max_tokens';
      usage: ProviderUsage;
      model: string;
    };

/** The codes a provider failure is classified into (a subset of the contract's ErrorCode). */
export type ProviderErrorCode = Extract<
  ErrorCode,
  | 'provider_rate_limited'
  | 'provider_quota_exhausted'
  | 'provider_unavailable'
  | 'provider_timeout'
  | 'provider_empty_response'
  | 'provider_invalid_request'
  | 'stream_stalled'
  | 'content_blocked'
>;

/** A classified provider failure. Every adapter throws only this. */
export class ProviderError extends Error {
  constructor(
    readonly code: ProviderErrorCode,
    readonly provider: string,
    readonly details: {
      retryable: boolean;
      /** The provider's own advice on when to retry (429 RetryInfo), in milliseconds. */
      retryAfterMs?: number;
      /** The upstream HTTP status, when there was one. */
      status?: number;
      /** For content_blocked: the provider's category (SAFETY, RECITATION, …). */
      blockCategory?: string;
      /** Developer-facing detail; never user or model text. */
      detail?: string;
      cause?: unknown;
    },
  ) {
    super(details.detail ?? code, { cause: details.cause });
    this.name = 'ProviderError';
  }

  get retryable(): boolean {
    return this.details.retryable;
  }
}

/** The port every LLM adapter implements (gemini, openai-compatible, demo). */
export interface LlmProvider {
  /** Stable name recorded on messages: `gemini`, `openai-compatible`, `demo`. */
  readonly name: string;
  /** The model used when a request names none. */
  readonly defaultModel: string;
  /** True for the local demo provider (replies are marked as demo). */
  readonly isDemo: boolean;
  /** Streams one reply. Throws ProviderError (also from inside the iteration). */
  stream(request: ProviderRequest): AsyncIterable<ProviderChunk>;
  /** One reply in one call (no streaming). Throws ProviderError. */
  generate(request: ProviderRequest): Promise<{ text: string } & Extract<ProviderChunk, { type: 'done' }>>;
  /** A cheap call (listing models) that proves the provider answers. Throws ProviderError. */
  probe(signal: AbortSignal): Promise<void>;
}
