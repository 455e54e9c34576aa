import {
  SpanKind,
  SpanStatusCode,
  context,
  isSpanContextValid,
  trace,
  type Attributes,
  type Span,
} from '@opentelemetry/api';

// Through the OpenTelemetry API only: with no SDK registered (no OTLP endpoint) every call here
// is the API's no-op, so the code paths are the same with and without tracing, at no cost.
const tracer = () => trace.getTracer('parley');

/**
 * Runs `work` inside a new span, active for everything it awaits (database statements become its
 * children); a thrown error marks the span failed and is rethrown unchanged.
 */
export async function inSpan<T>(
  name: string,
  attributes: Attributes,
  work: (span: Span) => Promise<T>,
  kind: SpanKind = SpanKind.INTERNAL,
): Promise<T> {
  return tracer().startActiveSpan(name, { kind, attributes }, async (span) => {
    try {
      return await work(span);
    } catch (error) {
      markFailed(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Marks a span failed with the error's classification (a code, never message or user text). */
export function markFailed(span: Span, error: unknown): void {
  const code = (error as { code?: unknown } | null)?.code;
  span.setStatus({ code: SpanStatusCode.ERROR, message: typeof code === 'string' ? code : errorType(error) });
  span.setAttribute('error.type', typeof code === 'string' ? code : errorType(error));
}

function errorType(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

/**
 * The span a tool call of the tool loop runs in (DESIGN §10; `ToolLoop.runCall`), nested under
 * the turn's provider attempt, its statements and an MCP server's request under it.
 */
export function toolCallSpan<T>(
  call: { tool: string; step: number; index: number },
  work: () => Promise<T>,
): Promise<T> {
  return inSpan(
    `tool ${call.tool}`,
    { 'parley.tool.name': call.tool, 'parley.tool.step': call.step, 'parley.tool.index': call.index },
    work,
  );
}

/** The active span's ids, for log lines: empty when nothing is traced. */
export function traceFields(): { trace_id?: string; span_id?: string } {
  const span = trace.getSpan(context.active());
  if (!span) return {};
  const ids = span.spanContext();
  return isSpanContextValid(ids) ? { trace_id: ids.traceId, span_id: ids.spanId } : {};
}
