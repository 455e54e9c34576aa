import type { ErrorCode } from '../errors/error-codes.js';

/** One message of the conversation as the provider sees it (the persona goes separately). */
export interface ProviderMessage {
  role: 'user' | 'assistant';
  content: string;
}

/** A tool offered to the model: its name, what it does, and a JSON Schema for its arguments. */
export interface ToolDeclaration {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}

/** A call the model asked for. `arguments` is whatever the model sent (checked later, never trusted). */
export interface ProviderToolCall {
  /** The provider's id for the call (OpenAI's `call_…`; Gemini's optional `id`). */
  id?: string;
  name: string;
  arguments: unknown;
}

/** One earlier step of this reply: what the model said and asked for, and what each call gave back. */
export interface ToolExchange {
  text: string;
  calls: Array<ProviderToolCall & { response: Record<string, unknown> }>;
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
  /** The tools the model may call; none when absent or empty. */
  tools?: ToolDeclaration[];
  /** The reply's earlier tool steps, after `messages`, oldest first. */
  toolExchanges?: ToolExchange[];
  /** `none`: the tools stay declared (the history mentions them) but the model must answer in text. */
  toolChoice?: 'auto' | 'none';
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
      /** The model asks for these calls before it answers (the text may then be empty). */
      toolCalls?: ProviderToolCall[];
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
