import { DemoGeminiServer, type DemoFault } from '../demo/demo-gemini.server.js';
import { ProviderError, type ProviderChunk, type ProviderRequest } from '../provider.port.js';
import { GeminiProvider } from './gemini.provider.js';

const PERSONA = 'You are Detective Harlan Grey, a rain-soaked investigator in a city of neon.';
const MESSAGES: ProviderRequest['messages'] = [
  { role: 'assistant', content: 'Another night, another case. What brings you in?' },
  { role: 'user', content: 'Someone stole the mayor’s pocket watch.' },
  { role: 'assistant', content: 'A watch, you say. Tell me who saw it last.' },
  { role: 'user', content: 'The butler, right before midnight.' },
];

function request(overrides: Partial<ProviderRequest> = {}): ProviderRequest {
  return { systemInstruction: PERSONA, messages: MESSAGES, signal: new AbortController().signal, ...overrides };
}

interface StreamOutcome {
  deltas: string[];
  chunks: ProviderChunk[];
  error?: unknown;
}

/** Drains a stream, keeping what was yielded before any failure. */
async function drain(stream: AsyncIterable<ProviderChunk>): Promise<StreamOutcome> {
  const chunks: ProviderChunk[] = [];
  try {
    for await (const chunk of stream) chunks.push(chunk);
    return { chunks, deltas: deltasOf(chunks) };
  } catch (error) {
    return { chunks, deltas: deltasOf(chunks), error };
  }
}

