import type { NextFunction, Request, Response } from 'express';
import type { ContractService } from '../../src/contract/contract.service.js';

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
}
