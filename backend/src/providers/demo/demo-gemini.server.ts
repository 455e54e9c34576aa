import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chunkReply, composeReply, estimateTokens, type DemoTurn } from './demo-reply.js';
import {
  declaredTools,
  lastFunctionResults,
  replyToResults,
  scriptedCalls,
  type DemoFunctionCall,
  type DemoFunctionResult,
} from './demo-tools.js';

// A real HTTP server speaking Gemini's REST protocol (the subset @google/genai uses for text chat),
// with scripted faults. The app uses it as the demo provider when no GEMINI_API_KEY is set; tests use
// it to drive the real SDK through every failure we classify.
//
// Routes
//   POST /v1beta/models/{model}:generateContent
//   POST /v1beta/models/{model}:streamGenerateContent?alt=sse   (`data: <json>\r\n\r\n` per chunk)
//   GET  /v1beta/models[?pageSize=n]        GET /v1beta/models/{model}
//   Control (for tests that run the app as a separate process):
//   POST /__demo/faults {faults}   POST /__demo/failure-rate {rate, kinds, seed?}
//   POST /__demo/pace {firstByteDelayMs?, chunkDelayMs?}   GET /__demo/requests   POST /__demo/reset
//
// Pace: `firstByteDelayMs` before every answer (errors included), `chunkDelayMs` between stream chunks.
// Faults: one is consumed per generate/stream request (queue first, then the failure rate).
// `afterChunks` counts the text chunks sent before the fault; it is clamped so that the fault always
// lands before the final chunk.
//
// | kind               | streaming (alt=sse)                                    | generateContent              |
// |--------------------|--------------------------------------------------------|------------------------------|
// | http_429           | 429 RESOURCE_EXHAUSTED, QuotaFailure (PerMinute quota) + RetryInfo retryDelay "<retryDelaySeconds ?? 1>s" | same |
// | quota_exhausted    | 429 RESOURCE_EXHAUSTED, QuotaFailure quotaId …PerDay…, plus RetryInfo (as Google sends) | same |
// | http_500/503/504   | that status: INTERNAL / UNAVAILABLE / DEADLINE_EXCEEDED | same                        |
// | http_400/403/404   | INVALID_ARGUMENT / PERMISSION_DENIED / NOT_FOUND         | same                         |
// | first_byte_delay   | wait delayMs (default 1000) before anything, then answer normally | same              |
// | stall              | afterChunks (default 1) chunks, then silence until the client leaves; with delayMs, resume after it | no reply until the client leaves, or answer after delayMs |
// | drop               | afterChunks (default 1) chunks, then the socket is closed mid-body | socket closed before any reply |
// | malformed_json     | afterChunks (default 1) chunks, then `data: {not json`, end | 200 with body `{not json` |
// | truncated_event    | all chunks but the last, then the last cut mid-JSON with no terminator, end | 200 with the JSON body cut in half |
// | stream_error_event | afterChunks (default 1) chunks, then `data: {"error":{"code":500,"status":"INTERNAL",…}}`, end | 500 INTERNAL |
// | empty_candidates   | one chunk with `candidates: []`                          | same                         |
// | safety_block       | afterChunks (default 0) chunks, then finishReason SAFETY with safetyRatings, no text | candidate with SAFETY, no text |
// | prompt_blocked     | one chunk with promptFeedback.blockReason SAFETY, no candidates | same                   |
// | recitation         | afterChunks (default 0) chunks, then finishReason RECITATION, no text | RECITATION, no text |
// | finish_other       | afterChunks (default 0) chunks, then finishReason OTHER, no text | OTHER, no text       |
// | max_tokens         | the first half of the chunks, the last with finishReason MAX_TOKENS | same, text cut short |
// | reply              | answers normally, but with `text` as the reply (to script a reply's words) | same   |
// | tool_calls         | asks for the function calls in `calls` ([{name, args}]), whatever was declared, after `text` if given | same |
//
// Tools: when the request declares functions (and does not forbid calls with mode NONE), a user
// message that mentions rolling dice, remembering, recalling or the time gets the matching call
// (see demo-tools.ts); a request ending in function responses gets a reply that words them.

