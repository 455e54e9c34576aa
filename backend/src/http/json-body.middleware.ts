import { Injectable, type NestMiddleware } from '@nestjs/common';
import express, { type NextFunction, type Request, type Response } from 'express';
import { parse as parseContentType } from 'content-type';
import type { ValidationIssue } from '@parley/api-types';
import { AppError } from '../errors/app-error.js';
import { ContractService } from '../contract/contract.service.js';
import { requestPath } from './request-path.js';

// How much of a body sent to an operation that takes none is read (and dropped), in body limits.
const STRAY_BODY_FACTOR = 8;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Reads JSON bodies by the contract's rules (its `x-request-limits` and conventions): only for
 * operations that take a body (anything sent to one that takes none is ignored, and unknown
 * routes fall through to their 404); `application/json` in UTF-8 only (415 otherwise); a size
 * limit (413); bytes that are not UTF-8 or not JSON (400 malformed_json, without parser text);
 * bounded nesting; and no NUL characters or lone surrogates in any string or name (PostgreSQL
 * rejects or silently rewrites them), each reported where it is.
 */
@Injectable()
export class JsonBodyMiddleware implements NestMiddleware {
  private readonly readers = new Map<number, ReturnType<typeof express.raw>>();
  private readonly maxBodyBytes: number;
  private readonly maxDepth: number;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(private readonly contract: ContractService) {
    const { maxBodyBytes, maxJsonDepth } = contract.requestLimits;
    this.maxBodyBytes = maxBodyBytes;
    this.maxDepth = maxJsonDepth;
  }

  async use(request: Request, response: Response, next: NextFunction): Promise<void> {
    if (!hasBody(request)) return next();
    const operation = this.contract.match(request.method, requestPath(request));
    if (!operation?.takesBody) {
      // Ignored, but read before answering: a connection closed after the answer with the body
      // still unread is reset, and the client may lose the answer. Read and dropped as it comes
      // (nothing is kept), so a few times the body limit costs no memory.
      await drain(request, this.maxBodyBytes * STRAY_BODY_FACTOR);
      return next();
    }
    const limit = operation.maxBodyBytes ?? this.maxBodyBytes;
    // Uploads (an image, a card in a PNG): the declared media type is read as bytes, whose real
    // type the handler checks from the bytes themselves.
    const upload = uploadType(request.headers['content-type'], operation.rawMediaTypes);
    if (!upload) assertJsonUtf8(request.headers['content-type'], operation.jsonBody, operation.rawMediaTypes);
    await this.read(limit, request, response);
    if (upload) return next();
    request.body = this.parse(request.body as Buffer);
    const issues = inspectStrings(request.body, this.maxDepth);
    if (issues.length > 0) throw new AppError('validation_failed', { errors: issues });
    next();
  }

  private read(limit: number, request: Request, response: Response): Promise<void> {
    let reader = this.readers.get(limit);
    if (!reader) {
      // Compressed bodies are not accepted (Content-Encoding other than identity answers 415).
      reader = express.raw({ limit, type: () => true, inflate: false });
      this.readers.set(limit, reader);
    }
    const read = reader;
    return new Promise<void>((resolve, reject) =>
      read(request, response, (error?: unknown) => (error ? reject(error) : resolve())),
    );
  }

  private parse(raw: Buffer): unknown {
    let text: string;
    try {
      text = this.decoder.decode(raw);
    } catch {
      throw new AppError('malformed_json', { detail: 'the body is not valid UTF-8' });
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new AppError('malformed_json');
    }
  }
}

/**
 * Reads and drops a body nobody asked for, up to `limit` bytes; past that it stops waiting
 * (Node drops the rest after the answer).
 */
function drain(request: Request, limit: number): Promise<void> {
  if (request.readableEnded || request.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let received = 0;
    const done = () => {
      request.off('data', count);
      request.off('end', done);
      request.off('error', done);
      request.off('close', done);
      resolve();
    };
    const count = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) done();
    };
    request.on('data', count);
    request.on('end', done);
    request.on('error', done);
    request.on('close', done);
  });
}

function uploadType(header: string | undefined, declared: string[]): string | undefined {
  if (declared.length === 0 || !header) return undefined;
  try {
    const type = parseContentType(header).type.toLowerCase();
    return declared.includes(type) ? type : undefined;
  } catch {
    return undefined;
  }
}

function assertJsonUtf8(header: string | undefined, json: boolean, uploads: string[]): void {
  let type: string;
  let charset: string | undefined;
  try {
    const parsed = parseContentType(header ?? '');
    type = parsed.type.toLowerCase();
    charset = parsed.parameters.charset?.toLowerCase();
  } catch {
    throw new AppError('unsupported_media_type');
  }
  if (!json || type !== 'application/json' || (charset !== undefined && charset !== 'utf-8')) {
    const accepted = [...(json ? ['application/json'] : []), ...uploads].join(', ');
    throw new AppError('unsupported_media_type', { detail: `send the body as one of: ${accepted} (JSON in UTF-8)` });
  }
}

function hasBody(request: Request): boolean {
  const length = request.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return request.headers['transfer-encoding'] !== undefined;
}

// Iterative walk: a hostile body may nest far deeper than the call stack allows. Also used for
// JSON read out of uploads (a card inside a PNG), which must meet the same rules.
export function inspectStrings(root: unknown, maxDepth: number): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const stack: Array<{ value: unknown; pointer: string; depth: number }> = [{ value: root, pointer: '', depth: 0 }];
  while (stack.length > 0 && issues.length < 20) {
    const { value, pointer, depth } = stack.pop()!;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) issues.push(issue(pointer, 'must not contain NUL characters', 'nul'));
      else if (LONE_SURROGATE.test(value)) issues.push(issue(pointer, 'must be valid Unicode text', 'unicode'));
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth >= maxDepth) {
      issues.push(issue(pointer, `must not nest deeper than ${maxDepth} levels`, 'depth'));
      break;
    }
    for (const [key, child] of Object.entries(value)) {
      if (key.includes('\u0000') || LONE_SURROGATE.test(key)) {
        issues.push(issue(pointer, 'property names must be valid text', 'unicode'));
      }
      stack.push({ value: child, pointer: `${pointer}/${escapePointer(key)}`, depth: depth + 1 });
    }
  }
  return issues;
}

function issue(pointer: string, message: string, keyword: string): ValidationIssue {
  return { location: 'body', pointer, message, keyword };
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}
