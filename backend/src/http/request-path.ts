import type { Request } from 'express';

/**
 * The request's full path, without the query. Nest mounts middleware on a path pattern, so
 * inside middleware `request.path` is relative to it; the original URL is not.
 */
export function requestPath(request: Request): string {
  const url = request.originalUrl;
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}
