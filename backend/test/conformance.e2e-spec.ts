import { MetadataScanner, ModulesContainer, Reflector } from '@nestjs/core';
import { PATH_METADATA, METHOD_METADATA } from '@nestjs/common/constants.js';
import { RequestMethod } from '@nestjs/common';
import { ContractService } from '../src/contract/contract.service.js';
import { OPERATION_METADATA } from '../src/contract/contract-operation.decorator.js';
import { loadContractDocument } from '../src/contract/contract-document.js';
import { useTestApp } from './support/test-app.js';
import { NOT_YET_SERVED } from './support/not-yet-served.js';
import { streamViolations } from './support/contract-recorder.js';
import { createChat, registerUser } from './support/factories.js';

interface ServedRoute {
  method: string;
  path: string;
  operationId: string | undefined;
}

function joinPath(...parts: string[]): string {
  const joined = `/${parts
    .map((p) => p.replace(/^\/+|\/+$/g, ''))
    .filter(Boolean)
    .join('/')}`;
  return joined.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

describe('Contract conformance', () => {
  const t = useTestApp();

  function servedRoutes(): ServedRoute[] {
    const modules = t().app.get(ModulesContainer);
    const scanner = new MetadataScanner();
    const reflector = new Reflector();
    const routes: ServedRoute[] = [];
    for (const wrapper of [...modules.values()].flatMap((m) => [...m.controllers.values()])) {
      const instance = wrapper.instance as object | undefined;
      if (!instance || !wrapper.metatype) continue;
      const prefix = (Reflect.getMetadata(PATH_METADATA, wrapper.metatype) as string | undefined) ?? '';
      for (const name of scanner.getAllMethodNames(Object.getPrototypeOf(instance))) {
        const handler = (instance as Record<string, unknown>)[name] as object;
        const path = Reflect.getMetadata(PATH_METADATA, handler) as string | undefined;
        const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
        if (path === undefined || method === undefined) continue;
        routes.push({
          method: RequestMethod[method],
          path: joinPath(prefix, path),
          operationId: reflector.get<string | undefined>(OPERATION_METADATA, handler as () => void),
        });
      }
    }
    return routes;
  }

  it('serves every route it declares under exactly the contract operation for that method and path', () => {
    const contract = t().app.get(ContractService);
    const routes = servedRoutes();
    expect(routes.length).toBeGreaterThan(10);
    for (const route of routes) {
      const operation = contract.all().find((op) => op.method === route.method && op.path === route.path);
      expect({ route, operationId: operation?.operationId }).toEqual({ route, operationId: route.operationId });
    }
  });

  it('serves every operation in the contract, except those listed for later work', () => {
    const contract = t().app.get(ContractService);
    const served = new Set(servedRoutes().map((r) => r.operationId));
    const missing = contract
      .all()
      .map((op) => op.operationId)
      .filter((id) => !served.has(id) && !NOT_YET_SERVED.has(id));
    expect(missing).toEqual([]);
    const stale = [...NOT_YET_SERVED].filter(
      (id) => served.has(id) || !contract.all().some((op) => op.operationId === id),
    );
    expect(stale).toEqual([]);
  });

  it('publishes the contract as JSON and YAML and serves Swagger UI at /docs', async () => {
    const json = await t().http.get('/openapi.json').expect(200);
    expect(json.body).toEqual(loadContractDocument());
    const yaml = await t().http.get('/openapi.yaml').expect(200);
    expect(yaml.headers['content-type']).toMatch(/^application\/yaml/);
    expect(yaml.text).toContain('openapi: 3.1');
    const docs = await t().http.get('/docs').redirects(1).expect(200);
    expect(docs.text).toContain('swagger-ui');
  });

  it('rejects a request before the handler when it breaks the contract', async () => {
    const response = await t().http.post('/api/v1/auth/login').send({ email: 'x@example.com' }).expect(400);
    expect(response.body.errors).toEqual([
      expect.objectContaining({ location: 'body', pointer: '/password', keyword: 'required' }),
    ]);
  });

  describe('stream checks', () => {
    // The recorder validates every event of every stream a test receives; these prove it can fail.
    const streamSchema = () => {
      const validate = t()
        .app.get(ContractService)
        .operation('sendMessageStream')
        .responses.get('200')
        ?.get('text/event-stream');
      if (!validate) throw new Error('sendMessageStream declares no event-stream schema');
      return validate;
    };
    let genuine: string;

    beforeAll(async () => {
      const { accessToken } = await registerUser(t());
      const chat = await createChat(t(), accessToken);
      genuine = (
        await t()
          .http.post(`/api/v1/chats/${chat.id}/messages/stream`)
          .set('Authorization', `Bearer ${accessToken}`)
          .set('Idempotency-Key', crypto.randomUUID())
          .send({ content: 'Check me' })
          .expect(200)
      ).text;
    });

    it('finds nothing wrong with a stream the server wrote', () => {
      expect(streamViolations(streamSchema(), genuine)).toEqual([]);
    });

    it.each([
      ['garbage', () => 'this is not an event stream at all'],
      ['an event whose data is not JSON', () => 'id: 1\nevent: delta\ndata: {nope\n\n'],
      [
        'an unknown event type',
        (s: string) => s.replace(/"type":"delta"/, '"type":"telepathy"').replace(/event: delta/, 'event: telepathy'),
      ],
      ['an event named unlike its type', (s: string) => s.replace(/event: provider/, 'event: delta')],
      ['a delta without text', (s: string) => s.replace(/,"text":"[^"]*"/, '')],
      ['a done event without its result', (s: string) => s.replace(/"result":\{.*\}\}\n/, '"oops":1}\n')],
      ['a stream cut before its terminal event', (s: string) => s.slice(0, s.lastIndexOf('id: '))],
      ['two terminal events', (s: string) => s + s.slice(s.lastIndexOf('id: '))],
      ['an event without an id', (s: string) => s.replace(/^id: [^\n]*\n/m, '')],
    ])('reports %s', (_name, corrupt) => {
      const corrupted = corrupt(genuine);
      expect(corrupted).not.toBe(genuine);
      expect(streamViolations(streamSchema(), corrupted)).not.toEqual([]);
    });
  });
});
