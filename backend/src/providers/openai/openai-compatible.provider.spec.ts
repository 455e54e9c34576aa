import { ProviderError, type ProviderChunk, type ProviderRequest } from '../provider.port.js';
import {
  FakeOpenAiServer,
  type FakeOpenAiFault,
  type FakeOpenAiFaultType,
} from '../../../test/support/fake-openai.server.js';
import { OpenAiCompatibleProvider, type OpenAiCompatibleOptions } from './openai-compatible.provider.js';

const REPLY = 'Ahoy, traveller! The tide is kind today, and the gulls are singing.';
const USAGE = { prompt_tokens: 31, completion_tokens: 17 };
const PERSONA = 'You are Captain Mira, a weathered sea captain.';
const SECRET_USER_TEXT = 'my private diary entry about Lisbon';
const HISTORY: ProviderRequest['messages'] = [
  { role: 'user', content: 'Hello, captain.' },
  { role: 'assistant', content: 'Welcome aboard.' },
  { role: 'user', content: `Tell me a story. ${SECRET_USER_TEXT}` },
];

interface Collected {
  deltas: string[];
  chunks: ProviderChunk[];
  error?: unknown;
}

// Drains a stream, keeping what arrived before a failure as well as the failure itself.
async function collect(stream: AsyncIterable<ProviderChunk>): Promise<Collected> {
  const chunks: ProviderChunk[] = [];
  try {
    for await (const chunk of stream) chunks.push(chunk);
    return { chunks, deltas: deltasOf(chunks) };
  } catch (error) {
    return { chunks, deltas: deltasOf(chunks), error };
  }
}

function deltasOf(chunks: ProviderChunk[]): string[] {
  return chunks.flatMap((chunk) => (chunk.type === 'delta' ? [chunk.text] : []));
}

function asProviderError(error: unknown): ProviderError {
  expect(error).toBeInstanceOf(ProviderError);
  return error as ProviderError;
}

