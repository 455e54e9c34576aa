import type { ObservabilityConfig } from '../../config/app-config.js';

export interface Tracing {
  /** Exports the spans still buffered, then stops (on shutdown). */
  shutdown(): Promise<void>;
}

/**
 * Starts OpenTelemetry tracing when an OTLP endpoint is configured; nothing at all otherwise (not
 * even loading the SDK). Must run before the application's modules are imported: the http and pg
 * instrumentations patch those modules as they are first required. Spans go out in batches over
 * OTLP/HTTP with JSON bodies; an unreachable collector costs a failed export in the background,
 * never a request or the start.
 */
export async function startTracing(config: ObservabilityConfig | undefined): Promise<Tracing | undefined> {
  if (!config?.otlpEndpoint) return undefined;
  const [api, { AsyncLocalStorageContextManager }, core, sdk, resources, otlp, instrumentation, http, pg] =
    await Promise.all([
      import('@opentelemetry/api'),
      import('@opentelemetry/context-async-hooks'),
      import('@opentelemetry/core'),
      import('@opentelemetry/sdk-trace'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/instrumentation'),
      import('@opentelemetry/instrumentation-http'),
      import('@opentelemetry/instrumentation-pg'),
    ]);
  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  // A caller's traceparent continues its trace (a gateway, a browser with tracing).
  api.propagation.setGlobalPropagator(new core.W3CTraceContextPropagator());
  const provider = new sdk.TracerProvider({
    resource: resources.resourceFromAttributes({ 'service.name': config.serviceName }),
    // The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT (adding /v1/traces) and its other variables.
    spanProcessors: [new sdk.BatchSpanProcessor({ exporter: new otlp.OTLPTraceExporter() })],
  });
  api.trace.setGlobalTracerProvider(provider);
  instrumentation.registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new http.HttpInstrumentation({
        // Server spans only: provider calls have spans of their own (one per attempt), and the
        // exporter's own requests must not be traced.
        disableOutgoingRequestInstrumentation: true,
        // Probes and scrapes every few seconds would drown the traces that matter; the in-process
        // demo provider's own server (Gemini's REST paths) is a provider, already an attempt span.
        ignoreIncomingRequestHook: (request) => /^\/(health|metrics|v1beta)(\/|$|\?)/.test(request.url ?? ''),
      }),
      // Statements outside any request or turn (sweeps, probes of the pool) make no root spans.
      new pg.PgInstrumentation({ requireParentSpan: true }),
    ],
  });
  return { shutdown: () => provider.shutdown() };
}
