import { DemoGeminiServer, type DemoRecordedRequest } from './demo-gemini.server.js';

const PERSONA = 'You are Captain Mira Voss, commander of the survey starship Halcyon Drift.';
const KEY = { 'x-goog-api-key': 'any-key', 'content-type': 'application/json' };

interface Part {
  text?: string;
}
interface Body {
  candidates?: Array<{ content?: { parts: Part[] }; finishReason?: string; safetyRatings?: unknown[] }>;
  promptFeedback?: { blockReason?: string };
  usageMetadata?: { promptTokenCount: number; candidatesTokenCount?: number; totalTokenCount: number };
  modelVersion?: string;
}

function requestBody(userText: string, system: string | null = PERSONA) {
  return {
    ...(system === null ? {} : { systemInstruction: { parts: [{ text: system }] } }),
    contents: [
      { role: 'model', parts: [{ text: 'Welcome aboard.' }] },
      { role: 'user', parts: [{ text: userText }] },
    ],
  };
}

function textOf(body: Body): string {
  return (body.candidates?.[0]?.content?.parts ?? []).map((p) => p.text ?? '').join('');
}

/** Splits a raw SSE body into its events, keeping a trailing unterminated fragment as the last item. */
function sseEvents(raw: string): string[] {
  return raw.split('\r\n\r\n').filter((event) => event !== '');
}

