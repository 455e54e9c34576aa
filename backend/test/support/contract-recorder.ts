import type { NextFunction, Request, Response } from 'express';
import type { ValidateFunction } from 'ajv';
import type { ContractService } from '../../src/contract/contract.service.js';
import { parseSse } from './sse.js';

export interface RecordedResponse {
  method: string;
  path: string;
  status: number;
  operationId: string | null;
}

/**
 * Records every response the app sends during a test file and checks it against the contract:
 * the status must be listed for the operation, the media type declared, the body valid.
 * Responses outside the contract must be problem+json 404s (unknown routes).
 */
export class ContractRecorder {
  readonly responses: RecordedResponse[] = [];
  readonly violations: string[] = [];

  constructor(private readonly contract: ContractService) {}

  middleware = (request: Request, response: Response, next: NextFunction): void => {
    if (request.path.startsWith('/docs')) return next();
    const chunks: Buffer[] = [];
    const write = response.write.bind(response) as (...args: unknown[]) => boolean;
    const end = response.end.bind(response) as (...args: unknown[]) => Response;
    const capture = (chunk: unknown, encoding?: unknown) => {
      if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
      chunks.push(
        Buffer.isBuffer(chunk)
          ? chunk
          : Buffer.from(String(chunk), (typeof encoding === 'string' ? encoding : 'utf8') as BufferEncoding),
      );
    };
    response.write = ((chunk: unknown, ...rest: unknown[]) => {
      capture(chunk, rest[0]);
      return write(chunk, ...rest);
    }) as Response['write'];
    response.end = ((chunk?: unknown, ...rest: unknown[]) => {
      capture(chunk, rest[0]);
      return end(chunk, ...rest);
    }) as Response['end'];
    const path = request.path;
    response.once('finish', () => this.check(request.method, path, response, Buffer.concat(chunks)));
    next();
  };

  private check(method: string, path: string, response: Response, raw: Buffer): void {
    const operation = this.contract.match(method, path);
    const status = response.statusCode;
    this.responses.push({ method, path, status, operationId: operation?.operationId ?? null });
    const where = `${method} ${path} → ${status}`;
    const type = String(response.getHeader('content-type') ?? '')
      .split(';')[0]!
      .trim();
    if (!response.getHeader('x-request-id')) this.violations.push(`${where}: no X-Request-Id header`);
    if (method === 'HEAD') return;
    if (!operation) {
      const problem = this.contract.operation('getMe').responses.get('404')?.get('application/problem+json');
      if (status !== 404 || type !== 'application/problem+json') {
        this.violations.push(`${where}: route outside the contract answered ${status} ${type}`);
      } else if (problem && !problem(JSON.parse(raw.toString('utf8')))) {
        this.violations.push(`${where}: ${JSON.stringify(problem.errors)}`);
      }
      return;
    }
    const media = operation.responses.get(String(status)) ?? operation.responses.get('default');
    if (!media) {
      this.violations.push(`${where}: status ${status} is not listed for ${operation.operationId}`);
      return;
    }
    if (media.size === 0) {
      if (raw.length > 0) this.violations.push(`${where}: body sent where the contract declares none`);
      return;
    }
    // Declared media types may carry parameters (text/plain; version=0.0.4): match on the type.
    const declared = [...media.keys()].find((key) => key.split(';')[0]!.trim() === type);
    if (!declared) {
      this.violations.push(`${where}: media type ${type} is not declared (${[...media.keys()].join(', ')})`);
      return;
    }
    const validate = media.get(declared);
    if (!validate) return;
    if (type === 'text/event-stream') {
      this.checkStream(where, operation.operationId, validate, raw.toString('utf8'));
      return;
    }
    let body: unknown = raw.toString('utf8');
    if (type.endsWith('json')) {
      try {
        body = JSON.parse(body as string);
      } catch {
        this.violations.push(`${where}: body is not JSON`);
        return;
      }
    }
    if (!validate(body)) {
      this.violations.push(
        `${where}: ${operation.operationId} body invalid: ${JSON.stringify(validate.errors?.slice(0, 5))}`,
      );
    }
  }

  /**
   * A stream is checked event by event: each event's data against the media type's schema (the
   * contract's `StreamEvent`), its `event` field equal to the data's `type`, an id on every
   * event, and exactly one terminal event, last. A stream that does not parse is a violation.
   */
  checkStream(where: string, operationId: string, validate: ValidateFunction, text: string): void {
    const problems = streamViolations(validate, text);
    for (const problem of problems) this.violations.push(`${where}: ${operationId} stream: ${problem}`);
  }
}

/** What is wrong with a complete event stream, judged by the schema of one event's data. */
export function streamViolations(validate: ValidateFunction, text: string): string[] {
  let events;
  try {
    events = parseSse(text);
  } catch (error) {
    return [`does not parse as server-sent events: ${(error as Error).message}`];
  }
  const problems: string[] = [];
  if (events.length === 0) problems.push('has no events');
  for (const [index, event] of events.entries()) {
    if (!validate(event.data)) problems.push(`event ${index} invalid: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
    if (event.event !== event.data.type)
      problems.push(`event ${index} is named ${event.event} but its type is ${event.data.type}`);
    if (!event.id) problems.push(`event ${index} has no id`);
  }
  const terminal = events
    .map((e, i) => (e.data.type === 'done' || e.data.type === 'error' ? i : -1))
    .filter((i) => i >= 0);
  if (terminal.length !== 1 || terminal[0] !== events.length - 1) {
    problems.push(
      `has ${terminal.length} terminal events, the last at ${terminal.at(-1) ?? 'none'} of ${events.length}`,
    );
  }
  return problems;
}
