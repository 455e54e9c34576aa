import { jest } from '@jest/globals';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import type { Request, Response } from 'express';
import request from 'supertest';
import type { ContractOperation, ContractService } from '../contract/contract.service.js';
import { bodyReaderServer } from '../../test/support/body-reader-server.js';
import { JsonBodyMiddleware } from './json-body.middleware.js';

// The body reader against a small contract of its own (beside json-body.middleware.spec.ts and
// json-body.limits.spec.ts): uploads and their declared media types, how a request says it has
// a body, and how a body sent where none is taken is drained. The limit is small, so that
// draining past it takes a few writes.
const LIMIT = 1024;
const DRAIN_LIMIT = LIMIT * 8;

type Operation = Pick<ContractOperation, 'takesBody' | 'jsonBody' | 'rawMediaTypes' | 'maxBodyBytes'>;
const operations: Record<string, Operation> = {
  'POST /json': { takesBody: true, jsonBody: true, rawMediaTypes: [], maxBodyBytes: undefined },
  'GET /json': { takesBody: false, jsonBody: false, rawMediaTypes: [], maxBodyBytes: undefined },
  'PUT /avatar': { takesBody: true, jsonBody: false, rawMediaTypes: ['image/png', 'image/jpeg'], maxBodyBytes: 4096 },
  'POST /card': { takesBody: true, jsonBody: true, rawMediaTypes: ['image/png'], maxBodyBytes: 4096 },
};
const contract = {
  requestLimits: { maxBodyBytes: LIMIT, maxJsonDepth: 4 },
  match: (method: string, path: string) => operations[`${method} ${path}`],
} as unknown as ContractService;

const server = bodyReaderServer(
  contract,
  [
    ['post', '/json', 200],
    ['get', '/json', 200],
    ['put', '/avatar', 200],
    ['post', '/card', 200],
  ],
  (error) => ({ code: error.code, detail: error.details.detail ?? null }),
);
// The same reader, called directly where a test drives the request stream itself.
const middleware = new JsonBodyMiddleware(contract);

// A PNG's signature: bytes that are not UTF-8, let alone JSON.
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff]);
const open = (method: 'post' | 'put', path: string) => request(server)[method](path);
const sendBytes = (method: 'post' | 'put', path: string, type: string, bytes: Buffer) =>
  open(method, path)
    .set('Content-Type', type)
    // As bytes (superagent would otherwise write a Buffer as JSON).
    .serialize((raw: string) => raw)
    .send(bytes as unknown as string);

describe(`${JsonBodyMiddleware.name} (uploads and media types)`, () => {
  it.each(['image/png', 'Image/PNG; name=avatar'])(
    'hands an upload sent as %p to the handler as its bytes',
    async (type) => {
      const response = await sendBytes('put', '/avatar', type, PNG).expect(200);
      expect(response.body).toEqual({ bytes: PNG.toString('hex') });
    },
  );

  it('reads JSON where an operation takes either JSON or an upload', async () => {
    const json = await request(server).post('/card').set('Content-Type', 'application/json').send('{"a":1}');
    expect(json.body).toEqual({ received: { a: 1 } });
    const png = await sendBytes('post', '/card', 'image/png', PNG).expect(200);
    expect(png.body).toEqual({ bytes: PNG.toString('hex') });
  });

  it.each([
    ['put', '/avatar', 'application/json', 'image/png, image/jpeg'],
    ['put', '/avatar', 'image/gif', 'image/png, image/jpeg'],
    ['post', '/json', 'text/plain', 'application/json'],
    ['post', '/json', 'image/png', 'application/json'],
    ['post', '/card', 'image/jpeg', 'application/json, image/png'],
  ])('answers %s %s sent as %p with 415, naming the declared types (%s)', async (method, path, type, accepted) => {
    const response = await open(method as 'post' | 'put', path)
      .set('Content-Type', type)
      .send('{}')
      .expect(415);
    expect(response.body).toEqual({
      code: 'unsupported_media_type',
      detail: `send the body as one of: ${accepted} (JSON in UTF-8)`,
    });
  });

  it('tells bytes that are not UTF-8 from text that is not JSON', async () => {
    const bytes = await sendBytes('post', '/json', 'application/json', PNG).expect(400);
    expect(bytes.body).toEqual({ code: 'malformed_json', detail: 'the body is not valid UTF-8' });
    const text = await request(server).post('/json').set('Content-Type', 'application/json').send('{"a":').expect(400);
    expect(text.body).toEqual({ code: 'malformed_json', detail: null });
  });

  it('checks nesting against the contract, numbers and booleans included', async () => {
    const fits = await request(server)
      .post('/json')
      .set('Content-Type', 'application/json')
      .send('{"a":{"b":{"c":[1,true,null,"x"]}}}')
      .expect(200);
    expect(fits.body).toEqual({ received: { a: { b: { c: [1, true, null, 'x'] } } } });
  });

  it('lets a body sent to a route the contract does not know fall through to its 404', async () => {
    await request(server).post('/nowhere').set('Content-Type', 'application/json').send('{}').expect(404);
  });
});