export interface DemoPace {
  firstByteDelayMs: number;
  chunkDelayMs: number;
}

export type DemoFaultKind =
  | 'http_429'
  | 'quota_exhausted'
  | 'http_500'
  | 'http_503'
  | 'http_504'
  | 'http_400'
  | 'http_403'
  | 'http_404'
  | 'first_byte_delay'
  | 'stall'
  | 'drop'
  | 'malformed_json'
  | 'truncated_event'
  | 'stream_error_event'
  | 'empty_candidates'
  | 'safety_block'
  | 'prompt_blocked'
  | 'recitation'
  | 'finish_other'
  | 'max_tokens'
  | 'reply'
  | 'tool_calls';

export const DEMO_FAULT_KINDS: readonly DemoFaultKind[] = [
  'http_429',
  'quota_exhausted',
  'http_500',
  'http_503',
  'http_504',
  'http_400',
  'http_403',
  'http_404',
  'first_byte_delay',
  'stall',
  'drop',
  'malformed_json',
  'truncated_event',
  'stream_error_event',
  'empty_candidates',
  'safety_block',
  'prompt_blocked',
  'recitation',
  'finish_other',
  'max_tokens',
  'reply',
  'tool_calls',
];

export interface DemoFault {
  kind: DemoFaultKind;
  retryDelaySeconds?: number;
  delayMs?: number;
  afterChunks?: number;
  /** For `reply`: the words of the reply; for `tool_calls`: words streamed before the calls. */
  text?: string;
  /** For `tool_calls`: the calls to ask for. */
  calls?: DemoFunctionCall[];
}

export interface DemoRecordedRequest {
  model: string;
  stream: boolean;
  systemInstruction: string | null;
  contents: Array<{ role: string; text: string }>;
  aborted: boolean;
  receivedAt: number;
  /** The functions the request declared, when it declared any. */
  tools?: string[];
  /** How many function responses its last turn carried, when any, and what they said. */
  functionResponses?: number;
  functionResults?: DemoFunctionResult[];
}

const MAX_RECORDED_REQUESTS = 10_000;
const MAX_QUEUED_FAULTS = 10_000;
const MAX_BODY_BYTES = 20 * 1024 * 1024;
const DEFAULT_FIRST_BYTE_FAULT_DELAY_MS = 1000;

const GOOGLE_STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  413: 'INVALID_ARGUMENT',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

// Messages as the real API words them, so logs from demo runs look familiar.
const HTTP_FAULTS: Partial<Record<DemoFaultKind, { code: number; message: string }>> = {
  http_500: {
    code: 500,
    message:
      'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
  },
  http_503: { code: 503, message: 'The model is overloaded. Please try again later.' },
  http_504: { code: 504, message: 'Deadline expired before operation could complete.' },
  http_400: { code: 400, message: 'Request contains an invalid argument.' },
  http_403: { code: 403, message: 'The caller does not have permission' },
  http_404: { code: 404, message: 'models/demo is not found for API version v1beta, or is not supported.' },
  stream_error_event: {
    code: 500,
    message:
      'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
  },
};

const DEMO_MODELS = ['gemini-2.5-flash', 'gemini-2.5-flash-lite', 'gemini-2.5-pro', 'gemini-flash-latest'];

type JsonObject = Record<string, unknown>;

interface Usage {
  promptTokenCount: number;
  candidatesTokenCount?: number;
  totalTokenCount: number;
}

/** How a reply ends: a candidate with a finish reason, or one of the no-candidate shapes. */
type Ending =
  | { kind: 'candidate'; finishReason: string; withText: boolean }
  | { kind: 'calls'; calls: DemoFunctionCall[] }
  | { kind: 'empty_candidates' }
  | { kind: 'prompt_blocked' };

