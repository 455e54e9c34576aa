import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// A real HTTP server speaking the chat-completions protocol, so tests drive the real `openai`
// SDK (its SSE parser, its error classes) rather than a mock of it. Faults are scripted FIFO, one
// per chat-completion request; `GET /v1/models` always answers.

/** One scripted fault; every parameter has a default, so a fault can also be named by its type alone. */
export type FakeOpenAiFault =
  /** 429 with `retry-after` (seconds or HTTP date, default `2`) and/or `retry-after-ms`. */
  | { type: 'http_429'; retryAfter?: string; retryAfterMs?: number }
  /** 429 with OpenAI's `insufficient_quota` code: the account is out of money, not just busy. */
  | { type: 'insufficient_quota' }
  | { type: 'http_500' }
  | { type: 'http_503' }
  /** A gateway's HTML 504, not JSON. */
  | { type: 'http_504' }
  /** 400 whose message echoes the last user message, as some servers do; `code` e.g. Azure's `content_filter`. */
  | { type: 'http_400'; code?: string }
  /** The connection is destroyed after `afterChunks` content chunks (default 2). */
  | { type: 'drop'; afterChunks?: number }
  /** Invalid JSON after `afterChunks` content chunks (default 1). */
  | { type: 'malformed'; afterChunks?: number }
  /** Some text, then finish_reason `content_filter`. */
  | { type: 'content_filter' }
  /** The reply, then finish_reason `length`. */
  | { type: 'length' }
  /** finish_reason `stop` and no text at all. */
  | { type: 'empty' }
  /** The reply and `[DONE]`, but never a finish_reason. */
  | { type: 'no_finish' }
  /** Sends nothing more until the client goes away: after `afterChunks` content chunks (default 1), or before headers. */
  | { type: 'stall'; afterChunks?: number; beforeHeaders?: boolean }
  /**
   * Answers normally with `text` as the reply, streamed in the pieces `split` gives: cut before
   * each of the listed positions (in characters, i.e. code points), one character per chunk
   * (`'characters'`), or word by word (the default). Lets a test put a chunk boundary anywhere.
   */
  | { type: 'reply'; text: string; split?: 'words' | 'characters' | number[] }
  /**
   * Asks for tool calls (finish_reason `tool_calls`, no text): `arguments` is sent as given (a
   * string, so a test can send JSON that does not parse), streamed a few characters at a time.
   */
  | { type: 'tool_calls'; calls: Array<{ id?: string; name: string; arguments: string }> };

export type FakeOpenAiFaultType = FakeOpenAiFault['type'];

export interface FakeOpenAiRequest {
  method: string;
  path: string;
  /** The parsed JSON body of a chat completion (model, messages, stream, max_tokens, …). */
  body?: Record<string, unknown>;
  messages: Array<{ role: string; content: string }>;
  /** The client went away before the response was complete. */
  aborted: boolean;
  /** When the request arrived (`Date.now()`). */
  receivedAt: number;
}

export interface FakeOpenAiOptions {
  /** The assistant's reply, streamed word by word. */
  reply?: string;
  /** The model the server says it served (defaults to the requested one). */
  servedModel?: string;
  /** Reported when the client asks for usage (or on every non-streaming reply). */
  usage?: { prompt_tokens: number; completion_tokens: number };
}

const DEFAULT_REPLY = 'Ahoy, traveller! The tide is kind today, and the gulls are singing.';
const DEFAULT_USAGE = { prompt_tokens: 31, completion_tokens: 17 };

export class FakeOpenAiServer {
  private readonly options: FakeOpenAiOptions;
  private readonly reply: string;
  private readonly usage: { prompt_tokens: number; completion_tokens: number };
  private server?: Server;
  private faults: FakeOpenAiFault[] = [];
  private received: FakeOpenAiRequest[] = [];

  constructor(options: FakeOpenAiOptions = {}) {
    this.options = options;
    this.reply = options.reply ?? DEFAULT_REPLY;
    this.usage = options.usage ?? DEFAULT_USAGE;
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    return this;
  }

  /** The base URL a client is configured with, ending in `/v1`. */
  get baseUrl(): string {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (!address) throw new Error('FakeOpenAiServer is not started');
    return `http://127.0.0.1:${address.port}/v1`;
  }

  /** Queues faults for the next chat-completion requests, one each, in order. */
  enqueueFaults(...faults: Array<FakeOpenAiFault | FakeOpenAiFaultType>): void {
    for (const fault of faults)
      this.faults.push(typeof fault === 'string' ? ({ type: fault } as FakeOpenAiFault) : fault);
  }

