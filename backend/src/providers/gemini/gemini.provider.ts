import {
  FunctionCallingConfigMode,
  GoogleGenAI,
  type Content,
  type GenerateContentParameters,
  type GenerateContentResponse,
} from '@google/genai';
import {
  ProviderError,
  type LlmProvider,
  type ProviderChunk,
  type ProviderErrorCode,
  type ProviderRequest,
  type ProviderToolCall,
} from '../provider.port.js';
import { BLOCKING_FINISH_REASONS, classifyGeminiError } from './gemini-errors.js';

export interface GeminiProviderOptions {
  /** `gemini` for Google's API, `demo` for the local demo server. */
  name: string;
  apiKey: string;
  model: string;
  /** Points the client at another server speaking the same REST protocol (the demo server). */
  baseUrl?: string;
  isDemo?: boolean;
  /** Caps a whole call, stream included (the SDK's `httpOptions.timeout`); not a stall detector. */
  requestTimeoutMs?: number;
}

type DoneChunk = Extract<ProviderChunk, { type: 'done' }>;

/** Google's Gemini API through the official `@google/genai` client. */
export class GeminiProvider implements LlmProvider {
  readonly name: string;
  readonly defaultModel: string;
  readonly isDemo: boolean;
  private readonly client: GoogleGenAI;

  constructor(options: GeminiProviderOptions) {
    this.name = options.name;
    this.defaultModel = options.model;
    this.isDemo = options.isDemo ?? false;
    this.client = new GoogleGenAI({
      apiKey: options.apiKey,
      // Explicit, so GOOGLE_GENAI_USE_VERTEXAI in the environment cannot switch backends.
      vertexai: false,
      // No retryOptions: the SDK's retries ignore RetryInfo and would multiply ours.
      httpOptions: {
        apiVersion: 'v1beta',
        ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
        ...(options.requestTimeoutMs ? { timeout: options.requestTimeoutMs } : {}),
        // Without it the SDK routes fetch through a dispatcher it finds under a global symbol, which
        // a VM context (jest) lacks: every call fails "Undici globalDispatcher is not available".
        // The plain fetch keeps undici's 300 s header/body timeouts, far beyond our own deadlines.
        fetch,
      },
    });
  }

  async *stream(request: ProviderRequest): AsyncGenerator<ProviderChunk> {
    // Also aborted when the consumer stops iterating early, so the upstream call does not linger.
    const stop = new AbortController();
    const reply = new ReplyAssembler(this.name, request.model ?? this.defaultModel);
    try {
      const responses = await this.client.models.generateContentStream(
        this.params(request, AbortSignal.any([request.signal, stop.signal])),
      );
      for await (const response of responses) {
        const text = reply.accept(response);
        if (text) yield { type: 'delta', text };
      }
      // An abort can also end the body quietly; that is not a finished reply.
      request.signal.throwIfAborted();
      yield reply.finish();
    } catch (error) {
      throw this.failure(error, request.signal);
    } finally {
      stop.abort();
    }
  }

  async generate(request: ProviderRequest): Promise<{ text: string } & DoneChunk> {
    try {
      const response = await this.client.models.generateContent(this.params(request, request.signal));
      const reply = new ReplyAssembler(this.name, request.model ?? this.defaultModel);
      const text = reply.accept(response);
      return { ...reply.finish(), text };
    } catch (error) {
      throw this.failure(error, request.signal);
    }
  }

  async probe(signal: AbortSignal): Promise<void> {
    try {
      await this.client.models.list({ config: { pageSize: 1, abortSignal: signal } });
    } catch (error) {
      throw this.failure(error, signal);
    }
  }

  private params(request: ProviderRequest, signal: AbortSignal): GenerateContentParameters {
    const contents: Content[] = request.messages.map((message) => ({
      role: message.role === 'assistant' ? 'model' : 'user',
      parts: [{ text: message.content }],
    }));
    contents.push(...toolContents(request));
    const tools = request.tools ?? [];
    return {
      model: request.model ?? this.defaultModel,
      contents,
      config: {
        systemInstruction: request.systemInstruction,
        abortSignal: signal,
        // On by default since 2.x: the SDK would resume or re-send a broken stream by itself.
        automaticContinuation: false,
        ...(request.maxOutputTokens === undefined ? {} : { maxOutputTokens: request.maxOutputTokens }),
        ...(tools.length === 0
          ? {}
          : {
              tools: [
                {
                  functionDeclarations: tools.map((tool) => ({
                    name: tool.name,
                    description: tool.description,
                    parametersJsonSchema: tool.parameters,
                  })),
                },
              ],
              // Parley runs the calls itself (stored first, exactly once): never the SDK.
              automaticFunctionCalling: { disable: true },
              ...(request.toolChoice === 'none'
                ? { toolConfig: { functionCallingConfig: { mode: FunctionCallingConfigMode.NONE } } }
                : {}),
            }),
      },
    };
  }