interface ReplyPlan {
  /** Text chunks sent before the ending. */
  chunks: string[];
  ending: Ending;
}

class RequestError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const SAFETY_RATINGS = [
  { category: 'HARM_CATEGORY_HARASSMENT', probability: 'NEGLIGIBLE' },
  { category: 'HARM_CATEGORY_HATE_SPEECH', probability: 'NEGLIGIBLE' },
  { category: 'HARM_CATEGORY_SEXUALLY_EXPLICIT', probability: 'NEGLIGIBLE' },
  { category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH', blocked: true },
];

/** mulberry32: a tiny seeded PRNG, so a failure rate is reproducible from its seed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonNegative(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RequestError(400, `${field} must be a non-negative number`);
  }
  return value;
}

function parseFault(value: unknown): DemoFault {
  if (!isObject(value) || !DEMO_FAULT_KINDS.includes(value.kind as DemoFaultKind)) {
    throw new RequestError(400, `a fault needs a kind, one of ${DEMO_FAULT_KINDS.join(', ')}`);
  }
  const fault: DemoFault = { kind: value.kind as DemoFaultKind };
  const retryDelaySeconds = nonNegative(value.retryDelaySeconds, 'retryDelaySeconds');
  const delayMs = nonNegative(value.delayMs, 'delayMs');
  const afterChunks = nonNegative(value.afterChunks, 'afterChunks');
  if (retryDelaySeconds !== undefined) fault.retryDelaySeconds = retryDelaySeconds;
  if (delayMs !== undefined) fault.delayMs = delayMs;
  if (afterChunks !== undefined) fault.afterChunks = Math.floor(afterChunks);
  if (typeof value.text === 'string') fault.text = value.text;
  if (Array.isArray(value.calls)) {
    fault.calls = value.calls.map((call: unknown) => {
      if (!isObject(call) || typeof call.name !== 'string') throw new RequestError(400, 'a call needs a name');
      return { name: call.name, args: isObject(call.args) ? call.args : {} };
    });
  }
  return fault;
}

function partsText(content: unknown): string {
  if (!isObject(content) || !Array.isArray(content.parts)) return '';
  return content.parts.map((part) => (isObject(part) && typeof part.text === 'string' ? part.text : '')).join('');
}

function googleError(code: number, message: string, details: JsonObject[] = []): JsonObject {
  return { error: { code, message, status: GOOGLE_STATUS[code] ?? 'UNKNOWN', details } };
}

function rateLimitError(fault: DemoFault, model: string): JsonObject {
  const perDay = fault.kind === 'quota_exhausted';
  const quotaId = perDay
    ? 'GenerateRequestsPerDayPerProjectPerModel-FreeTier'
    : 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier';
  // Google sends RetryInfo even for a per-day quota; only the QuotaFailure tells them apart.
  const retryDelaySeconds = fault.retryDelaySeconds ?? (perDay ? 20 : 1);
  return googleError(
    429,
    'You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.',
    [
      {
        '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
        violations: [
          {
            quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests',
            quotaId,
            quotaDimensions: { location: 'global', model },
            quotaValue: perDay ? '250' : '10',
          },
        ],
      },
      {
        '@type': 'type.googleapis.com/google.rpc.Help',
        links: [
          {
            description: 'Learn more about Gemini API quotas',
            url: 'https://ai.google.dev/gemini-api/docs/rate-limits',
          },
        ],
      },
      { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retryDelaySeconds}s` },
    ],
  );
}

function modelResource(name: string): JsonObject {
  return {
    name: `models/${name}`,
    version: '001',
    displayName: `${name} (Parley demo)`,
    description: 'A local stand-in that answers in character without calling Google.',
    inputTokenLimit: 1_048_576,
    outputTokenLimit: 65_536,
    supportedGenerationMethods: ['generateContent', 'countTokens'],
  };
}

/** One generate/stream exchange: knows when the client has gone so that waits end early. */
class Exchange {
  private readonly gone = new AbortController();
  /** Set when the server itself ends the connection (drop, close()), which is not a client abort. */
  endedByServer = false;

  constructor(
    readonly res: ServerResponse,
    record: DemoRecordedRequest,
  ) {
    res.on('close', () => {
      if (!res.writableFinished && !this.endedByServer) record.aborted = true;
      this.gone.abort();
    });
  }

  get isGone(): boolean {
    return this.gone.signal.aborted;
  }

  /** Resolves after `ms`, or as soon as the client goes away. */
  sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.isGone) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.gone.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.gone.signal.addEventListener('abort', done, { once: true });
    });
  }

  untilGone(): Promise<void> {
    if (this.isGone) return Promise.resolve();
    return new Promise((resolve) => this.gone.signal.addEventListener('abort', () => resolve(), { once: true }));
  }

  /** Closes the connection mid-reply, after what was written has been flushed. */
  drop(): void {
    this.endedByServer = true;
    const socket = this.res.socket;
    if (!socket) return;
    socket.end(() => socket.destroy());
  }

  destroy(): void {
    this.endedByServer = true;
    this.res.destroy();
  }
}