// Polls the fake server's record, which learns of a client's abort a moment after the client does.
async function until(check: () => boolean, ms = 2000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

describe(OpenAiCompatibleProvider.name, () => {
  let server: FakeOpenAiServer;

  beforeAll(async () => {
    server = await new FakeOpenAiServer({ reply: REPLY, usage: USAGE, servedModel: 'fake-model-2025-06' }).start();
  });
  afterEach(() => server.reset());
  afterAll(() => server.close());

  const provider = (options: Partial<OpenAiCompatibleOptions> = {}) =>
    new OpenAiCompatibleProvider({ baseUrl: server.baseUrl, apiKey: 'test-key', model: 'fake-model', ...options });
  const request = (overrides: Partial<ProviderRequest> = {}): ProviderRequest => ({
    systemInstruction: PERSONA,
    messages: HISTORY,
    signal: new AbortController().signal,
    ...overrides,
  });

  describe('stream', () => {
    it('yields the reply as deltas, then one done with the served model and the server usage', async () => {
      const { chunks, deltas, error } = await collect(provider().stream(request()));

      expect(error).toBeUndefined();
      expect(deltas.join('')).toBe(REPLY);
      expect(deltas.every((text) => text.length > 0)).toBe(true);
      expect(chunks.filter((chunk) => chunk.type === 'done')).toHaveLength(1);
      expect(chunks.at(-1)).toEqual({
        type: 'done',
        finishReason: 'stop',
        usage: { promptTokens: 31, completionTokens: 17 },
        model: 'fake-model-2025-06',
      });
    });

    it('sends the persona as the system message first, then the history in order', async () => {
      await collect(provider().stream(request({ maxOutputTokens: 256, model: 'other-model' })));

      const [received] = server.requests();
      expect(received?.messages).toEqual([{ role: 'system', content: PERSONA }, ...HISTORY]);
      expect(received?.body).toMatchObject({
        model: 'other-model',
        stream: true,
        stream_options: { include_usage: true },
        max_tokens: 256,
      });
      expect(received?.body).not.toHaveProperty('max_completion_tokens');
    });

    it('estimates usage at four characters a token when the server sends none', async () => {
      const { chunks } = await collect(provider({ includeStreamUsage: false }).stream(request()));

      expect(server.requests()[0]?.body).not.toHaveProperty('stream_options');
      const promptChars = PERSONA.length + HISTORY.reduce((sum, m) => sum + m.content.length, 0);
      expect(chunks.at(-1)).toMatchObject({
        type: 'done',
        usage: { promptTokens: Math.ceil(promptChars / 4), completionTokens: Math.ceil(REPLY.length / 4) },
      });
    });

    it('ends with finishReason max_tokens when the server stops at the length limit', async () => {
      server.enqueueFaults('length');

      const { chunks, deltas } = await collect(provider().stream(request()));

      expect(deltas.join('')).toBe(REPLY);
      expect(chunks.at(-1)).toMatchObject({ type: 'done', finishReason: 'max_tokens' });
    });

    interface Expected {
      code: ProviderError['code'];
      retryable: boolean;
      retryAfterMs?: number;
      status?: number;
      blockCategory?: string;
    }
    it.each<[FakeOpenAiFault | FakeOpenAiFaultType, Expected]>([
      [
        { type: 'http_429', retryAfter: '3' },
        { code: 'provider_rate_limited', retryable: true, retryAfterMs: 3000, status: 429 },
      ],
      [
        { type: 'http_429', retryAfterMs: 1500 },
        { code: 'provider_rate_limited', retryable: true, retryAfterMs: 1500, status: 429 },
      ],
      ['insufficient_quota', { code: 'provider_quota_exhausted', retryable: false, status: 429 }],
      ['http_500', { code: 'provider_unavailable', retryable: true, status: 500 }],
      ['http_503', { code: 'provider_unavailable', retryable: true, status: 503 }],
      ['http_504', { code: 'provider_timeout', retryable: true, status: 504 }],
      ['http_400', { code: 'provider_invalid_request', retryable: false, status: 400 }],
      [
        { type: 'http_400', code: 'content_filter' },
        { code: 'content_blocked', retryable: false, status: 400, blockCategory: 'content_filter' },
      ],
      ['malformed', { code: 'provider_unavailable', retryable: true }],
      ['empty', { code: 'provider_empty_response', retryable: true }],
      ['no_finish', { code: 'provider_unavailable', retryable: true }],
    ])('classifies %j', async (fault, expected) => {
      server.enqueueFaults(fault);

      const { error } = await collect(provider().stream(request()));

      const { code, provider: name, retryable, details } = asProviderError(error);
      expect({
        code,
        retryable,
        retryAfterMs: details.retryAfterMs,
        status: details.status,
        blockCategory: details.blockCategory,
      }).toEqual(expected);
      expect(name).toBe('openai-compatible');
    });

    it('reads retry-after given as an HTTP date', async () => {
      server.enqueueFaults({ type: 'http_429', retryAfter: new Date(Date.now() + 2000).toUTCString() });

      const error = asProviderError((await collect(provider().stream(request()))).error);

      expect(error.code).toBe('provider_rate_limited');
      // HTTP dates have whole seconds, so up to one second is lost.
      expect(error.details.retryAfterMs).toBeGreaterThan(500);
      expect(error.details.retryAfterMs).toBeLessThanOrEqual(2000);
    });

    it('fails retryably after the chunks that arrived when the connection drops', async () => {
      server.enqueueFaults({ type: 'drop', afterChunks: 3 });

      const { deltas, chunks, error } = await collect(provider().stream(request()));

      expect(deltas).toHaveLength(3);
      expect(chunks.some((chunk) => chunk.type === 'done')).toBe(false);
      expect(asProviderError(error)).toMatchObject({ code: 'provider_unavailable', retryable: true });
    });

    it('fails with content_blocked when the filter trips mid-reply, after the text already streamed', async () => {
      server.enqueueFaults('content_filter');

      const { deltas, chunks, error } = await collect(provider().stream(request()));

      expect(deltas.length).toBeGreaterThan(0);
      expect(chunks.some((chunk) => chunk.type === 'done')).toBe(false);
      expect(asProviderError(error)).toMatchObject({
        code: 'content_blocked',
        retryable: false,
        details: { blockCategory: 'content_filter' },
      });
    });

    it.each<FakeOpenAiFaultType>(['http_400', 'malformed', 'content_filter'])(
      'keeps user and model text out of the error on %s',
      async (fault) => {
        server.enqueueFaults(fault);

        const error = asProviderError((await collect(provider().stream(request()))).error);

        const { cause: _cause, ...details } = error.details;
        const visible = `${error.message} ${JSON.stringify(details)} ${String(error.cause ?? '')}`;
        expect(visible).not.toContain(SECRET_USER_TEXT);
        expect(visible).not.toContain('unfinished');
        expect(visible).not.toContain(REPLY.slice(0, 10));
      },
    );

    it('throws the signal reason unchanged when aborted during a stall, and the server sees the abort', async () => {
      server.enqueueFaults({ type: 'stall', afterChunks: 1 });
      const controller = new AbortController();
      const reason = new Error('client stopped');
      const chunks: ProviderChunk[] = [];
      const started = Date.now();

      const run = (async () => {
        for await (const chunk of provider().stream(request({ signal: controller.signal }))) {
          chunks.push(chunk);
          setTimeout(() => controller.abort(reason), 50);
        }
      })();

      await expect(run).rejects.toBe(reason);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(deltasOf(chunks)).toHaveLength(1);
      expect(await until(() => server.requests()[0]?.aborted === true)).toBe(true);
    });

    it('throws the signal reason without calling the server when already aborted', async () => {
      const reason = new Error('turn deadline');

      const { error } = await collect(provider().stream(request({ signal: AbortSignal.abort(reason) })));

      expect(error).toBe(reason);
      expect(server.requests()).toHaveLength(0);
    });

    it('times out retryably when the server sends no headers within requestTimeoutMs', async () => {
      server.enqueueFaults({ type: 'stall', beforeHeaders: true });

      const { error } = await collect(provider({ requestTimeoutMs: 200 }).stream(request()));

      expect(asProviderError(error)).toMatchObject({ code: 'provider_timeout', retryable: true });
    });
    it('leaves a stall after the headers to the caller, whose abort reason comes back unchanged', async () => {
      server.enqueueFaults({ type: 'stall', afterChunks: 1 });
      const reason = new Error('stream stalled');
      const controller = new AbortController();
      setTimeout(() => controller.abort(reason), 400);

      const { deltas, error } = await collect(
        provider({ requestTimeoutMs: 100 }).stream(request({ signal: controller.signal })),
      );

      expect(deltas).toHaveLength(1);
      expect(error).toBe(reason);
    });
  });

  describe('generate', () => {
    it('returns the same text as the stream, with usage and the served model', async () => {
      const streamed = await collect(provider().stream(request()));

      const reply = await provider().generate(request({ maxOutputTokens: 64 }));

      expect(reply).toEqual({
        type: 'done',
        text: streamed.deltas.join(''),
        finishReason: 'stop',
        usage: { promptTokens: 31, completionTokens: 17 },
        model: 'fake-model-2025-06',
      });
      const received = server.requests()[1];
      expect(received?.messages).toEqual([{ role: 'system', content: PERSONA }, ...HISTORY]);
      expect(received?.body).toMatchObject({ stream: false, max_tokens: 64 });
    });

    it.each<[FakeOpenAiFault | FakeOpenAiFaultType, string, boolean]>([
      [{ type: 'http_429', retryAfter: '4' }, 'provider_rate_limited', true],
      ['http_503', 'provider_unavailable', true],
      ['content_filter', 'content_blocked', false],
      ['empty', 'provider_empty_response', true],
      ['no_finish', 'provider_unavailable', true],
      ['malformed', 'provider_unavailable', true],
      [{ type: 'drop' }, 'provider_unavailable', true],
    ])('classifies %j', async (fault, code, retryable) => {
      server.enqueueFaults(fault);

      const error = await provider()
        .generate(request())
        .then(
          () => undefined,
          (thrown: unknown) => thrown,
        );

      expect(asProviderError(error)).toMatchObject({ code, retryable });
    });

    it('times out retryably when the whole reply does not arrive within requestTimeoutMs', async () => {
      server.enqueueFaults({ type: 'stall' });

      const error = await provider({ requestTimeoutMs: 150 })
        .generate(request())
        .then(
          () => undefined,
          (thrown: unknown) => thrown,
        );

      expect(asProviderError(error)).toMatchObject({ code: 'provider_timeout', retryable: true });
    });

    it('maps length to max_tokens', async () => {
      server.enqueueFaults('length');

      await expect(provider().generate(request())).resolves.toMatchObject({ finishReason: 'max_tokens', text: REPLY });
    });

    it('throws the signal reason when aborted while the server stalls', async () => {
      server.enqueueFaults({ type: 'stall' });
      const controller = new AbortController();
      const reason = new Error('turn deadline');
      setTimeout(() => controller.abort(reason), 100);

      await expect(provider().generate(request({ signal: controller.signal }))).rejects.toBe(reason);
      expect(await until(() => server.requests()[0]?.aborted === true)).toBe(true);
    });
  });

  describe('probe', () => {
    it('lists models on a live server', async () => {
      await provider().probe(new AbortController().signal);

      expect(server.requests()).toMatchObject([{ method: 'GET', path: '/v1/models' }]);
    });

    it('fails with provider_unavailable against a closed server', async () => {
      const closed = await new FakeOpenAiServer().start();
      const baseUrl = closed.baseUrl;
      await closed.close();

      const error = await new OpenAiCompatibleProvider({ baseUrl, apiKey: 'k', model: 'm' })
        .probe(new AbortController().signal)
        .then(
          () => undefined,
          (thrown: unknown) => thrown,
        );

      expect(asProviderError(error)).toMatchObject({ code: 'provider_unavailable', retryable: true });
    });
  });
});
