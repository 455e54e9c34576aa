import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import type { ChatCompletionMessageParam, CompletionUsage } from 'openai/resources';
import {
  ProviderError,
  type LlmProvider,
  type ProviderChunk,
  type ProviderRequest,
  type ProviderToolCall,
  type ProviderUsage,
} from '../provider.port.js';

/** Puts together tool calls that arrive in pieces (a stream sends the arguments a few characters at a time). */
class ToolCallAssembler {
  private readonly calls = new Map<number, { id?: string; name: string; arguments: string }>();

  add(piece: { index: number; id?: string; function?: { name?: string; arguments?: string } }): void {
    const call = this.calls.get(piece.index) ?? { name: '', arguments: '' };
    if (piece.id) call.id = piece.id;
    if (piece.function?.name) call.name += piece.function.name;
    if (piece.function?.arguments) call.arguments += piece.function.arguments;
    this.calls.set(piece.index, call);
  }

  /** The calls in order; arguments that are not JSON stay the raw text (the schema check refuses them). */
  finish(): ProviderToolCall[] {
    return [...this.calls.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, call]) => ({
        ...(call.id ? { id: call.id } : {}),
        name: call.name,
        arguments: parseArguments(call.arguments),
      }));
  }
}

function parseArguments(text: string): unknown {
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export interface OpenAiCompatibleOptions {
  /** Recorded on messages; lets two compatible servers (say OpenRouter and a local vLLM) be told apart. */
  name?: string;
  /** Ends in the API version, e.g. `https://api.openai.com/v1` or `http://localhost:11434/v1`. */
  baseUrl: string;
  apiKey: string;
  model: string;
  /** Bounds the wait for a stream's headers or a whole non-streamed reply; Parley's own timers bound the stream. */
  requestTimeoutMs?: number;
  /**
   * Asks for a final usage chunk (`stream_options.include_usage`). Mistral's API rejects the field
   * with 422 (it sends usage unasked), so its configuration turns this off.
   */
  includeStreamUsage?: boolean;
}

type DoneChunk = Extract<ProviderChunk, { type: 'done' }>;

// Matches the 30 s turn deadline: past that no caller is waiting anyway.
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const SDK_TIMEOUT_MARGIN_MS = 1_000;

/**
 * An adapter for any server speaking OpenAI's chat-completions protocol (OpenAI, Mistral,
 * OpenRouter, Ollama, vLLM), through the official `openai` SDK.
 */
export class OpenAiCompatibleProvider implements LlmProvider {
  readonly name: string;
  readonly defaultModel: string;
  readonly isDemo = false;
  private readonly client: OpenAI;
  private readonly includeStreamUsage: boolean;
  private readonly requestTimeoutMs: number;

  constructor(options: OpenAiCompatibleOptions) {
    this.name = options.name ?? 'openai-compatible';
    this.defaultModel = options.model;
    this.includeStreamUsage = options.includeStreamUsage ?? true;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.client = new OpenAI({
      baseURL: options.baseUrl,
      // Local servers (Ollama, vLLM) need no key, but the SDK refuses to start without one.
      apiKey: options.apiKey || 'unused',
      // Parley owns retries (backoff, deadline, breaker); SDK retries would multiply them.
      maxRetries: 0,
      // A backstop only: our own deadline (see `call`) fires first and is classified reliably.
      timeout: this.requestTimeoutMs + SDK_TIMEOUT_MARGIN_MS,
      // The SDK logs raw stream data on parse errors, which would put model text in logs.
      logLevel: 'off',
      // Otherwise read from OPENAI_* variables behind the config module's back.
      organization: null,
      project: null,
      adminAPIKey: null,
      webhookSecret: null,
    });
  }

  async *stream(request: ProviderRequest): AsyncGenerator<ProviderChunk> {
    const model = request.model ?? this.defaultModel;
    let servedModel = model;
    let finishReason: string | null = null;
    let usage: CompletionUsage | undefined;
    let completionChars = 0;
    const calls = new ToolCallAssembler();
    try {
      const stream = await this.call(request.signal, (signal) =>
        this.client.chat.completions.create(
          {
            ...this.body(request, model),
            stream: true,
            ...(this.includeStreamUsage ? { stream_options: { include_usage: true } } : {}),
          },
          { signal },
        ),
      );
      for await (const chunk of stream) {
        if (typeof chunk !== 'object' || chunk === null) throw this.malformed();
        if (chunk.model) servedModel = chunk.model;
        // The usage chunk comes last with no choices; some servers put usage on the finish chunk instead.
        if (chunk.usage) usage = chunk.usage;
        const choice = chunk.choices?.[0];
        if (!choice) continue;
        const text = choice.delta?.content;
        if (text) {
          completionChars += text.length;
          yield { type: 'delta', text };
        }
        for (const piece of choice.delta?.tool_calls ?? []) calls.add(piece);
        if (choice.finish_reason) finishReason = choice.finish_reason;
      }
    } catch (error) {
      throw this.classify(error, request.signal);
    }
    // The SDK ends the iteration quietly when the request is aborted; that is not a finished reply.
    request.signal.throwIfAborted();
    yield this.done(request, finishReason, completionChars, usage, servedModel, calls.finish());
  }

  async generate(request: ProviderRequest): Promise<{ text: string } & DoneChunk> {
    const model = request.model ?? this.defaultModel;
    try {
      const completion = await this.call(request.signal, (signal) =>
        this.client.chat.completions.create({ ...this.body(request, model), stream: false }, { signal }),
      );
      // A 200 that is not JSON comes back from the SDK as a string.
      if (typeof completion !== 'object' || completion === null || !Array.isArray(completion.choices)) {
        throw this.malformed();
      }
      const choice = completion.choices[0];
      const text = choice?.message?.content ?? '';
      const calls = new ToolCallAssembler();
      for (const [index, call] of (choice?.message?.tool_calls ?? []).entries()) {
        if (call.type === 'function') calls.add({ index, id: call.id, function: call.function });
      }
      const done = this.done(
        request,
        choice?.finish_reason ?? null,
        text.length,
        completion.usage,
        completion.model || model,
        calls.finish(),
      );
      return { ...done, text };
    } catch (error) {
      throw this.classify(error, request.signal);
    }
  }

  async probe(signal: AbortSignal): Promise<void> {
    await this.call(signal, (combined) => this.client.models.list({ signal: combined }));
  }

  /**
   * Runs one SDK call under the caller's signal plus our deadline, which covers the response
   * headers of a stream and the whole body otherwise. Our own timer rather than the SDK's: the
   * SDK spots its timeout by error name or a /timed out/ regex, which misses an AbortError from
   * another realm (jest's VM modules), and it leaves its listener on the caller's signal.
   */
  private async call<T>(signal: AbortSignal, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), this.requestTimeoutMs);
    try {
      return await run(AbortSignal.any([signal, deadline.signal]));
    } catch (error) {
      if (!signal.aborted && deadline.signal.aborted) {
        throw this.error('provider_timeout', true, { detail: `no response within ${this.requestTimeoutMs} ms` });
      }
      throw this.classify(error, signal);
    } finally {
      clearTimeout(timer);
    }
  }

  private body(request: ProviderRequest, model: string) {
    const messages: ChatCompletionMessageParam[] = [];
    if (request.systemInstruction) messages.push({ role: 'system', content: request.systemInstruction });
    for (const message of request.messages) {
      messages.push(
        message.role === 'user'
          ? { role: 'user', content: message.content }
          : { role: 'assistant', content: message.content },
      );
    }
    for (const [step, exchange] of (request.toolExchanges ?? []).entries()) {
      const ids = exchange.calls.map((call, index) => call.id ?? `call_${step + 1}_${index}`);
      messages.push({
        role: 'assistant',
        content: exchange.text || null,
        tool_calls: exchange.calls.map((call, index) => ({
          id: ids[index],
          type: 'function' as const,
          function: {
            name: call.name,
            arguments: typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments ?? {}),
          },
        })),
      });
      for (const [index, call] of exchange.calls.entries()) {
        messages.push({ role: 'tool', tool_call_id: ids[index], content: JSON.stringify(call.response) });
      }
    }
    const tools = request.tools ?? [];
    return {
      model,
      messages,
      ...(tools.length === 0
        ? {}
        : {
            tools: tools.map((tool) => ({
              type: 'function' as const,
              function: { name: tool.name, description: tool.description, parameters: tool.parameters },
            })),
            ...(request.toolChoice === 'none' ? { tool_choice: 'none' as const } : {}),
          }),
      // `max_tokens`, not `max_completion_tokens`: Mistral rejects the newer field (422) and older
      // Ollama/vLLM builds ignore it, while every compatible server accepts this one. OpenAI's
      // reasoning models are the exception; they are not what a character chat fails over to.
      ...(request.maxOutputTokens === undefined ? {} : { max_tokens: request.maxOutputTokens }),
    };
  }

  /** Turns how the reply ended into the `done` chunk, or the error it really was. */
  private done(
    request: ProviderRequest,
    finishReason: string | null,
    completionChars: number,
    usage: CompletionUsage | null | undefined,
    model: string,
    toolCalls: ProviderToolCall[] = [],
  ): DoneChunk {
    if (finishReason === 'content_filter') throw this.contentBlocked();
    if (toolCalls.length > 0 && finishReason !== null && finishReason !== 'length') {
      return {
        type: 'done',
        finishReason: 'stop',
        usage: this.usage(request, completionChars, usage),
        model,
        toolCalls,
      };
    }
    // A reply without a finish reason was cut off (a proxy or the server gave up mid-way).
    if (finishReason === null) {
      throw this.error('provider_unavailable', true, { detail: 'reply ended without a finish reason' });
    }
    // `error` is Mistral's and `abort` vLLM's way of saying the generation failed part-way.
    if (finishReason === 'error' || finishReason === 'abort') {
      throw this.error('provider_unavailable', true, { detail: `reply ended with finish reason ${finishReason}` });
    }
    if (completionChars === 0) throw this.error('provider_empty_response', true, { detail: 'reply had no text' });
    // `model_length` is Mistral's name for hitting the context limit. Anything else (tool_calls,
    // function_call — never asked for) still ended a reply that has text, so it counts as complete.
    const reason = finishReason === 'length' || finishReason === 'model_length' ? 'max_tokens' : 'stop';
    return { type: 'done', finishReason: reason, usage: this.usage(request, completionChars, usage), model };
  }

  private usage(request: ProviderRequest, completionChars: number, usage: CompletionUsage | null | undefined) {
    if (usage && Number.isFinite(usage.prompt_tokens) && Number.isFinite(usage.completion_tokens)) {
      return { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens } satisfies ProviderUsage;
    }
    // Some servers send no usage (older Ollama/vLLM, or stream usage turned off): estimate at
    // ~4 characters a token so billing still charges something close rather than nothing.
    const promptChars = request.messages.reduce((sum, m) => sum + m.content.length, request.systemInstruction.length);
    return {
      promptTokens: Math.ceil(promptChars / 4),
      completionTokens: Math.ceil(completionChars / 4),
    } satisfies ProviderUsage;
  }

  /** Classifies anything thrown while talking to the server; the caller's abort passes through untouched. */
  private classify(error: unknown, signal: AbortSignal): unknown {
    // The caller knows whether it stopped or timed out; its reason is the answer, not ours.
    if (signal.aborted) return signal.reason;
    if (error instanceof ProviderError) return error;
    if (error instanceof APIConnectionTimeoutError) {
      return this.error('provider_timeout', true, { detail: 'no response headers in time' });
    }
    if (error instanceof APIConnectionError) {
      return this.error('provider_unavailable', true, { detail: 'connection failed', cause: error.cause });
    }
    if (error instanceof APIError) return this.fromApiError(error);
    // JSON.parse's message quotes the data it choked on, which may be model text: keep no cause.
    if (error instanceof SyntaxError) return this.malformed();
    // Undici reports a connection lost mid-body as `TypeError: terminated`, unwrapped by the SDK.
    const name = error instanceof Error ? error.name : typeof error;
    return this.error('provider_unavailable', true, { detail: `response interrupted (${name})`, cause: error });
  }

  // The SDK's message and body carry the server's wording, which may quote the prompt: keep only
  // the status and the machine-readable code, and no cause.
  private fromApiError(error: APIError): ProviderError {
    const status = error.status;
    const code = typeof error.code === 'string' ? error.code : undefined;
    const type = typeof error.type === 'string' ? error.type : undefined;
    const label = [status === undefined ? 'error event in stream' : `HTTP ${status}`, code ?? type]
      .filter(Boolean)
      .join(' ');
    const base = { status, detail: label };
    // An error event inside a 200 stream (OpenRouter does this): the upstream failed mid-reply.
    if (status === undefined) return this.error('provider_unavailable', true, base);
    if (status === 429) {
      if (code === 'insufficient_quota' || type === 'insufficient_quota') {
        return this.error('provider_quota_exhausted', false, base);
      }
      return this.error('provider_rate_limited', true, { ...base, retryAfterMs: retryAfterMs(error.headers) });
    }
    // OpenRouter answers 402 when the account is out of credits.
    if (status === 402) return this.error('provider_quota_exhausted', false, base);
    if (status === 408 || status === 504) return this.error('provider_timeout', true, base);
    if (status >= 500) return this.error('provider_unavailable', true, base);
    // Azure OpenAI refuses a prompt its filter flags with 400 `content_filter`.
    if (code === 'content_filter') return this.contentBlocked(status);
    return this.error('provider_invalid_request', false, base);
  }

  private contentBlocked(status?: number): ProviderError {
    return this.error('content_blocked', false, { status, blockCategory: 'content_filter', detail: 'content_filter' });
  }

  private malformed(): ProviderError {
    return this.error('provider_unavailable', true, { detail: 'malformed response data' });
  }

  private error(
    code: ProviderError['code'],
    retryable: boolean,
    details: Omit<ProviderError['details'], 'retryable'> = {},
  ): ProviderError {
    return new ProviderError(code, this.name, { ...details, retryable });
  }
}

/** `retry-after-ms` (OpenAI's) first, then `retry-after` as seconds or an HTTP date. */
function retryAfterMs(headers: Headers | undefined): number | undefined {
  const ms = Number(headers?.get('retry-after-ms')?.trim() || Number.NaN);
  if (Number.isFinite(ms) && ms >= 0) return Math.round(ms);
  const value = headers?.get('retry-after')?.trim();
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds >= 0 ? Math.round(seconds * 1000) : undefined;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