/** Waits out a stall: until the client leaves, or `delayMs`; false when the client is gone. */
async function stalled(exchange: Exchange, fault: DemoFault): Promise<boolean> {
  if (fault.delayMs === undefined) {
    await exchange.untilGone();
    return false;
  }
  await exchange.sleep(fault.delayMs);
  return !exchange.isGone;
}

export class DemoGeminiServer {
  pace: DemoPace;
  private readonly startPace: DemoPace;
  private faults: DemoFault[] = [];
  private failureRate: { rate: number; kinds: DemoFaultKind[]; random: () => number } | undefined;
  private recorded: DemoRecordedRequest[] = [];
  private readonly open = new Set<Exchange>();
  private responseCounter = 0;

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
    pace: DemoPace,
  ) {
    this.startPace = { ...pace };
    this.pace = { ...pace };
  }

  static async start(
    options: { host?: string; port?: number; pace?: Partial<DemoPace> } = {},
  ): Promise<DemoGeminiServer> {
    const host = options.host ?? '127.0.0.1';
    const pace: DemoPace = { firstByteDelayMs: 0, chunkDelayMs: 0, ...options.pace };
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const demo = new DemoGeminiServer(server, `http://${urlHost}:${address.port}`, pace);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void demo.handle(req, res));
    return demo;
  }

  enqueueFaults(...faults: DemoFault[]): void {
    const parsed = faults.map(parseFault);
    if (this.faults.length + parsed.length > MAX_QUEUED_FAULTS) {
      throw new RangeError(`at most ${MAX_QUEUED_FAULTS} faults can be queued`);
    }
    this.faults.push(...parsed);
  }

  setFailureRate(rate: number, kinds: DemoFaultKind[], seed?: number): void {
    if (!Number.isFinite(rate) || rate < 0 || rate > 1) throw new RangeError('rate must be between 0 and 1');
    if (rate > 0 && kinds.length === 0) throw new RangeError('a failure rate needs at least one fault kind');
    for (const kind of kinds) parseFault({ kind });
    this.failureRate =
      rate === 0
        ? undefined
        : { rate, kinds: [...kinds], random: seededRandom(seed ?? Math.floor(Math.random() * 2 ** 32)) };
  }

  requests(): DemoRecordedRequest[] {
    return this.recorded.map((r) => ({ ...r, contents: r.contents.map((c) => ({ ...c })) }));
  }

  reset(): void {
    this.faults = [];
    this.failureRate = undefined;
    this.recorded = [];
    this.pace = { ...this.startPace };
  }

  async close(): Promise<void> {
    for (const exchange of this.open) exchange.destroy();
    this.open.clear();
    await new Promise<void>((resolve, reject) => {
      this.server.close((error) => (error ? reject(error) : resolve()));
      // Idle keep-alive connections would otherwise hold close() open.
      this.server.closeAllConnections();
    });
  }

  private nextFault(): DemoFault | undefined {
    const queued = this.faults.shift();
    if (queued) return queued;
    const failure = this.failureRate;
    if (!failure || failure.random() >= failure.rate) return undefined;
    return { kind: failure.kinds[Math.floor(failure.random() * failure.kinds.length)] };
  }

  private record(request: DemoRecordedRequest): void {
    this.recorded.push(request);
    if (this.recorded.length > MAX_RECORDED_REQUESTS) this.recorded.shift();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://demo.invalid');
      if (url.pathname.startsWith('/__demo/')) {
        await this.handleControl(req, res, url.pathname);
        return;
      }
      await this.handleApi(req, res, url);
    } catch (error) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // RangeError: a control call asked for something the class API refuses (too many faults, bad rate).
      const code = error instanceof RequestError ? error.code : error instanceof RangeError ? 400 : 500;
      const message = code === 500 ? 'The demo server failed unexpectedly.' : (error as Error).message;
      sendJson(res, code, googleError(code, message));
    }
  }

  private async handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const match = /^\/v1beta\/models(?:\/([^/:]+)(?::(generateContent|streamGenerateContent))?)?$/.exec(url.pathname);
    if (!match) throw new RequestError(404, `Unknown route ${req.method ?? ''} ${url.pathname}`);
    // The real API refuses calls without a key; any key is accepted here.
    if (!req.headers['x-goog-api-key']) {
      throw new RequestError(403, "Method doesn't allow unregistered callers (callers without established identity).");
    }
    const [, encodedModel, method] = match;
    if (!method) {
      if (req.method !== 'GET') throw new RequestError(404, `Unknown route ${req.method ?? ''} ${url.pathname}`);
      if (!encodedModel) {
        const pageSize = Number(url.searchParams.get('pageSize') ?? DEMO_MODELS.length);
        const size = Number.isInteger(pageSize) && pageSize > 0 ? pageSize : DEMO_MODELS.length;
        sendJson(res, 200, { models: DEMO_MODELS.slice(0, size).map(modelResource) });
        return;
      }
      sendJson(res, 200, modelResource(decodeURIComponent(encodedModel)));
      return;
    }
    if (req.method !== 'POST' || !encodedModel) {
      throw new RequestError(404, `Unknown route ${req.method ?? ''} ${url.pathname}`);
    }
    const stream = method === 'streamGenerateContent';
    if (stream && url.searchParams.get('alt') !== 'sse') {
      throw new RequestError(400, 'The demo server streams only server-sent events: add alt=sse.');
    }
    await this.generate(req, res, decodeURIComponent(encodedModel), stream);
  }

  private async generate(req: IncomingMessage, res: ServerResponse, model: string, stream: boolean): Promise<void> {
    const body = await readJson(req);
    const system = body.systemInstruction ?? body.system_instruction;
    const systemInstruction = system === undefined ? null : partsText(system);
    const contents: DemoTurn[] = Array.isArray(body.contents)
      ? body.contents.map((c: unknown) => ({
          role: isObject(c) && typeof c.role === 'string' ? c.role : 'user',
          text: partsText(c),
        }))
      : [];
    const declared = declaredTools(body);
    const results = lastFunctionResults(Array.isArray(body.contents) ? body.contents : []);
    const record: DemoRecordedRequest = {
      model,
      stream,
      systemInstruction,
      contents,
      aborted: false,
      receivedAt: Date.now(),
      ...(declared.names.length > 0 ? { tools: declared.names } : {}),
      ...(results.length > 0 ? { functionResponses: results.length, functionResults: results } : {}),
    };
    this.record(record);
    if (contents.length === 0) {
      throw new RequestError(400, '* GenerateContentRequest.contents: contents is not specified');
    }

    const exchange = new Exchange(res, record);
    this.open.add(exchange);
    res.on('close', () => this.open.delete(exchange));

    const fault = this.nextFault();
    const generationConfig = isObject(body.generationConfig) ? body.generationConfig : {};
    const maxOutputTokens =
      typeof generationConfig.maxOutputTokens === 'number' ? generationConfig.maxOutputTokens : undefined;
    const promptChars = (systemInstruction ?? '').length + contents.reduce((sum, c) => sum + c.text.length, 0);
    const userText = [...contents].reverse().find((c) => c.role === 'user' && c.text)?.text ?? '';
    const tools = {
      calls:
        fault?.kind === 'tool_calls'
          ? (fault.calls ?? [])
          : results.length === 0 && !declared.forbidden
            ? scriptedCalls(userText, declared.names)
            : [],
      replyText: results.length > 0 ? replyToResults(results, userText) : undefined,
    };
    const plan = planReply(systemInstruction, contents, fault, maxOutputTokens, tools);
    const reply = new ReplyWriter(plan, model, Math.ceil(promptChars / 4), `demo-${++this.responseCounter}`);

    await exchange.sleep(this.pace.firstByteDelayMs);
    if (fault?.kind === 'first_byte_delay') {
      await exchange.sleep(fault.delayMs ?? DEFAULT_FIRST_BYTE_FAULT_DELAY_MS);
    }
    if (exchange.isGone) return;

    if (fault?.kind === 'http_429' || fault?.kind === 'quota_exhausted') {
      sendJson(res, 429, rateLimitError(fault, model));
      return;
    }
    const httpFault = fault && HTTP_FAULTS[fault.kind];
    if (httpFault && (fault.kind !== 'stream_error_event' || !stream)) {
      sendJson(res, httpFault.code, googleError(httpFault.code, httpFault.message));
      return;
    }
    if (stream) await this.streamReply(exchange, reply, fault);
    else await this.unaryReply(exchange, reply, fault);
  }

  private async unaryReply(exchange: Exchange, reply: ReplyWriter, fault: DemoFault | undefined): Promise<void> {
    const { res } = exchange;
    switch (fault?.kind) {
      case 'stall':
        if (!(await stalled(exchange, fault))) return;
        break;
      case 'drop':
        exchange.drop();
        return;
      case 'malformed_json':
        sendRaw(res, 200, 'application/json; charset=UTF-8', '{not json');
        return;
      case 'truncated_event': {
        const text = JSON.stringify(reply.unaryBody());
        sendRaw(res, 200, 'application/json; charset=UTF-8', text.slice(0, Math.floor(text.length / 2)));
        return;
      }
    }
    sendJson(res, 200, reply.unaryBody());
  }

  private async streamReply(exchange: Exchange, reply: ReplyWriter, fault: DemoFault | undefined): Promise<void> {
    const { res } = exchange;
    const events = reply.streamBodies().map((body) => JSON.stringify(body));
    const last = events.length - 1;
    const midStream = ['stall', 'drop', 'malformed_json', 'stream_error_event'].includes(fault?.kind ?? '');
    // Mid-stream faults always land before the final event, so the client never sees a clean finish.
    const faultAt = midStream ? Math.min(fault?.afterChunks ?? 1, last) : -1;

    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();
    for (let i = 0; i <= last; i++) {
      if (i > 0) await exchange.sleep(this.pace.chunkDelayMs);
      if (exchange.isGone) return;
      if (i === faultAt && fault) {
        switch (fault.kind) {
          case 'stall':
            if (!(await stalled(exchange, fault))) return;
            break;
          case 'drop':
            exchange.drop();
            return;
          case 'malformed_json':
            res.end('data: {not json\r\n\r\n');
            return;
          case 'stream_error_event':
            res.end(`data: ${JSON.stringify(googleError(500, HTTP_FAULTS.stream_error_event?.message ?? ''))}\r\n\r\n`);
            return;
        }
      }
      if (i === last && fault?.kind === 'truncated_event') {
        res.end(`data: ${events[i].slice(0, Math.floor(events[i].length / 2))}`);
        return;
      }
      res.write(`data: ${events[i]}\r\n\r\n`);
    }
    res.end();
  }

  private async handleControl(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const route = `${req.method ?? ''} ${path}`;
    switch (route) {
      case 'GET /__demo/requests':
        sendJson(res, 200, { requests: this.requests() });
        return;
      case 'POST /__demo/reset':
        this.reset();
        sendJson(res, 200, { ok: true });
        return;
      case 'POST /__demo/faults': {
        const body = await readJson(req);
        if (!Array.isArray(body.faults)) throw new RequestError(400, 'faults must be an array');
        this.enqueueFaults(...body.faults.map(parseFault));
        sendJson(res, 200, { queued: this.faults.length });
        return;
      }
      case 'POST /__demo/failure-rate': {
        const body = await readJson(req);
        const { rate, seed } = body;
        const kinds = Array.isArray(body.kinds) ? body.kinds.map((kind: unknown) => parseFault({ kind }).kind) : [];
        if (typeof rate !== 'number' || rate < 0 || rate > 1) throw new RequestError(400, 'rate must be in [0, 1]');
        if (rate > 0 && kinds.length === 0) throw new RequestError(400, 'kinds must name at least one fault kind');
        if (seed !== undefined && !Number.isInteger(seed)) throw new RequestError(400, 'seed must be an integer');
        this.setFailureRate(rate, kinds, seed as number | undefined);
        sendJson(res, 200, { ok: true });
        return;
      }
      case 'POST /__demo/pace': {
        const body = await readJson(req);
        const firstByteDelayMs = nonNegative(body.firstByteDelayMs, 'firstByteDelayMs');
        const chunkDelayMs = nonNegative(body.chunkDelayMs, 'chunkDelayMs');
        if (firstByteDelayMs !== undefined) this.pace.firstByteDelayMs = firstByteDelayMs;
        if (chunkDelayMs !== undefined) this.pace.chunkDelayMs = chunkDelayMs;
        sendJson(res, 200, { pace: this.pace });
        return;
      }
      default:
        throw new RequestError(404, `Unknown route ${route}`);
    }
  }
}