describe(DemoGeminiServer.name, () => {
  let server: DemoGeminiServer;

  beforeAll(async () => {
    server = await DemoGeminiServer.start();
  });
  afterEach(() => server.reset());
  afterAll(() => server.close());

  const generate = (body: unknown, model = 'gemini-2.5-flash') =>
    fetch(`${server.baseUrl}/v1beta/models/${model}:generateContent`, {
      method: 'POST',
      headers: KEY,
      body: JSON.stringify(body),
    });
  const stream = (body: unknown, model = 'gemini-2.5-flash') =>
    fetch(`${server.baseUrl}/v1beta/models/${model}:streamGenerateContent?alt=sse`, {
      method: 'POST',
      headers: KEY,
      body: JSON.stringify(body),
    });
  const control = (path: string, body?: unknown) =>
    fetch(`${server.baseUrl}/__demo/${path}`, {
      method: body === undefined && path === 'requests' ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  describe('generateContent', () => {
    it('answers in character, quoting the user, with usage and the model echoed', async () => {
      const body = requestBody('Scan the derelict for life signs');
      const res = await generate(body);
      expect(res.status).toBe(200);
      const json = (await res.json()) as Body;
      const text = textOf(json);
      expect(text).toContain('Captain Mira Voss');
      expect(text).toContain('Scan the derelict for life signs');
      const sentences = text.split(/(?<=[.?!])\s+/);
      expect(sentences.length).toBeGreaterThanOrEqual(2);
      expect(sentences.length).toBeLessThanOrEqual(4);
      expect(json.candidates?.[0]?.finishReason).toBe('STOP');
      const promptChars = PERSONA.length + 'Welcome aboard.'.length + 'Scan the derelict for life signs'.length;
      expect(json.usageMetadata).toEqual({
        promptTokenCount: Math.ceil(promptChars / 4),
        candidatesTokenCount: Math.ceil(text.length / 4),
        totalTokenCount: Math.ceil(promptChars / 4) + Math.ceil(text.length / 4),
      });
      expect(json.modelVersion).toBe('gemini-2.5-flash');
    });

    it('gives the same reply to the same input', async () => {
      const body = requestBody('What is that signal?');
      const first = textOf((await (await generate(body)).json()) as Body);
      const second = textOf((await (await generate(body)).json()) as Body);
      expect(second).toBe(first);
    });

    it('replies in Chinese when the last user message is Chinese', async () => {
      const text = textOf((await (await generate(requestBody('我们去看看那个信号吧'))).json()) as Body);
      expect(text).toContain('我们去看看那个信号吧');
      expect(text).toContain('我是Captain Mira Voss');
      expect(text).not.toMatch(/[a-z]{4,} [a-z]{4,}/);
    });

    it('falls back to "your guide" without a persona', async () => {
      const text = textOf((await (await generate(requestBody('Hello there', null))).json()) as Body);
      expect(text).toContain('I am your guide');
    });

    it('honours maxOutputTokens by cutting the reply with MAX_TOKENS', async () => {
      const json = (await (
        await generate({ ...requestBody('Tell me everything'), generationConfig: { maxOutputTokens: 5 } })
      ).json()) as Body;
      expect(textOf(json)).toHaveLength(20);
      expect(json.candidates?.[0]?.finishReason).toBe('MAX_TOKENS');
    });

    it('refuses a request without contents (400 INVALID_ARGUMENT) and one without a key (403)', async () => {
      const bad = await generate({ contents: [] });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { status: string } }).error.status).toBe('INVALID_ARGUMENT');
      const unkeyed = await fetch(`${server.baseUrl}/v1beta/models/x:generateContent`, {
        method: 'POST',
        body: JSON.stringify(requestBody('hi')),
      });
      expect(unkeyed.status).toBe(403);
      expect(((await unkeyed.json()) as { error: { status: string } }).error.status).toBe('PERMISSION_DENIED');
    });

    it('answers an unknown route with Google’s 404 body', async () => {
      const res = await fetch(`${server.baseUrl}/v1/nothing`, { headers: KEY });
      expect(res.status).toBe(404);
      const json = (await res.json()) as { error: { code: number; status: string; details: unknown[] } };
      expect(json.error).toMatchObject({ code: 404, status: 'NOT_FOUND', details: [] });
    });
  });

  describe('streamGenerateContent', () => {
    it('streams data events whose text joins to the unary reply; only the last carries finish and usage', async () => {
      const body = requestBody('Plot a course to the nebula');
      const res = await stream(body);
      expect(res.headers.get('content-type')).toBe('text/event-stream');
      const raw = await res.text();
      expect(raw.endsWith('\r\n\r\n')).toBe(true);
      const events = sseEvents(raw);
      expect(events.length).toBeGreaterThan(3);
      expect(events.every((e) => e.startsWith('data: '))).toBe(true);
      const chunks = events.map((e) => JSON.parse(e.slice('data: '.length)) as Body);
      const unary = (await (await generate(body)).json()) as Body;
      expect(chunks.map(textOf).join('')).toBe(textOf(unary));
      expect(chunks.slice(0, -1).every((c) => !c.candidates?.[0]?.finishReason && !c.usageMetadata)).toBe(true);
      expect(chunks.at(-1)?.candidates?.[0]?.finishReason).toBe('STOP');
      expect(chunks.at(-1)?.usageMetadata).toEqual(unary.usageMetadata);
      expect(chunks.every((c) => c.modelVersion === 'gemini-2.5-flash')).toBe(true);
    });

    it('sends the scripted mid-stream faults as raw protocol', async () => {
      server.enqueueFaults(
        { kind: 'malformed_json', afterChunks: 2 },
        { kind: 'truncated_event' },
        { kind: 'stream_error_event', afterChunks: 1 },
      );
      const malformed = sseEvents(await (await stream(requestBody('a'))).text());
      expect(malformed).toHaveLength(3);
      expect(malformed[2]).toBe('data: {not json');

      const truncated = await (await stream(requestBody('a'))).text();
      expect(truncated.endsWith('\r\n\r\n')).toBe(false);
      expect(() => JSON.parse(sseEvents(truncated).at(-1)?.slice(6) ?? '')).toThrow(SyntaxError);

      const errored = sseEvents(await (await stream(requestBody('a'))).text());
      expect(errored).toHaveLength(2);
      expect(JSON.parse(errored[1].slice(6))).toMatchObject({ error: { code: 500, status: 'INTERNAL' } });
    });
  });

  describe('models', () => {
    it('lists models (honouring pageSize) and describes one', async () => {
      const list = (await (await fetch(`${server.baseUrl}/v1beta/models`, { headers: KEY })).json()) as {
        models: Array<{ name: string }>;
      };
      expect(list.models.map((m) => m.name)).toContain('models/gemini-2.5-flash');
      const page = (await (await fetch(`${server.baseUrl}/v1beta/models?pageSize=1`, { headers: KEY })).json()) as {
        models: unknown[];
      };
      expect(page.models).toHaveLength(1);
      const one = await fetch(`${server.baseUrl}/v1beta/models/gemini-2.5-pro`, { headers: KEY });
      expect(((await one.json()) as { name: string }).name).toBe('models/gemini-2.5-pro');
    });
  });

  describe('faults', () => {
    it('sends 429 with RetryInfo, and a per-day QuotaFailure for quota_exhausted', async () => {
      server.enqueueFaults({ kind: 'http_429', retryDelaySeconds: 7 }, { kind: 'quota_exhausted' });
      const limited = await generate(requestBody('a'));
      expect(limited.status).toBe(429);
      const limitedBody = (await limited.json()) as {
        error: { status: string; details: Array<Record<string, unknown>> };
      };
      expect(limitedBody.error.status).toBe('RESOURCE_EXHAUSTED');
      expect(limitedBody.error.details).toContainEqual({
        '@type': 'type.googleapis.com/google.rpc.RetryInfo',
        retryDelay: '7s',
      });
      const quota = (await (await stream(requestBody('a'))).json()) as { error: { details: unknown[] } };
      expect(JSON.stringify(quota.error.details)).toMatch(/"quotaId":"[A-Za-z]*PerDay[A-Za-z-]*"/);
    });

    it('answers the content faults with their documented shapes', async () => {
      server.enqueueFaults(
        { kind: 'empty_candidates' },
        { kind: 'prompt_blocked' },
        { kind: 'safety_block' },
        { kind: 'max_tokens' },
      );
      const empty = (await (await generate(requestBody('a'))).json()) as Body;
      expect(empty.candidates).toEqual([]);
      const blocked = (await (await generate(requestBody('a'))).json()) as Body;
      expect(blocked.promptFeedback?.blockReason).toBe('SAFETY');
      expect(blocked.candidates).toBeUndefined();
      const safety = (await (await generate(requestBody('a'))).json()) as Body;
      expect(safety.candidates?.[0]?.finishReason).toBe('SAFETY');
      expect(safety.candidates?.[0]?.safetyRatings?.length).toBeGreaterThan(0);
      expect(textOf(safety)).toBe('');
      const cut = (await (await generate(requestBody('a'))).json()) as Body;
      const full = (await (await generate(requestBody('a'))).json()) as Body;
      expect(cut.candidates?.[0]?.finishReason).toBe('MAX_TOKENS');
      expect(textOf(full).startsWith(textOf(cut))).toBe(true);
      expect(textOf(cut).length).toBeLessThan(textOf(full).length);
    });

    it('waits firstByteDelayMs before answering', async () => {
      server.pace.firstByteDelayMs = 150;
      const started = Date.now();
      await (await generate(requestBody('a'))).json();
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    });
  });

  describe('control API over HTTP', () => {
    it('queues faults FIFO, one per request', async () => {
      const queued = await control('faults', { faults: [{ kind: 'http_503' }, { kind: 'http_404' }] });
      expect(await queued.json()).toEqual({ queued: 2 });
      expect((await generate(requestBody('a'))).status).toBe(503);
      expect((await stream(requestBody('a'))).status).toBe(404);
      expect((await generate(requestBody('a'))).status).toBe(200);
    });

    it('refuses an unknown fault kind and a rate out of range', async () => {
      expect((await control('faults', { faults: [{ kind: 'meteor' }] })).status).toBe(400);
      expect((await control('failure-rate', { rate: 2, kinds: ['http_500'] })).status).toBe(400);
      expect((await control('failure-rate', { rate: 0.5, kinds: [] })).status).toBe(400);
    });

    it('changes the pace and reset restores it', async () => {
      const res = await control('pace', { firstByteDelayMs: 300, chunkDelayMs: 40 });
      expect(await res.json()).toEqual({ pace: { firstByteDelayMs: 300, chunkDelayMs: 40 } });
      expect(server.pace).toEqual({ firstByteDelayMs: 300, chunkDelayMs: 40 });
      expect((await control('reset', {})).status).toBe(200);
      expect(server.pace).toEqual({ firstByteDelayMs: 0, chunkDelayMs: 0 });
    });

    it('records each generate request and serves the record; reset clears it', async () => {
      await generate(requestBody('First question'), 'gemini-2.5-pro');
      await (await stream(requestBody('Second question'))).text();
      const { requests } = (await (await control('requests')).json()) as { requests: DemoRecordedRequest[] };
      expect(requests.map(({ receivedAt: _, ...r }) => r)).toEqual([
        {
          model: 'gemini-2.5-pro',
          stream: false,
          systemInstruction: PERSONA,
          contents: [
            { role: 'model', text: 'Welcome aboard.' },
            { role: 'user', text: 'First question' },
          ],
          aborted: false,
        },
        {
          model: 'gemini-2.5-flash',
          stream: true,
          systemInstruction: PERSONA,
          contents: [
            { role: 'model', text: 'Welcome aboard.' },
            { role: 'user', text: 'Second question' },
          ],
          aborted: false,
        },
      ]);
      await control('reset', {});
      expect(server.requests()).toEqual([]);
    });

    it('records aborted: true when the client leaves a stalled stream', async () => {
      await control('faults', { faults: [{ kind: 'stall', afterChunks: 1 }] });
      const res = await stream(requestBody('a'));
      const reader = res.body?.getReader();
      expect((await reader?.read())?.done).toBe(false);
      await reader?.cancel();
      await waitFor(() => server.requests()[0]?.aborted === true);
      expect(server.requests()[0].aborted).toBe(true);
    });
  });

  describe('failure rate', () => {
    async function statuses(): Promise<number[]> {
      const out: number[] = [];
      for (let i = 0; i < 500; i++) {
        const res = await generate(requestBody(`message ${i}`));
        await res.arrayBuffer();
        out.push(res.status);
      }
      return out;
    }

    it('fails about the given share of requests, reproducibly for a seed', async () => {
      server.setFailureRate(0.2, ['http_500', 'http_503'], 42);
      const first = await statuses();
      const failures = first.filter((s) => s !== 200).length;
      expect(failures).toBeGreaterThanOrEqual(70);
      expect(failures).toBeLessThanOrEqual(130);
      expect(new Set(first.filter((s) => s !== 200))).toEqual(new Set([500, 503]));

      server.reset();
      await control('failure-rate', { rate: 0.2, kinds: ['http_500', 'http_503'], seed: 42 });
      expect(await statuses()).toEqual(first);

      server.reset();
      server.setFailureRate(0.2, ['http_500', 'http_503'], 7);
      expect(await statuses()).not.toEqual(first);
    });

    it('lets queued faults go first', async () => {
      server.setFailureRate(1, ['http_500'], 1);
      server.enqueueFaults({ kind: 'http_403' });
      expect((await generate(requestBody('a'))).status).toBe(403);
      expect((await generate(requestBody('a'))).status).toBe(500);
    });
  });

  describe('close', () => {
    it('ends open streams', async () => {
      const other = await DemoGeminiServer.start();
      other.enqueueFaults({ kind: 'stall' });
      const res = await fetch(`${other.baseUrl}/v1beta/models/m:streamGenerateContent?alt=sse`, {
        method: 'POST',
        headers: KEY,
        body: JSON.stringify(requestBody('a')),
      });
      const reading = res.text();
      await other.close();
      await expect(reading).rejects.toThrow('terminated');
    });
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}
