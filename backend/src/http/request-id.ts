import { randomUUID } from 'node:crypto';
import type { Request } from 'express';

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