function deltasOf(chunks: ProviderChunk[]): string[] {
  return chunks.flatMap((c) => (c.type === 'delta' ? [c.text] : []));
}

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe(GeminiProvider.name, () => {
  let server: DemoGeminiServer;
  let provider: GeminiProvider;
  // The demo's full reply to MESSAGES, split as it streams it.
  let reference: { text: string; deltas: string[] };

  beforeAll(async () => {
    server = await DemoGeminiServer.start();
    provider = new GeminiProvider({
      name: 'demo',
      apiKey: 'test-key',
      model: 'gemini-2.5-flash',
      baseUrl: server.baseUrl,
    });
    const { deltas } = await drain(provider.stream(request()));
    reference = { text: deltas.join(''), deltas };
    server.reset();
  });
  afterEach(() => server.reset());
  afterAll(() => server.close());

  describe('stream', () => {
    it('yields the deltas then one done, matching generate(), and sends exactly the persona and history', async () => {
      const streamed = await drain(provider.stream(request()));
      const generated = await provider.generate(request());

      expect(streamed.error).toBeUndefined();
      expect(streamed.deltas.length).toBeGreaterThan(3);
      expect(streamed.deltas.join('')).toBe(generated.text);
      expect(generated.text).toContain('Detective Harlan Grey');
      expect(generated.text).toContain('The butler, right before midnight.');
      const promptChars = PERSONA.length + MESSAGES.reduce((sum, m) => sum + m.content.length, 0);
      const done = {
        type: 'done',
        finishReason: 'stop',
        usage: { promptTokens: Math.ceil(promptChars / 4), completionTokens: Math.ceil(generated.text.length / 4) },
        model: 'gemini-2.5-flash',
      };
      expect(streamed.chunks.at(-1)).toEqual(done);
      expect(streamed.chunks.filter((c) => c.type === 'done')).toHaveLength(1);
      expect(generated).toEqual({ ...done, text: generated.text });

      const sent = {
        model: 'gemini-2.5-flash',
        systemInstruction: PERSONA,
        contents: [
          { role: 'model', text: MESSAGES[0].content },
          { role: 'user', text: MESSAGES[1].content },
          { role: 'model', text: MESSAGES[2].content },
          { role: 'user', text: MESSAGES[3].content },
        ],
        aborted: false,
      };
      expect(server.requests()).toEqual([
        { ...sent, stream: true, receivedAt: expect.any(Number) },
        { ...sent, stream: false, receivedAt: expect.any(Number) },
      ]);
    });

    it('uses the request’s model and maxOutputTokens', async () => {
      const { chunks } = await drain(provider.stream(request({ model: 'gemini-2.5-pro', maxOutputTokens: 6 })));
      expect(deltasOf(chunks).join('')).toBe(reference.text.slice(0, 24));
      expect(chunks.at(-1)).toMatchObject({ type: 'done', finishReason: 'max_tokens', model: 'gemini-2.5-pro' });
      expect(server.requests()[0].model).toBe('gemini-2.5-pro');
    });
  });

  // Each fault, streamed and not: the classified outcome, and for the stream how many deltas came first.
  type Expected = {
    code: string;
    retryable: boolean;
    detail: string | RegExp;
    retryAfterMs?: number;
    status?: number;
    blockCategory?: string;
    /** Deltas yielded before the failure (-1: all but the last). */
    deltasBefore?: number;
  };
  const CONNECTION = /^connection failed \((terminated|fetch failed|ECONNRESET|UND_ERR_SOCKET)\)$/;
  const MALFORMED = 'malformed response data';
  const failures: Array<[DemoFault, Expected]> = [
    [
      { kind: 'http_429', retryDelaySeconds: 1.5 },
      {
        code: 'provider_rate_limited',
        retryable: true,
        retryAfterMs: 1500,
        status: 429,
        detail: 'HTTP 429 RESOURCE_EXHAUSTED',
      },
    ],
    [
      { kind: 'http_429' },
      {
        code: 'provider_rate_limited',
        retryable: true,
        retryAfterMs: 1000,
        status: 429,
        detail: 'HTTP 429 RESOURCE_EXHAUSTED',
      },
    ],
    [
      { kind: 'quota_exhausted', retryDelaySeconds: 20 },
      { code: 'provider_quota_exhausted', retryable: false, status: 429, detail: 'HTTP 429 RESOURCE_EXHAUSTED' },
    ],
    [{ kind: 'http_500' }, { code: 'provider_unavailable', retryable: true, status: 500, detail: 'HTTP 500 INTERNAL' }],
    [
      { kind: 'http_503' },
      { code: 'provider_unavailable', retryable: true, status: 503, detail: 'HTTP 503 UNAVAILABLE' },
    ],
    [
      { kind: 'http_504' },
      { code: 'provider_timeout', retryable: true, status: 504, detail: 'HTTP 504 DEADLINE_EXCEEDED' },
    ],
    [
      { kind: 'http_400' },
      { code: 'provider_invalid_request', retryable: false, status: 400, detail: 'HTTP 400 INVALID_ARGUMENT' },
    ],
    [
      { kind: 'http_403' },
      { code: 'provider_invalid_request', retryable: false, status: 403, detail: 'HTTP 403 PERMISSION_DENIED' },
    ],
    [
      { kind: 'http_404' },
      { code: 'provider_invalid_request', retryable: false, status: 404, detail: 'HTTP 404 NOT_FOUND' },
    ],
    [
      { kind: 'drop', afterChunks: 2 },
      { code: 'provider_unavailable', retryable: true, detail: CONNECTION, deltasBefore: 2 },
    ],
    [
      { kind: 'drop', afterChunks: 0 },
      { code: 'provider_unavailable', retryable: true, detail: CONNECTION, deltasBefore: 0 },
    ],
    [
      { kind: 'malformed_json', afterChunks: 2 },
      { code: 'provider_unavailable', retryable: true, detail: MALFORMED, deltasBefore: 2 },
    ],
    [
      { kind: 'truncated_event' },
      { code: 'provider_unavailable', retryable: true, detail: MALFORMED, deltasBefore: -1 },
    ],
    [
      { kind: 'stream_error_event', afterChunks: 1 },
      { code: 'provider_unavailable', retryable: true, detail: 'error event in stream INTERNAL', deltasBefore: 1 },
    ],
    [{ kind: 'empty_candidates' }, { code: 'provider_empty_response', retryable: true, detail: 'no candidates' }],
    [
      { kind: 'safety_block' },
      { code: 'content_blocked', retryable: false, blockCategory: 'SAFETY', detail: 'reply blocked: SAFETY' },
    ],
    [
      { kind: 'safety_block', afterChunks: 2 },
      {
        code: 'content_blocked',
        retryable: false,
        blockCategory: 'SAFETY',
        detail: 'reply blocked: SAFETY',
        deltasBefore: 2,
      },
    ],
    [
      { kind: 'prompt_blocked' },
      { code: 'content_blocked', retryable: false, blockCategory: 'SAFETY', detail: 'prompt blocked: SAFETY' },
    ],
    [
      { kind: 'recitation' },
      { code: 'content_blocked', retryable: false, blockCategory: 'RECITATION', detail: 'reply blocked: RECITATION' },
    ],
    [
      { kind: 'recitation', afterChunks: 3 },
      {
        code: 'content_blocked',
        retryable: false,
        blockCategory: 'RECITATION',
        detail: 'reply blocked: RECITATION',
        deltasBefore: 3,
      },
    ],
    [{ kind: 'finish_other' }, { code: 'provider_empty_response', retryable: true, detail: 'finish reason OTHER' }],
  ];

  function expectFailure(error: unknown, expected: Expected): void {
    expect(error).toBeInstanceOf(ProviderError);
    const failure = error as ProviderError;
    expect(failure.code).toBe(expected.code);
    expect(failure.provider).toBe('demo');
    expect(failure.retryable).toBe(expected.retryable);
    expect(failure.details.retryAfterMs).toBe(expected.retryAfterMs);
    expect(failure.details.blockCategory).toBe(expected.blockCategory);
    expect(failure.details.status).toBe(expected.status);
    if (typeof expected.detail === 'string') expect(failure.details.detail).toBe(expected.detail);
    else expect(failure.details.detail).toMatch(expected.detail);
    // Never the user's or the model's words.
    expect(failure.message).not.toMatch(/butler|Harlan|watch/i);
  }

  describe.each(failures)('fault %j', (fault, expected) => {
    it('streamed: throws from the iteration after the deltas before it', async () => {
      server.enqueueFaults(fault);
      const { chunks, error } = await drain(provider.stream(request()));
      expectFailure(error, expected);
      expect(chunks.every((c) => c.type === 'delta')).toBe(true);
      const before = expected.deltasBefore === -1 ? reference.deltas.length - 1 : (expected.deltasBefore ?? 0);
      expect(deltasOf(chunks)).toEqual(reference.deltas.slice(0, before));
      // One upstream call: neither the SDK nor the adapter retried.
      expect(server.requests()).toHaveLength(1);
    });

    it('generate(): throws the same classification', async () => {
      server.enqueueFaults(fault);
      const error = await provider.generate(request()).then(
        () => undefined,
        (e: unknown) => e,
      );
      // In a single response these are plain HTTP 500s (error event) or carry no text at all.
      const unary =
        fault.kind === 'stream_error_event' ? { ...expected, status: 500, detail: 'HTTP 500 INTERNAL' } : expected;
      expectFailure(error, unary);
      expect(server.requests()).toHaveLength(1);
    });
  });

  describe('faults that still answer', () => {
    it.each<DemoFault>([
      { kind: 'first_byte_delay', delayMs: 30 },
      { kind: 'stall', afterChunks: 2, delayMs: 30 },
    ])('%j: the full reply', async (fault) => {
      server.enqueueFaults(fault, fault);
      const streamed = await drain(provider.stream(request()));
      expect(streamed.deltas).toEqual(reference.deltas);
      expect(streamed.chunks.at(-1)).toMatchObject({ type: 'done', finishReason: 'stop' });
      expect((await provider.generate(request())).text).toBe(reference.text);
    });

    it('max_tokens: a shorter reply done with max_tokens', async () => {
      server.enqueueFaults({ kind: 'max_tokens' }, { kind: 'max_tokens' });
      const streamed = await drain(provider.stream(request()));
      const text = streamed.deltas.join('');
      expect(reference.text.startsWith(text)).toBe(true);
      expect(text.length).toBeLessThan(reference.text.length);
      expect(streamed.chunks.at(-1)).toMatchObject({
        type: 'done',
        finishReason: 'max_tokens',
        usage: { completionTokens: Math.ceil(text.length / 4) },
      });
      const generated = await provider.generate(request());
      expect(generated).toMatchObject({ text, finishReason: 'max_tokens' });
    });

    it('non-streamed drop, malformed and truncated bodies are provider_unavailable', async () => {
      for (const kind of ['drop', 'malformed_json', 'truncated_event'] as const) {
        server.enqueueFaults({ kind });
        const error = await provider.generate(request()).catch((e: unknown) => e);
        expectFailure(error, {
          code: 'provider_unavailable',
          retryable: true,
          detail: kind === 'drop' ? CONNECTION : MALFORMED,
        });
      }
    });
  });

  describe('abort', () => {
    it('ends a stalled stream promptly with the signal’s reason and aborts upstream', async () => {
      server.enqueueFaults({ kind: 'stall', afterChunks: 1 });
      const controller = new AbortController();
      const reason = new Error('stopped by the user');
      const received: ProviderChunk[] = [];
      const iteration = (async () => {
        for await (const chunk of provider.stream(request({ signal: controller.signal }))) {
          received.push(chunk);
          if (received.length === 1) setTimeout(() => controller.abort(reason), 20);
        }
      })();
      await expect(iteration).rejects.toBe(reason);
      expect(deltasOf(received)).toEqual(reference.deltas.slice(0, 1));
      await waitFor(() => server.requests()[0]?.aborted === true);
      expect(server.requests()[0].aborted).toBe(true);
    }, 5000);

    it('ends a stalled generate() with the signal’s reason', async () => {
      server.enqueueFaults({ kind: 'stall' });
      const controller = new AbortController();
      const reason = new Error('turn deadline');
      setTimeout(() => controller.abort(reason), 30);
      await expect(provider.generate(request({ signal: controller.signal }))).rejects.toBe(reason);
      await waitFor(() => server.requests()[0]?.aborted === true);
      expect(server.requests()[0].aborted).toBe(true);
    }, 5000);

    it('aborts upstream when the consumer stops iterating early', async () => {
      server.enqueueFaults({ kind: 'stall', afterChunks: 1 });
      for await (const chunk of provider.stream(request())) {
        expect(chunk.type).toBe('delta');
        break;
      }
      await waitFor(() => server.requests()[0]?.aborted === true);
      expect(server.requests()[0].aborted).toBe(true);
    }, 5000);

    it('classifies the SDK’s own timeout (requestTimeoutMs) as provider_timeout', async () => {
      const timed = new GeminiProvider({
        name: 'demo',
        apiKey: 'k',
        model: 'gemini-2.5-flash',
        baseUrl: server.baseUrl,
        requestTimeoutMs: 100,
      });
      server.enqueueFaults({ kind: 'stall', afterChunks: 1 });
      const { deltas, error } = await drain(timed.stream(request()));
      expect(deltas).toHaveLength(1);
      expectFailure(error, { code: 'provider_timeout', retryable: true, detail: 'request timed out' });
    }, 5000);
  });

  describe('probe', () => {
    it('resolves when the server lists models', async () => {
      await expect(provider.probe(new AbortController().signal)).resolves.toBeUndefined();
      // A probe is not a generation.
      expect(server.requests()).toEqual([]);
    });

    it('throws provider_unavailable when nothing listens', async () => {
      const gone = await DemoGeminiServer.start();
      await gone.close();
      const orphan = new GeminiProvider({ name: 'demo', apiKey: 'k', model: 'm', baseUrl: gone.baseUrl });
      const error = await orphan.probe(new AbortController().signal).catch((e: unknown) => e);
      expectFailure(error, {
        code: 'provider_unavailable',
        retryable: true,
        detail: 'connection failed (ECONNREFUSED)',
      });
    });

    it('classifies an HTTP failure of the listing', async () => {
      const misrouted = new GeminiProvider({
        name: 'demo',
        apiKey: 'k',
        model: 'm',
        baseUrl: `${server.baseUrl}/nowhere`,
      });
      const error = await misrouted.probe(new AbortController().signal).catch((e: unknown) => e);
      expectFailure(error, {
        code: 'provider_invalid_request',
        retryable: false,
        status: 404,
        detail: 'HTTP 404 NOT_FOUND',
      });
    });
  });
});