  /** The caller's abort passes through untouched: it knows whether it cancelled or timed out. */
  private failure(error: unknown, signal: AbortSignal): unknown {
    if (signal.aborted) return signal.reason;
    return classifyGeminiError(error, this.name);
  }
}

/** The reply's earlier tool steps as Gemini turns: the model's calls, then the results as a user turn. */
function toolContents(request: ProviderRequest): Content[] {
  const contents: Content[] = [];
  for (const exchange of request.toolExchanges ?? []) {
    contents.push({
      role: 'model',
      parts: [
        ...(exchange.text ? [{ text: exchange.text }] : []),
        ...exchange.calls.map((call) => ({
          functionCall: {
            ...(call.id ? { id: call.id } : {}),
            name: call.name,
            args: isRecord(call.arguments) ? call.arguments : {},
          },
        })),
      ],
    });
    contents.push({
      role: 'user',
      parts: exchange.calls.map((call) => ({
        functionResponse: { ...(call.id ? { id: call.id } : {}), name: call.name, response: call.response },
      })),
    });
  }
  return contents;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads Gemini responses (stream chunks or one whole reply) into text and one `done`, or a classified error. */
class ReplyAssembler {
  private finishReason: string | undefined;
  private hasText = false;
  private readonly toolCalls: ProviderToolCall[] = [];
  private usage = { promptTokens: 0, completionTokens: 0 };
  private model: string;

  constructor(
    private readonly provider: string,
    configuredModel: string,
  ) {
    this.model = configuredModel;
  }

  /** Returns the response's new text; throws when Google blocked the prompt or the reply. */
  accept(response: GenerateContentResponse): string {
    if (response.modelVersion) this.model = response.modelVersion;
    const usage = response.usageMetadata;
    if (usage) {
      this.usage = {
        promptTokens: usage.promptTokenCount ?? 0,
        // Thinking tokens are billed as output, so they count as completion tokens.
        completionTokens: (usage.candidatesTokenCount ?? 0) + (usage.thoughtsTokenCount ?? 0),
      };
    }
    const blockReason: string | undefined = response.promptFeedback?.blockReason;
    if (blockReason) throw this.blocked(blockReason, 'prompt blocked');

    const candidate = response.candidates?.[0];
    const finishReason: string | undefined = candidate?.finishReason;
    if (finishReason) this.finishReason = finishReason;
    // Checked before reading the text: what arrives with a block is not shown.
    if (finishReason && BLOCKING_FINISH_REASONS.has(finishReason)) throw this.blocked(finishReason, 'reply blocked');

    let text = '';
    for (const part of candidate?.content?.parts ?? []) {
      // Thought summaries are the model's reasoning, not the character's words.
      if (typeof part.text === 'string' && !part.thought) text += part.text;
      if (part.functionCall?.name) {
        this.toolCalls.push({
          ...(part.functionCall.id ? { id: part.functionCall.id } : {}),
          name: part.functionCall.name,
          arguments: part.functionCall.args ?? {},
        });
      }
    }
    if (text) this.hasText = true;
    return text;
  }

  finish(): DoneChunk {
    const reason = this.finishReason;
    if (reason === 'STOP' && this.toolCalls.length > 0) {
      return { type: 'done', finishReason: 'stop', usage: this.usage, model: this.model, toolCalls: this.toolCalls };
    }
    if (reason === 'STOP' || reason === 'MAX_TOKENS') {
      if (!this.hasText) throw this.error('provider_empty_response', true, `finish reason ${reason} with no text`);
      return {
        type: 'done',
        finishReason: reason === 'STOP' ? 'stop' : 'max_tokens',
        usage: this.usage,
        model: this.model,
      };
    }
    // Text but no finish reason: the stream ended early without an error (a proxy cut it).
    if (reason === undefined && this.hasText) {
      throw this.error('provider_unavailable', true, 'reply ended without a finish reason');
    }
    throw this.error('provider_empty_response', true, reason ? `finish reason ${reason}` : 'no candidates');
  }

  private blocked(category: string, what: string): ProviderError {
    return new ProviderError('content_blocked', this.provider, {
      retryable: false,
      blockCategory: category,
      detail: `${what}: ${category}`,
    });
  }

  private error(code: ProviderErrorCode, retryable: boolean, detail: string): ProviderError {
    return new ProviderError(code, this.provider, { retryable, detail });
  }
}