describe(`${JsonBodyMiddleware.name} (whether there is a body)`, () => {
  let base: string;
  let listening: ReturnType<typeof server.listen>;
  beforeAll(async () => {
    listening = server.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => listening.once('listening', () => resolve()));
    base = `http://127.0.0.1:${(listening.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => listening.close(() => resolve())));

  it('reads a chunked body (Transfer-Encoding, no Content-Length)', async () => {
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const outgoing = httpRequest(`${base}/json`, { method: 'POST', headers: { 'Content-Type': 'application/json' } });
      outgoing.on('response', (incoming) => {
        let body = '';
        incoming.setEncoding('utf8');
        incoming.on('data', (chunk: string) => (body += chunk));
        incoming.on('end', () => resolve({ status: incoming.statusCode!, body }));
      });
      outgoing.on('error', reject);
      outgoing.write('{"a":');
      outgoing.end('"b"}');
    });
    expect(answer).toEqual({ status: 200, body: JSON.stringify({ received: { a: 'b' } }) });
  });

  it('goes on without reading when neither Content-Length nor Transfer-Encoding says there is a body', async () => {
    const incoming = Object.assign(new PassThrough(), { method: 'POST', originalUrl: '/json', headers: {} });
    const next = jest.fn();
    await middleware.use(incoming as unknown as Request, {} as Response, next);
    expect(next).toHaveBeenCalledWith();
    expect((incoming as unknown as Request).body).toBeUndefined();
  });
});

describe(`${JsonBodyMiddleware.name} (a body sent where none is taken)`, () => {
  const EVENTS = ['data', 'end', 'error', 'close'] as const;
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  // A request to an operation that takes no body, whose bytes the test writes as the client would.
  function stray() {
    const incoming = Object.assign(new PassThrough(), {
      method: 'GET',
      originalUrl: '/json',
      headers: { 'content-length': String(DRAIN_LIMIT * 2) },
    });
    const listeners = EVENTS.map((event) => incoming.listenerCount(event));
    const next = jest.fn();
    const used = middleware.use(incoming as unknown as Request, {} as Response, next);
    const leftListeners = () => EVENTS.map((event) => incoming.listenerCount(event));
    return { incoming, next, used, listeners, leftListeners };
  }

  it('reads it to its end before going on, and leaves no listener behind', async () => {
    const { incoming, next, used, listeners, leftListeners } = stray();
    incoming.write(Buffer.alloc(LIMIT));
    await settle();
    expect(next).not.toHaveBeenCalled();
    incoming.end(Buffer.alloc(LIMIT));
    await settle();
    expect(next).toHaveBeenCalledWith();
    await used;
    expect(leftListeners()).toEqual(listeners);
  });

  it('reads up to 8 body limits and stops waiting one byte past that', async () => {
    const { incoming, next, used, listeners, leftListeners } = stray();
    for (let i = 0; i < 8; i++) incoming.write(Buffer.alloc(LIMIT));
    await settle();
    expect(next).not.toHaveBeenCalled();
    incoming.write(Buffer.alloc(1));
    await settle();
    expect(next).toHaveBeenCalledWith();
    await used;
    expect(incoming.readableEnded).toBe(false);
    expect(leftListeners()).toEqual(listeners);
  });

  it('stops waiting when the client goes away or the stream fails', async () => {
    const closed = stray();
    closed.incoming.write(Buffer.alloc(10));
    await settle();
    closed.incoming.destroy();
    await settle();
    expect(closed.next).toHaveBeenCalledWith();

    const failed = stray();
    failed.incoming.emit('error', new Error('aborted'));
    await settle();
    expect(failed.next).toHaveBeenCalledWith();
    expect(failed.leftListeners()).toEqual(failed.listeners);
  });

  it('goes straight on when the body is already gone', async () => {
    const incoming = Object.assign(new PassThrough(), {
      method: 'GET',
      originalUrl: '/json',
      headers: { 'content-length': '10' },
    });
    incoming.destroy();
    await settle();
    const next = jest.fn();
    void middleware.use(incoming as unknown as Request, {} as Response, next);
    await settle();
    expect(next).toHaveBeenCalledWith();
  });
});
