import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { ServerConfig } from '../config/app-config.js';

type Limits = Pick<
  ServerConfig,
  'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs' | 'timeoutCheckIntervalMs'
>;

/**
 * Node's HTTP server limits, set deliberately rather than left at their defaults (headers 60 s,
 * the whole request 300 s, checked every 30 s): a client trickling its headers or its body is
 * cut off after HTTP_HEADERS_TIMEOUT_MS / HTTP_REQUEST_TIMEOUT_MS (checked every
 * HTTP_TIMEOUT_CHECK_INTERVAL_MS), with a `408` problem+json when nothing was answered yet.
 * Idle keep-alive connections close after HTTP_KEEP_ALIVE_TIMEOUT_MS, which must outlast a
 * load balancer's idle timeout (or it would reuse a connection the app is closing).
 *
 * Streams are unaffected: the request limit covers receiving the request, not the response.
 */
export function applyServerTimeouts(server: Server, limits: Limits): void {
  server.headersTimeout = limits.headersTimeoutMs;
  // Node requires the request limit to be at least the headers limit.
  server.requestTimeout = Math.max(limits.requestTimeoutMs, limits.headersTimeoutMs);
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  // A constructor option in Node's types, but read when the server starts listening (Node sets
  // its checking timer up then), so it can still be set here, before listen().
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval =
    limits.timeoutCheckIntervalMs;
  // With a listener here Node writes nothing itself: every client error is answered here.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    if (error.code === 'ECONNRESET' || !socket.writable || socket.bytesWritten > 0) {
      socket.destroy();
      return;
    }
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      const body = JSON.stringify({
        type: 'urn:parley:problem:request_timeout',
        title: 'request_timeout',
        status: 408,
        code: 'request_timeout',
        messageKey: 'errors.request_timeout',
        // English: the request's Accept-Language may be among what never arrived.
        message: 'The request did not arrive in time and the connection was closed. Try again.',
        retryable: true,
        retryAfterSeconds: null,
        breakerState: null,
        requestId: randomUUID(),
      });
      socket.end(
        'HTTP/1.1 408 Request Timeout\r\n' +
          'Content-Type: application/problem+json; charset=utf-8\r\n' +
          `Content-Length: ${Buffer.byteLength(body)}\r\n` +
          'Connection: close\r\n\r\n' +
          body,
      );
    } else {
      // What Node answers by itself: 431 for headers too large, 400 for anything unparsable.
      socket.end(
        error.code === 'HPE_HEADER_OVERFLOW'
          ? 'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n'
          : 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n',
      );
    }
    socket.destroySoon();
  });
}
