import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { repoPaths } from '../config/repo-paths.js';

export interface Standby {
  /** Why the application is not serving yet (shown by /health/ready). */
  setReason(reason: string): void;
  close(): Promise<void>;
}

const RETRY_AFTER_SECONDS = 5;
const REQUEST_ID = /^[\x21-\x7e]{1,200}$/;

/**
 * What answers on the application's port while its database cannot be reached at start: the
 * process stays up (an orchestrator restart-loops a process that exits), `/health/live` says it
 * is alive, `/health/ready` says why it is not ready, and every other request gets the same
 * 503 `database_unavailable` problem (with `Retry-After`) the application gives during an
 * outage. The application replaces it on the same port once the database answers.
 */
export async function startStandby(host: string, port: number, reason: string): Promise<Standby> {
  let current = reason;
  const messages = {
    en: message('en'),
    zh: message('zh'),
  };
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const header = request.headers['x-request-id'];
    const requestId = typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
    response.setHeader('X-Request-Id', requestId);
    response.setHeader('Cache-Control', 'no-store');
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/health/live')
      return json(response, 200, 'application/json', { status: 'ok', info: {}, details: {} });
    if (path === '/health/ready' || path === '/health') {
      const database = { status: 'down', reason: current };
      return json(response, 503, 'application/json', {
        status: 'error',
        error: { database },
        details: { database },
      });
    }
    const zh = /^\s*zh\b/i.test(String(request.headers['accept-language'] ?? ''));
    response.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
    return json(response, 503, 'application/problem+json', {
      type: 'urn:parley:problem:database_unavailable',
      title: 'database_unavailable',
      status: 503,
      code: 'database_unavailable',
      messageKey: 'errors.database_unavailable',
      message: zh ? messages.zh : messages.en,
      retryable: true,
      retryAfterSeconds: RETRY_AFTER_SECONDS,
      breakerState: null,
      requestId,
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    setReason: (next) => (current = next),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function json(response: ServerResponse, status: number, type: string, body: unknown): void {
  response.writeHead(status, { 'Content-Type': `${type}; charset=utf-8`, Connection: 'close' });
  response.end(JSON.stringify(body));
}

function message(locale: 'en' | 'zh'): string {
  const messages = JSON.parse(readFileSync(join(repoPaths.i18n, locale, 'errors.json'), 'utf8')) as Record<
    string,
    string
  >;
  return messages.database_unavailable ?? 'Storage is unavailable right now.';
}
