import { ApiError } from '@google/genai';
import { ProviderError, type ProviderErrorCode } from '../provider.port.js';

// Finish reasons that mean Google withheld the reply. Everything else that is not STOP or
// MAX_TOKENS (OTHER, LANGUAGE, MALFORMED_FUNCTION_CALL, …) is a reply that failed to appear.
export const BLOCKING_FINISH_REASONS: ReadonlySet<string> = new Set([
  'SAFETY',
  'RECITATION',
  'PROHIBITED_CONTENT',
  'SPII',
  'BLOCKLIST',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
  'IMAGE_RECITATION',
]);

// Socket-level failures (refused, reset, DNS): the provider is unreachable for now.
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
]);

interface GoogleErrorBody {
  status?: string;
  details: unknown[];
}

type Details = Omit<ProviderError['details'], 'retryable'>;

function providerError(code: ProviderErrorCode, provider: string, retryable: boolean, details: Details = {}) {
  return new ProviderError(code, provider, { ...details, retryable });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/**
 * The SDK puts Google's JSON error body in `ApiError.message`: as is for an HTTP error, after a
 * `got status: X. ` prefix for an error event inside a stream.
 */
export function parseGoogleError(message: string): GoogleErrorBody | undefined {
  const start = message.indexOf('{');
  if (start < 0) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(message.slice(start));
  } catch {
    return undefined;
  }
  const error = isRecord(parsed) ? parsed.error : undefined;
  if (!isRecord(error)) return undefined;
  return {
    status: typeof error.status === 'string' ? error.status : undefined,
    details: Array.isArray(error.details) ? error.details : [],
  };
}

function detailOfType(details: unknown[], type: string): Record<string, unknown>[] {
  return details.filter(
    (d): d is Record<string, unknown> => isRecord(d) && typeof d['@type'] === 'string' && d['@type'].endsWith(type),
  );
}

/** RetryInfo.retryDelay as milliseconds: `"38s"`, `"1.5s"`, or the proto form `{seconds, nanos}`. */
export function retryDelayMs(details: unknown[]): number | undefined {
  const delay = detailOfType(details, 'google.rpc.RetryInfo')[0]?.retryDelay;
  let seconds: number | undefined;
  if (typeof delay === 'string') {
    const match = /^\s*(\d+(?:\.\d+)?)s\s*$/.exec(delay);
    seconds = match ? Number(match[1]) : undefined;
  } else if (isRecord(delay)) {
    seconds = Number(delay.seconds ?? 0) + Number(delay.nanos ?? 0) / 1e9;
  }
  return seconds !== undefined && Number.isFinite(seconds) && seconds >= 0 ? Math.ceil(seconds * 1000) : undefined;
}

/** A per-day quota does not recover by retrying within a turn, whatever RetryInfo says. */
export function isDailyQuota(details: unknown[]): boolean {
  return detailOfType(details, 'google.rpc.QuotaFailure').some(
    (failure) =>
      Array.isArray(failure.violations) &&
      failure.violations.some((v) => isRecord(v) && typeof v.quotaId === 'string' && /PerDay/i.test(v.quotaId)),
  );
}

interface Link {
  name: string;
  message: string;
  code?: string;
}

/**
 * The error and its causes, read by property rather than instanceof: fetch's errors (DOMException,
 * undici's TypeError, Response.json's SyntaxError) can come from another realm, as under jest's VM
 * context, where the SDK then also wraps them as `Error('exception … sending request', {cause})`.
 */
function chain(error: unknown): Link[] {
  const links: Link[] = [];
  for (let e = error, depth = 0; isRecord(e) && depth < 5; e = e.cause, depth++) {
    links.push({
      name: typeof e.name === 'string' ? e.name : 'object',
      message: typeof e.message === 'string' ? e.message : '',
      code: typeof e.code === 'string' ? e.code : undefined,
    });
  }
  return links.length > 0 ? links : [{ name: typeof error, message: '' }];
}

function fromApiError(error: ApiError, provider: string): ProviderError {
  const body = parseGoogleError(error.message);
  const inStream = error.message.startsWith('got status:');
  const status = error.status;
  // Google's message may quote the request, so only the status and its name are kept (no cause).
  const base: Details = {
    status: inStream ? undefined : status,
    detail: [inStream ? 'error event in stream' : `HTTP ${status}`, body?.status].filter(Boolean).join(' '),
  };
  const details = body?.details ?? [];
  if (status === 429) {
    if (isDailyQuota(details)) return providerError('provider_quota_exhausted', provider, false, base);
    return providerError('provider_rate_limited', provider, true, { ...base, retryAfterMs: retryDelayMs(details) });
  }
  if (status === 504 || status === 408) return providerError('provider_timeout', provider, true, base);
  if (status >= 500) return providerError('provider_unavailable', provider, true, base);
  return providerError('provider_invalid_request', provider, false, base);
}

/**
 * Classifies anything the SDK throws into the taxonomy. The caller handles its own abort first:
 * an AbortError reaching this function came from the SDK's `httpOptions.timeout`.
 */
export function classifyGeminiError(error: unknown, provider: string): ProviderError {
  if (error instanceof ProviderError) return error;
  if (error instanceof ApiError) return fromApiError(error, provider);
  const links = chain(error);
  if (links.some((l) => l.name === 'AbortError' || l.name === 'TimeoutError')) {
    return providerError('provider_timeout', provider, true, { detail: 'request timed out' });
  }
  // A bad chunk (SyntaxError, whose message quotes the data: no cause kept), a last event cut short,
  // or a chunk the SDK could not wrap (its message quotes the chunk too).
  const malformed = (l: Link) =>
    l.name === 'SyntaxError' ||
    l.message === 'Incomplete JSON segment at the end' ||
    l.message.startsWith('exception parsing stream chunk') ||
    l.message === 'Response body is empty';
  if (links.some(malformed)) {
    return providerError('provider_unavailable', provider, true, { detail: 'malformed response data' });
  }
  // Undici: `terminated` is a connection lost mid-body, `fetch failed` one that never answered;
  // the socket's code (ECONNREFUSED, …) sits further down the causes.
  const network = links.find((l) => l.code !== undefined && NETWORK_CODES.has(l.code));
  const transport = links.find((l) => l.message === 'terminated' || l.message === 'fetch failed');
  if (network || transport) {
    const label = network?.code ?? transport?.message;
    return providerError('provider_unavailable', provider, true, {
      detail: `connection failed (${label})`,
      cause: error,
    });
  }
  // Unrecognised: most likely another transport failure, so let the retry policy have a go.
  return providerError('provider_unavailable', provider, true, {
    detail: `unrecognised failure (${links[0].name})`,
    cause: error,
  });
}