function planReply(
  systemInstruction: string | null,
  contents: DemoTurn[],
  fault: DemoFault | undefined,
  maxOutputTokens: number | undefined,
  tools: { calls: DemoFunctionCall[]; replyText: string | undefined },
): ReplyPlan {
  if (tools.calls.length > 0) {
    // A scripted step may say something before its calls (streamed first, as Gemini may).
    const said = fault?.kind === 'tool_calls' && fault.text ? chunkReply(fault.text, false) : [];
    return { chunks: said, ending: { kind: 'calls', calls: tools.calls } };
  }
  const reply = composeReply(systemInstruction, contents);
  let text = fault?.kind === 'reply' && fault.text ? fault.text : (tools.replyText ?? reply.text);
  let finishReason = 'STOP';
  // Honour the caller's length limit the way Gemini does: cut the text and say so.
  if (maxOutputTokens !== undefined && maxOutputTokens > 0 && estimateTokens(text) > maxOutputTokens) {
    text = text.slice(0, maxOutputTokens * 4);
    finishReason = 'MAX_TOKENS';
  }
  const chunks = chunkReply(text, reply.chinese);
  switch (fault?.kind) {
    case 'empty_candidates':
    case 'prompt_blocked':
      return { chunks: [], ending: { kind: fault.kind } };
    case 'safety_block':
    case 'recitation':
    case 'finish_other': {
      const reason = { safety_block: 'SAFETY', recitation: 'RECITATION', finish_other: 'OTHER' }[fault.kind];
      const before = Math.min(fault.afterChunks ?? 0, chunks.length - 1);
      return { chunks: chunks.slice(0, before), ending: { kind: 'candidate', finishReason: reason, withText: false } };
    }
    case 'max_tokens':
      return {
        chunks: chunks.slice(0, Math.max(1, Math.ceil(chunks.length / 2))),
        ending: { kind: 'candidate', finishReason: 'MAX_TOKENS', withText: true },
      };
    default:
      return { chunks, ending: { kind: 'candidate', finishReason, withText: true } };
  }
}

