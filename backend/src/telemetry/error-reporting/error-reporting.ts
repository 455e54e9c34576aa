import type { ObservabilityConfig } from '../../config/app-config.js';
import { traceFields } from '../tracing/spans.js';

export interface ErrorReporting {
  /** Sends the reports still queued (on shutdown). */
  flush(): Promise<void>;
}

/** Where an unexpected error happened: never a body, a header or user text. */
export interface ErrorSite {
  requestId?: string;
  method?: string;
  route?: string;
}

let report: ((error: unknown, site: ErrorSite) => void) | undefined;

/**
 * Reports an unexpected error (one the taxonomy could not classify: a 500 `internal_error`) to
 * the Sentry-compatible ingest, tagged with the request id and trace id that its log line and
 * problem body carry. Classified failures (4xx, a provider outage's 503) are not reported: they
 * are the product working, and metrics and alerts watch their rates. Nothing without SENTRY_DSN.
 */
export function reportUnexpected(error: unknown, site: ErrorSite): void {
  report?.(error, site);
}

/**
 * Starts error reporting when SENTRY_DSN is set; loads nothing otherwise. Sentry's SDK runs
 * without its default integrations: no tracing of its own (OpenTelemetry owns the traces, see
 * tracing.ts), no module patching, no request data (bodies and headers stay out), only uncaught
 * exceptions and unhandled rejections besides the errors reported here; both still end the
 * process as they do without it.
 */
export async function startErrorReporting(
  config: ObservabilityConfig | undefined,
): Promise<ErrorReporting | undefined> {
  if (!config?.sentryDsn) return undefined;
  const Sentry = await import('@sentry/node');
  Sentry.initWithoutDefaultIntegrations({
    dsn: config.sentryDsn,
    serverName: config.serviceName,
    // Nothing about users or requests beyond the tags set below.
    dataCollection: {
      userInfo: false,
      cookies: false,
      httpHeaders: false,
      httpBodies: [],
      urlQueryParams: false,
      genAI: { inputs: false, outputs: false },
      databaseQueryData: false,
    },
    enableRuntimeChannelInjection: false,
    integrations: [
      Sentry.onUncaughtExceptionIntegration(),
      // `strict`: reported, then the process ends as Node's default (throw) would end it. Any
      // listener, this one included, would otherwise turn Node's crash into a warning.
      Sentry.onUnhandledRejectionIntegration({ mode: 'strict' }),
      Sentry.linkedErrorsIntegration(),
      Sentry.nodeContextIntegration(),
    ],
  });
  report = (error, site) =>
    Sentry.withScope((scope) => {
      const trace = traceFields();
      if (site.requestId) scope.setTag('request_id', site.requestId);
      if (trace.trace_id) scope.setTag('trace_id', trace.trace_id);
      if (site.method) scope.setTag('http.method', site.method);
      if (site.route) scope.setTag('http.route', site.route);
      Sentry.captureException(error);
    });
  return {
    flush: async () => {
      await Sentry.flush(2000);
    },
  };
}
