import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import express, { type NextFunction, type Request, type Response } from 'express';
import { PinoLogger } from 'nestjs-pino';
import request from 'supertest';
import { processLogs } from './log-destination.js';
import { loggerOptions } from './log-options.js';
import { RequestLogMiddleware } from './request-log.middleware.js';

// Keeps the JSON lines the logger writes, to be read back.
class LogCapture extends Writable {
  readonly entries: Array<Record<string, unknown>> = [];

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line !== '') this.entries.push(JSON.parse(line) as Record<string, unknown>);
    }
    done();
  }
}

const capture = new LogCapture();
processLogs.direct(capture, 'debug');
const pino = new PinoLogger({ pinoHttp: [loggerOptions('debug'), processLogs] });
const middleware = new RequestLogMiddleware(pino);

// The middleware in front of a few routes; one logs while it handles the request, one never answers.
const server = express();
server.use((req: Request, res: Response, next: NextFunction) => middleware.use(req, res, next));
server.get('/health/live', (_req, res) => void res.json({ status: 'ok' }));
server.get('/api/v1/things/:id', (_req, res) => {
  pino.info({ event: 'thing_looked_up' });
  res.status(404).json({});
});
server.get('/api/v1/broken', (_req, res) => void res.status(503).end());
server.get('/api/v1/slow', () => undefined);

// A request's line is written when its response closes, which may be just after the client has it.
async function lineOf(id: string): Promise<Record<string, unknown> | undefined> {
  const deadline = Date.now() + 2000;
  for (;;) {
    const line = capture.entries.find((entry) => entry.request_id === id && String(entry.msg).startsWith('request '));
    if (line || Date.now() > deadline) return line;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe(RequestLogMiddleware.name, () => {
  it('writes one line per request: id, method, route template, status, duration, at the level its outcome sets', async () => {
    await request(server).get('/health/live').set('X-Request-Id', 'probe-1').expect(200);
    await request(server).get('/api/v1/things/42?q=secret').set('X-Request-Id', 'thing-1').expect(404);
    await request(server).get('/api/v1/broken').set('X-Request-Id', 'broken-1').expect(503);

    const line = (level: string, route: string, status: number) => ({
      level,
      time: expect.any(String),
      pid: expect.any(Number),
      hostname: expect.any(String),
      request_id: expect.any(String),
      method: 'GET',
      route,
      status_code: status,
      duration_ms: expect.any(Number),
      msg: 'request completed',
    });
    expect(await lineOf('probe-1')).toEqual(line('debug', '/health/live', 200));
    expect(await lineOf('thing-1')).toEqual(line('warn', '/api/v1/things/:id', 404));
    expect(await lineOf('broken-1')).toEqual(line('error', '/api/v1/broken', 503));
  });

  it("gives what is logged while the request is handled the request's id", async () => {
    await request(server).get('/api/v1/things/7').set('X-Request-Id', 'thing-2').expect(404);
    await lineOf('thing-2');
    expect(capture.entries.filter((entry) => entry.event === 'thing_looked_up').at(-1)).toMatchObject({
      request_id: 'thing-2',
      level: 'info',
    });
  });

  it('logs a request the client gave up on as aborted', async () => {
    const listening = server.listen(0, '127.0.0.1');
    await new Promise((resolve) => listening.once('listening', resolve));
    try {
      const { port } = listening.address() as AddressInfo;
      const sent = httpRequest({
        port,
        host: '127.0.0.1',
        path: '/api/v1/slow',
        headers: { 'X-Request-Id': 'gone-1' },
      });
      sent.on('error', () => undefined);
      sent.end();
      await new Promise((resolve) => setTimeout(resolve, 100));
      sent.destroy();
      expect(await lineOf('gone-1')).toMatchObject({ route: '/api/v1/slow', msg: 'request aborted' });
    } finally {
      listening.closeAllConnections();
      await new Promise((resolve) => listening.close(resolve));
    }
  });

  it('writes no line below the logger’s level', async () => {
    processLogs.direct(capture, 'error');
    try {
      await request(server).get('/api/v1/things/8').set('X-Request-Id', 'quiet-1').expect(404);
      await request(server).get('/api/v1/broken').set('X-Request-Id', 'loud-1').expect(503);
      expect(await lineOf('loud-1')).toMatchObject({ level: 'error' });
      expect(capture.entries.filter((entry) => entry.request_id === 'quiet-1')).toEqual([]);
    } finally {
      processLogs.direct(capture, 'debug');
    }
  });
});
