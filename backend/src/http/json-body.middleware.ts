import { Injectable, type NestMiddleware } from '@nestjs/common';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { ValidationIssue } from '@parley/api-types';
import { AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';

const MAX_DEPTH = 32;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Parses JSON bodies with our own rules: `application/json` only (415 otherwise), a size limit
 * (413), malformed JSON (400 without parser text), bounded nesting, and no NUL characters or
 * lone surrogates in any string (PostgreSQL rejects or silently rewrites them).
 */
@Injectable()
export class JsonBodyMiddleware implements NestMiddleware {
  private readonly parse: ReturnType<typeof express.json>;

  constructor(config: AppConfig) {
    this.parse = express.json({ limit: config.server.bodyLimitBytes, strict: true, type: () => true });
  }

  async use(request: Request, response: Response, next: NextFunction): Promise<void> {
    if (!hasBody(request)) return next();
    const type = request.headers['content-type'] ?? '';
    if (!/^application\/(.+\+)?json\s*(;|$)/i.test(type)) throw new AppError('unsupported_media_type');
    await new Promise<void>((resolve, reject) =>
      this.parse(request, response, (error?: unknown) => (error ? reject(error) : resolve())),
    );
    const issues = inspect(request.body);
    if (issues.length > 0) throw new AppError('validation_failed', { errors: issues });
    next();
  }
}

function hasBody(request: Request): boolean {
  const length = request.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return request.headers['transfer-encoding'] !== undefined;
}

// Iterative walk: a hostile body may nest far deeper than the call stack allows.
function inspect(root: unknown): ValidationIssue[] {
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
    if (depth >= MAX_DEPTH) {
      issues.push(issue(pointer, `must not nest deeper than ${MAX_DEPTH} levels`, 'depth'));
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
