import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { inSpan, toolCallSpan, traceFields } from './spans.js';

describe('spans', () => {
  const exporter = new InMemorySpanExporter();
  const contextManager = new AsyncLocalStorageContextManager();

  describe('without a tracer provider (no OTLP endpoint)', () => {
    it('runs the work and gives no ids to log', async () => {
      await expect(inSpan('turn', {}, async () => traceFields())).resolves.toEqual({});
    });
  });

  describe('with one', () => {
    beforeAll(() => {
      context.setGlobalContextManager(contextManager.enable());
      trace.setGlobalTracerProvider(new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }));
    });
    afterAll(() => {
      trace.disable();
      context.disable();
    });
    beforeEach(() => exporter.reset());

    it('nests a tool call under the span it runs in, and the log ids are the innermost span', async () => {
      let inner: ReturnType<typeof traceFields> = {};
      await inSpan('turn', { 'parley.chat_id': 'c1' }, () =>
        toolCallSpan({ tool: 'dice', step: 1, index: 0 }, async () => {
          await new Promise((r) => setTimeout(r, 1));
          inner = traceFields();
        }),
      );
      const [tool, turn] = exporter.getFinishedSpans();
      expect(tool!.name).toBe('tool dice');
      expect(tool!.attributes).toMatchObject({ 'parley.tool.name': 'dice', 'parley.tool.step': 1 });
      expect(tool!.parentSpanContext?.spanId).toBe(turn!.spanContext().spanId);
      expect(inner).toEqual({ trace_id: turn!.spanContext().traceId, span_id: tool!.spanContext().spanId });
    });

    it('marks a failed span with the error code and rethrows the error unchanged', async () => {
      const failure = Object.assign(new Error('upstream said no'), { code: 'provider_unavailable' });
      await expect(inSpan('provider gemini', {}, () => Promise.reject(failure))).rejects.toBe(failure);
      const [span] = exporter.getFinishedSpans();
      expect(span!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'provider_unavailable' });
    });
  });
});