  /** What the server received so far, oldest first (a snapshot). */
  requests(): FakeOpenAiRequest[] {
    return this.received.map((request) => ({ ...request }));
  }

  reset(): void {
    this.faults = [];
    this.received = [];
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    // Stalled responses would otherwise keep close() waiting forever.
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Answers with the tool calls of a `tool_calls` fault. */
  private toolCalls(
    res: ServerResponse,
    body: Record<string, unknown>,
    model: string,
    calls: Array<{ id?: string; name: string; arguments: string }>,
  ): void {
    const base = { id: 'chatcmpl-fake', created: 0, model };
    const ids = calls.map((call, index) => call.id ?? `call_fake_${index}`);
    const usage = { prompt_tokens: 20, completion_tokens: 10, total_tokens: 30 };
    if (body.stream !== true) {
      return sendJson(res, 200, {
        ...base,
        object: 'chat.completion',
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: null,
              tool_calls: calls.map((call, index) => ({
                id: ids[index],
                type: 'function',
                function: { name: call.name, arguments: call.arguments },
              })),
            },
            finish_reason: 'tool_calls',
          },
        ],
        usage,
      });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (delta: Record<string, unknown>, finish: string | null = null): void => {
      res.write(
        `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`,
      );
    };
    send({ role: 'assistant', content: null });
    for (const [index, call] of calls.entries()) {
      send({ tool_calls: [{ index, id: ids[index], type: 'function', function: { name: call.name, arguments: '' } }] });
      // The arguments in pieces of five characters, as OpenAI streams them.
      for (let at = 0; at < call.arguments.length; at += 5) {
        send({ tool_calls: [{ index, function: { arguments: call.arguments.slice(at, at + 5) } }] });
      }
    }
    send({}, 'tool_calls');
    const streamOptions = body.stream_options as { include_usage?: unknown } | undefined;
    if (streamOptions?.include_usage === true) {
      res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [], usage })}\n\n`);
    }
    res.write('data: [DONE]\n\n');
    res.end();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const record: FakeOpenAiRequest = {
      method: req.method ?? 'GET',
      path,
      messages: [],
      aborted: false,
      receivedAt: Date.now(),
    };
    this.received.push(record);
    let closedByServer = false;
    res.on('close', () => {
      if (!res.writableFinished && !closedByServer) record.aborted = true;
    });
    const dropConnection = (): void => {
      closedByServer = true;
      res.socket?.destroy();
    };

    if (req.method === 'GET' && path === '/v1/models') {
      return sendJson(res, 200, {
        object: 'list',
        data: [{ id: this.options.servedModel ?? 'fake-model', object: 'model', created: 0, owned_by: 'parley' }],
      });
    }
    if (req.method !== 'POST' || path !== '/v1/chat/completions') {
      return sendJson(res, 404, { error: { message: 'Not found', type: 'invalid_request_error', code: null } });
    }

    const body = parseObject(await readBody(req));
    if (!body) {
      return sendJson(res, 400, { error: { message: 'Invalid JSON body', type: 'invalid_request_error', code: null } });
    }
    record.body = body;
    record.messages = Array.isArray(body.messages) ? body.messages.map(toMessage) : [];
    const model = this.options.servedModel ?? (typeof body.model === 'string' ? body.model : 'fake-model');
    const fault = this.faults.shift();

    const statusFault = errorResponse(fault, record.messages);
    if (statusFault) {
      res.writeHead(statusFault.status, statusFault.headers);
      res.end(statusFault.body);
      return;
    }
    if (fault?.type === 'stall' && fault.beforeHeaders) return;
    if (fault?.type === 'tool_calls') return this.toolCalls(res, body, model, fault.calls);

    const words =
      fault?.type === 'empty'
        ? []
        : fault?.type === 'reply'
          ? splitText(fault.text, fault.split)
          : splitText(this.reply);
    const finishReason =
      fault?.type === 'content_filter'
        ? 'content_filter'
        : fault?.type === 'length'
          ? 'length'
          : fault?.type === 'no_finish'
            ? null
            : 'stop';
    const content = fault?.type === 'content_filter' ? words.slice(0, 2) : words;
    const base = { id: 'chatcmpl-fake', created: 0, model };

    if (body.stream !== true) {
      if (fault?.type === 'stall') {
        res.writeHead(200, { 'content-type': 'application/json' }).flushHeaders();
        return;
      }
      if (fault?.type === 'malformed') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"id": "chatcmpl-fake", "choices": [');
        return;
      }
      if (fault?.type === 'drop') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '4096' });
        res.write('{"id": "chatcmpl-fake", ', dropConnection);
        return;
      }
      return sendJson(res, 200, {
        ...base,
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: content.join('') }, finish_reason: finishReason }],
        usage: { ...this.usage, total_tokens: this.usage.prompt_tokens + this.usage.completion_tokens },
      });
    }

    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (data: unknown, then?: () => void): void => {
      res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`, then);
    };
    const chunk = (delta: Record<string, unknown>, finish: string | null = null): unknown => ({
      ...base,
      object: 'chat.completion.chunk',
      choices: [{ index: 0, delta, finish_reason: finish }],
    });

    const cutAfter =
      fault?.type === 'drop'
        ? (fault.afterChunks ?? 2)
        : fault?.type === 'malformed' || fault?.type === 'stall'
          ? (fault.afterChunks ?? 1)
          : undefined;
    // OpenAI opens with an empty-content role chunk; clients must not treat it as text.
    const pieces = [
      chunk({ role: 'assistant', content: '' }),
      ...content.slice(0, cutAfter).map((word) => chunk({ content: word })),
    ];
    for (const [index, piece] of pieces.entries()) {
      // Drop only once the last chunk has reached the socket, so the client sees exactly those.
      const last = index === pieces.length - 1;
      send(piece, last && fault?.type === 'drop' ? dropConnection : undefined);
    }
    if (fault?.type === 'drop') return;
    if (fault?.type === 'stall') return;
    if (fault?.type === 'malformed') {
      send('unfinished {"choices": [');
      res.end();
      return;
    }
    if (finishReason !== null) send(chunk({}, finishReason));
    const streamOptions = body.stream_options as { include_usage?: unknown } | undefined;
    if (streamOptions?.include_usage === true) {
      send({
        ...base,
        object: 'chat.completion.chunk',
        choices: [],
        usage: { ...this.usage, total_tokens: this.usage.prompt_tokens + this.usage.completion_tokens },
      });
    }
    send('[DONE]');
    res.end();
  }
}

