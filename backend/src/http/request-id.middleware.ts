import { Injectable, type NestMiddleware } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

// Only ids that are safe to echo into a header and a log line are taken from the client.
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const REQUEST_ID = Symbol('requestId');

type WithRequestId = Request & { [REQUEST_ID]?: string };

/** The request's id: the client's X-Request-Id when it is safe, a new UUID otherwise; made on first ask. */
export function requestIdOf(request: Request): string {
  const holder = request as WithRequestId;
  if (holder[REQUEST_ID] === undefined) {
    const offered = request.headers['x-request-id'];
    holder[REQUEST_ID] = typeof offered === 'string' && CLIENT_REQUEST_ID.test(offered) ? offered : randomUUID();
  }
  return holder[REQUEST_ID];
}

// The request logger's middleware is mounted first (global modules come first) and asks for the
// id already; whoever asks first makes it, so the header and every log line agree.
@Injectable()
export class RequestIdMiddleware implements NestMiddleware {
  use(request: Request, response: Response, next: NextFunction): void {
    response.setHeader('X-Request-Id', requestIdOf(request));
    next();
  }
}