/** Shapes a plan into GenerateContentResponse bodies: several stream chunks, or one unary body. */
class ReplyWriter {
  constructor(
    private readonly plan: ReplyPlan,
    private readonly model: string,
    private readonly promptTokens: number,
    private readonly responseId: string,
  ) {}

  streamBodies(): JsonObject[] {
    const { chunks, ending } = this.plan;
    if (ending.kind === 'calls')
      return [...chunks.map((text) => this.body({ content: content(text), index: 0 })), this.final(undefined)];
    if (ending.kind !== 'candidate') return [this.final(undefined)];
    // (function calls arrive whole, in one chunk, as Gemini sends them)
    // A finish reason with text rides on the last text chunk, as Gemini sends it.
    const textChunks = ending.withText ? chunks.slice(0, -1) : chunks;
    const bodies = textChunks.map((text) => this.body({ content: content(text), index: 0 }));
    bodies.push(this.final(ending.withText ? chunks.at(-1) : undefined));
    return bodies;
  }

  unaryBody(): JsonObject {
    const { chunks, ending } = this.plan;
    return this.final(ending.kind === 'candidate' && ending.withText ? chunks.join('') : undefined);
  }

  private final(text: string | undefined): JsonObject {
    const { ending, chunks } = this.plan;
    const candidatesTokens = estimateTokens(chunks.join(''));
    const usage: Usage =
      ending.kind === 'candidate'
        ? {
            promptTokenCount: this.promptTokens,
            candidatesTokenCount: candidatesTokens,
            totalTokenCount: this.promptTokens + candidatesTokens,
          }
        : { promptTokenCount: this.promptTokens, totalTokenCount: this.promptTokens };
    switch (ending.kind) {
      case 'calls':
        return this.body(
          {
            index: 0,
            finishReason: 'STOP',
            content: { role: 'model', parts: ending.calls.map((call) => ({ functionCall: call })) },
          },
          { usageMetadata: { ...usage, candidatesTokenCount: 8, totalTokenCount: usage.promptTokenCount + 8 } },
        );
      case 'empty_candidates':
        return this.body(undefined, { candidates: [], usageMetadata: usage });
      case 'prompt_blocked':
        return this.body(undefined, {
          promptFeedback: { blockReason: 'SAFETY', safetyRatings: SAFETY_RATINGS },
          usageMetadata: usage,
        });
      case 'candidate': {
        const candidate: JsonObject = { index: 0, finishReason: ending.finishReason };
        if (text !== undefined) candidate.content = content(text);
        if (ending.finishReason === 'SAFETY') candidate.safetyRatings = SAFETY_RATINGS;
        return this.body(candidate, { usageMetadata: usage });
      }
    }
  }

  private body(candidate: JsonObject | undefined, extra: JsonObject = {}): JsonObject {
    return {
      ...(candidate ? { candidates: [candidate] } : {}),
      ...extra,
      modelVersion: this.model,
      responseId: this.responseId,
    };
  }
}

function content(text: string): JsonObject {
  return { role: 'model', parts: [{ text }] };
}

async function readJson(req: IncomingMessage): Promise<JsonObject> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new RequestError(413, 'Request payload size exceeds the limit.');
    chunks.push(buffer);
  }
  if (size === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new RequestError(400, 'Invalid JSON payload received.');
  }
  if (!isObject(parsed)) throw new RequestError(400, 'Invalid JSON payload received. Expected an object.');
  return parsed;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  sendRaw(res, status, 'application/json; charset=UTF-8', JSON.stringify(body));
}

function sendRaw(res: ServerResponse, status: number, contentType: string, text: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