interface StatusResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function errorResponse(
  fault: FakeOpenAiFault | undefined,
  messages: FakeOpenAiRequest['messages'],
): StatusResponse | undefined {
  const json = (status: number, error: Record<string, unknown>, headers: Record<string, string> = {}) => ({
    status,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ error }),
  });
  switch (fault?.type) {
    case 'http_429': {
      const headers: Record<string, string> = {};
      if (fault.retryAfterMs !== undefined) headers['retry-after-ms'] = String(fault.retryAfterMs);
      if (fault.retryAfter !== undefined || fault.retryAfterMs === undefined)
        headers['retry-after'] = fault.retryAfter ?? '2';
      return json(
        429,
        { message: 'Rate limit reached for requests', type: 'requests', code: 'rate_limit_exceeded' },
        headers,
      );
    }
    case 'insufficient_quota':
      return json(429, {
        message: 'You exceeded your current quota, please check your plan and billing details.',
        type: 'insufficient_quota',
        code: 'insufficient_quota',
      });
    case 'http_500':
      return json(500, { message: 'The server had an error while processing your request.', type: 'server_error' });
    case 'http_503':
      return json(503, { message: 'The engine is currently overloaded.', type: 'server_error' });
    case 'http_504':
      return {
        status: 504,
        headers: { 'content-type': 'text/html' },
        body: '<html><body><h1>504 Gateway Time-out</h1></body></html>',
      };
    case 'http_400': {
      const last = messages.at(-1)?.content ?? '';
      return json(400, {
        message: `Invalid request: cannot process message "${last}"`,
        type: 'invalid_request_error',
        param: 'messages',
        code: fault.code ?? null,
      });
    }
    default:
      return undefined;
  }
}

/** The pieces a reply is streamed in: words (with their trailing space), characters, or cut at positions. */
export function splitText(text: string, split: 'words' | 'characters' | number[] = 'words'): string[] {
  if (split === 'words') return text.match(/\S+\s*/g) ?? [];
  const characters = Array.from(text);
  if (split === 'characters') return characters;
  const cuts = [...new Set(split)].filter((at) => at > 0 && at < characters.length).sort((a, b) => a - b);
  return [0, ...cuts].map((from, i) => characters.slice(from, cuts[i] ?? characters.length).join(''));
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function toMessage(value: unknown): { role: string; content: string } {
  const message = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  return {
    role: typeof message.role === 'string' ? message.role : '',
    content: typeof message.content === 'string' ? message.content : '',
  };
}
