import type { ContractModel, OperationModel } from './contract-model.js';
import { FORM_CODES, type PlannedRequest } from './planner.js';
import { parseEventStream, type RawResponse, type SseEvent } from './raw-http.js';

export interface Finding {
  /** What kind of failure, for grouping: one class is reported once, with its first example. */
  check: string;
  detail: string;
}

export interface Verdict {
  findings: Finding[];
  operationId: string | null;
  code?: string;
  json?: unknown;
  events: Array<{ id?: string; data: Record<string, unknown> }>;
}

const TERMINAL = ['done', 'error'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Checks one response against the contract: never a 5xx, only declared statuses and media types,
 * bodies (and each server-sent event) valid, every 4xx a problem+json whose code maps to that
 * status, Retry-After exactly when retryAfterSeconds is set, WWW-Authenticate on every 401,
 * X-Request-Id always, required headers present, no validators and no 304 — and what the request
 * itself lets us expect (a valid request is not refused, a broken one is refused for its fault).
 */
export function judge(contract: ContractModel, request: PlannedRequest, response: RawResponse): Verdict {
  const findings: Finding[] = [];
  const fail = (check: string, detail: string) => findings.push({ check, detail });
  const status = response.status;
  const header = (name: string) => {
    const value = response.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  };
  const [pathOnly] = request.path.split('?');
  const addressed = contract.contract.match(request.method, pathOnly!);
  const model = addressed ? contract.model(addressed.operationId) : undefined;
  const verdict: Verdict = { findings, operationId: addressed?.operationId ?? null, events: [] };
  const mediaType = (header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  const text = response.body.toString('utf8');

  if (status >= 500)
    fail(`${status} answered`, `a ${status} (the server's fault) for a request it could have answered`);
  if (status === 304) fail('304 answered', 'the contract declares no 304');
  for (const validator of ['etag', 'last-modified']) {
    if (response.headers[validator] !== undefined) fail(`${validator} sent`, 'responses carry no validators');
  }

  // Request ids: always sent; the caller's when it matches the pattern, otherwise a fresh UUID.
  const requestId = header('x-request-id');
  const sentId =
    typeof request.headers['X-Request-Id'] === 'string' ? request.headers['X-Request-Id'].trim() : undefined;
  if (!requestId) fail('no X-Request-Id', 'every response carries X-Request-Id');
  else if (sentId !== undefined && contract.requestIdPattern.test(sentId)) {
    if (requestId !== sentId) fail('X-Request-Id not echoed', `sent ${sentId}, got ${requestId}`);
  } else if (!UUID.test(requestId)) {
    fail('X-Request-Id not a fresh UUID', `sent ${JSON.stringify(sentId)}, got ${JSON.stringify(requestId)}`);
  }

  // Declared statuses: the addressed operation's, or 404 route_not_found outside the contract.
  const declared = model?.responses.get(String(status)) ?? model?.responses.get('default');
  if (model && !declared) fail('undeclared status', `${status} is not declared for ${model.operation.operationId}`);
  if (!model && status !== 404)
    fail('not 404 outside the contract', `${request.method} ${pathOnly} matches no operation but answered ${status}`);

  // Required headers of the declared response (Location, WWW-Authenticate, X-Request-Id, …).
  for (const [name, required] of declared?.headers ?? []) {
    // X-Request-Id has its own check above.
    if (required && name !== 'x-request-id' && response.headers[name] === undefined) {
      fail(`no ${name} header`, `the contract requires ${name} on ${status}`);
    }
  }

  let problem: Record<string, unknown> | undefined;
  if (status >= 400 && !(model && isHealth(model))) {
    if (mediaType !== 'application/problem+json') {
      fail(
        'error not problem+json',
        `a ${status} with Content-Type ${JSON.stringify(header('content-type'))}: ${clip(text)}`,
      );
    } else if (request.method !== 'HEAD') {
      problem = parseObject(text);
      if (!problem) fail('problem not JSON', clip(text));
      else checkProblem(contract, problem, status, requestId, fail);
    }
  }
  if (problem && typeof problem.code === 'string') verdict.code = problem.code;
  if (!model && status === 404 && problem && problem.code !== 'route_not_found') {
    fail('not route_not_found outside the contract', `code ${String(problem.code)}`);
  }

  // Retry-After exactly when retryAfterSeconds is not null, and equal to it.
  const retryAfter = header('retry-after');
  if (problem) {
    const seconds = problem.retryAfterSeconds;
    if (seconds === null && retryAfter !== undefined)
      fail('Retry-After without retryAfterSeconds', `Retry-After: ${retryAfter}`);
    if (typeof seconds === 'number' && retryAfter !== String(seconds)) {
      fail(
        'Retry-After differs from retryAfterSeconds',
        `Retry-After: ${String(retryAfter)}, retryAfterSeconds: ${seconds}`,
      );
    }
  }

  // WWW-Authenticate on every 401, with error="invalid_token" exactly when a token was sent.
  if (status === 401) {
    const challenge = header('www-authenticate');
    const sent = /^bearer\s+\S/i.test(String(request.headers.Authorization ?? '').trim());
    const expected = sent ? 'Bearer realm="parley", error="invalid_token"' : 'Bearer realm="parley"';
    if (challenge === undefined) fail('401 without WWW-Authenticate', 'every 401 carries WWW-Authenticate');
    else if (problem?.code === 'unauthenticated' && challenge !== expected) {
      fail('WWW-Authenticate not as documented', `expected ${expected}, got ${challenge}`);
    }
  }

  // The declared media type and a valid body.
  if (declared && model && status < 400 && request.method !== 'HEAD') {
    if (declared.media.length === 0) {
      if (response.body.length > 0) fail('body where none is declared', clip(text));
    } else if (!declared.media.some((m) => m.split(';')[0]!.trim().toLowerCase() === mediaType)) {
      fail('undeclared media type', `${mediaType} (declared: ${declared.media.join(', ')})`);
    } else if (mediaType === 'text/event-stream') {
      verdict.events = checkStream(contract, model, request, text, fail);
    } else if (mediaType.endsWith('json')) {
      verdict.json = checkJson(model, status, mediaType, text, fail);
    }
  }
  if (model && isHealth(model) && status === 503) checkJson(model, status, mediaType, text, fail);

  // Rate-limit headers on the rate-limited operations (those whose 429 declares them), on the
  // responses that declare them.
  const limited = model?.responses.get('429')?.headers.has('ratelimit-policy') ?? false;
  if (limited && declared?.headers.has('ratelimit-policy') && status < 500) {
    for (const name of ['ratelimit-policy', 'ratelimit']) {
      if (response.headers[name] === undefined)
        fail(`no ${name} header`, `declared on ${status} of ${model!.operation.operationId}`);
    }
  }

  // What the request lets us expect (outside the contract, the checks above already decide).
  const code = verdict.code;
  if (!model) return verdict;
  // A body over the contract's x-request-limits is refused for its size before anything else
  // is read (an import's messages can add up to more than a valid schema bounds).
  const oversized = (request.body?.length ?? 0) > contract.contract.requestLimits.maxBodyBytes;
  if (oversized && status === 413 && code === 'payload_too_large') return verdict;
  if (request.expect.kind === 'accept' && status >= 400 && code !== undefined && FORM_CODES.includes(code)) {
    fail('valid request refused', `a request the contract allows answered ${status} ${code}`);
  }
  if (request.expect.kind === 'reject') {
    if (status < 400 || status >= 500)
      fail('invalid request not refused', `expected 4xx ${request.expect.codes.join('|')}, got ${status}`);
    else if (code !== undefined && !request.expect.codes.includes(code)) {
      fail('refused with another code', `expected ${request.expect.codes.join('|')}, got ${status} ${code}`);
    }
  }
  return verdict;
}

function checkProblem(
  contract: ContractModel,
  problem: Record<string, unknown>,
  status: number,
  requestId: string | undefined,
  fail: (check: string, detail: string) => void,
): void {
  if (!contract.validateProblem(problem)) {
    fail('problem invalid', JSON.stringify(contract.validateProblem.errors?.slice(0, 3)));
  }
  const code = String(problem.code);
  const row = contract.errorCodes.get(code);
  if (row && row.status !== status)
    fail('code does not match status', `${code} is ${row.status} in the contract, sent as ${status}`);
  if (problem.status !== status) fail('problem.status differs', `body ${String(problem.status)}, response ${status}`);
  if (
    problem.title !== code ||
    problem.type !== `urn:parley:problem:${code}` ||
    problem.messageKey !== `errors.${code}`
  ) {
    fail(
      'problem type, title or messageKey not from the code',
      `${String(problem.type)} / ${String(problem.title)} / ${String(problem.messageKey)}`,
    );
  }
  if (row && problem.retryable !== row.retryable)
    fail('retryable differs from the contract', `${code}: ${String(problem.retryable)}`);
  if (requestId !== undefined && problem.requestId !== requestId) {
    fail('requestId differs from X-Request-Id', `body ${String(problem.requestId)}, header ${requestId}`);
  }
}

function checkJson(
  model: OperationModel,
  status: number,
  mediaType: string,
  text: string,
  fail: (check: string, detail: string) => void,
): unknown {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    fail('body not JSON', clip(text));
    return undefined;
  }
  const media = model.operation.responses.get(String(status));
  const validate = [...(media?.entries() ?? [])].find(([type]) => type.split(';')[0]!.trim() === mediaType)?.[1];
  if (validate && !validate(body)) fail('body invalid', JSON.stringify(validate.errors?.slice(0, 3)));
  return body;
}

/** Every event valid on its own, as the contract writes it, and exactly one terminal event, last. */
function checkStream(
  contract: ContractModel,
  model: OperationModel,
  request: PlannedRequest,
  text: string,
  fail: (check: string, detail: string) => void,
): Verdict['events'] {
  const validate = contract.eventValidator(model);
  const parsed: Verdict['events'] = [];
  const events: SseEvent[] = parseEventStream(text);
  if (events.length === 0) fail('empty stream', 'a 200 stream with no event');
  for (const event of events) {
    if (event.id === undefined || event.event === undefined || event.data === undefined || event.other.length > 0) {
      fail('event not id/event/data', clip(JSON.stringify(event)));
    }
    if (event.id !== undefined && !contract.eventIdPattern.test(event.id))
      fail('event id invalid', JSON.stringify(event.id));
    const data = parseObject(event.data ?? '');
    if (!data) {
      fail('event data not JSON', clip(String(event.data)));
      continue;
    }
    if (data.type !== event.event)
      fail('event field differs from data.type', `${String(event.event)} / ${String(data.type)}`);
    const type = String(data.type);
    if (validate && !validate(data as unknown))
      fail(`${type} event invalid`, JSON.stringify(validate.errors?.slice(0, 3)));
    if (data.type === 'error') {
      const problem = data.problem as Record<string, unknown> | undefined;
      const row = contract.errorCodes.get(String(problem?.code));
      if (row && problem?.status !== row.status)
        fail('error event status does not match its code', `${String(problem?.code)} ${String(problem?.status)}`);
    }
    parsed.push({ id: event.id, data });
  }
  const terminals = parsed.filter((e) => TERMINAL.includes(String(e.data.type)));
  if (terminals.length !== 1) fail('not exactly one terminal event', `${terminals.length} terminal events`);
  else if (!TERMINAL.includes(String(parsed[parsed.length - 1]?.data.type)))
    fail('terminal event not last', 'events after done/error');
  if (request.headers['Last-Event-ID'] === undefined && parsed.length > 0 && parsed[0]!.data.type !== 'turn_started') {
    fail('stream does not start with turn_started', `first event ${String(parsed[0]!.data.type)}`);
  }
  return parsed;
}

function isHealth(model: OperationModel): boolean {
  return [...(model.responses.get('503')?.media ?? [])].some((m) => m === 'application/json');
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

function clip(text: string, max = 300): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
