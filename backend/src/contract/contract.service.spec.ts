import type { ErrorObject } from 'ajv/dist/2020.js';
import { ContractService, toIssues } from './contract.service.js';
import type { OpenApiDocument } from './contract-document.js';

// A small contract of our own shape (the real one takes seconds to compile, and its routes change):
// how the service turns paths, parameters, bodies and responses into matchers and validators.
const document = (extra: Partial<OpenApiDocument> = {}): OpenApiDocument => ({
  openapi: '3.1.0',
  'x-request-limits': { maxBodyBytes: 1024, maxJsonDepth: 8 },
  components: {
    schemas: {
      // `x-note`: an extension keyword that is not JSON Schema; the validators ignore it.
      Title: { type: 'string', maxLength: 5, example: 'hello', 'x-note': 'shown to integrators' },
      Chat: {
        type: 'object',
        properties: { title: { $ref: '#/components/schemas/Title' }, count: { type: 'integer' } },
        required: ['title'],
        additionalProperties: false,
      },
    },
    parameters: {
      ChatId: { name: 'chatId', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } },
    },
    requestBodies: {
      Avatar: { content: { 'image/png': {}, 'image/webp': {} } },
    },
  },
  paths: {
    '/api/v1/chats': {
      get: {
        operationId: 'listChats',
        parameters: [
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, default: 20 } },
          { name: 'cursor', in: 'query', schema: { type: 'string' } },
          { name: 'Idempotency-Key', in: 'header', required: true, schema: { type: 'string', minLength: 2 } },
        ],
        responses: {
          '200': {
            content: {
              'application/json': { schema: { type: 'array', items: { $ref: '#/components/schemas/Chat' } } },
            },
          },
          '204': {},
        },
      },
      post: {
        operationId: 'createChat',
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Chat' } } },
        },
        responses: {
          default: { content: { 'application/problem+json': { schema: { type: 'object' } }, 'text/plain': {} } },
        },
      },
    },
    '/api/v1/chats/{chatId}': {
      parameters: [{ $ref: '#/components/parameters/ChatId' }],
      get: { operationId: 'getChat', responses: { '200': {} } },
      delete: { operationId: 'deleteChat', security: [{ bearer: [] }], responses: { '204': {} } },
    },
    '/api/v1/chats/{chatId}/avatar.png': {
      put: {
        operationId: 'putAvatar',
        'x-max-body-bytes': 4096,
        parameters: [{ $ref: '#/components/parameters/ChatId' }],
        requestBody: { $ref: '#/components/requestBodies/Avatar' },
        responses: { '204': {} },
      },
    },
    '/api/v1/health': {
      get: { operationId: 'health', security: [], responses: { '200': {} } },
    },
  },
  ...extra,
});

// Built in each test, not once for the file: what the constructor derives is then code the test
// runs (a mutation run counts only that as covered by it).
let service: ContractService;
beforeEach(() => {
  service = new ContractService(document());
});
const chatId = '0b7f9b4e-1c1d-4c39-9d3a-2f7e4a1b5c6d';

describe(ContractService.name, () => {
  describe('match', () => {
    it('finds the operation of a concrete path, by method in any case', () => {
      expect(service.match('GET', '/api/v1/chats')?.operationId).toBe('listChats');
      expect(service.match('post', '/api/v1/chats')?.operationId).toBe('createChat');
      expect(service.match('get', `/api/v1/chats/${chatId}`)?.operationId).toBe('getChat');
      expect(service.match('DELETE', '/api/v1/chats/anything-here')?.operationId).toBe('deleteChat');
      expect(service.match('PUT', '/api/v1/chats/x/avatar.png')?.operationId).toBe('putAvatar');
    });

    it('matches whole paths only: no prefix, no suffix, no empty or multi-segment parameter, the dot literal', () => {
      expect(service.match('GET', '/api/v1/chats/')).toBeUndefined();
      expect(service.match('GET', '/api/v1/chats/a/b')).toBeUndefined();
      expect(service.match('GET', '/x/api/v1/chats')).toBeUndefined();
      expect(service.match('GET', '/api/v1/chatsx')).toBeUndefined();
      expect(service.match('PUT', '/api/v1/chats//avatar.png')).toBeUndefined();
      expect(service.match('PUT', '/api/v1/chats/x/avatarXpng')).toBeUndefined();
      expect(service.match('PATCH', '/api/v1/chats')).toBeUndefined();
    });

    it('keeps the template and the method in upper case', () => {
      const op = service.operation('getChat');
      expect(op).toMatchObject({ method: 'GET', path: '/api/v1/chats/{chatId}' });
    });
  });

  it('lists every operation and refuses an unknown id', () => {
    expect(
      service
        .all()
        .map((op) => op.operationId)
        .sort(),
    ).toEqual(['createChat', 'deleteChat', 'getChat', 'health', 'listChats', 'putAvatar'].sort());
    expect(() => service.operation('nope')).toThrow('operation nope is not in the contract');
  });

  it('is public only where the operation declares an empty security list', () => {
    expect(service.operation('health').isPublic).toBe(true);
    expect(service.operation('deleteChat').isPublic).toBe(false);
    expect(service.operation('getChat').isPublic).toBe(false);
  });

  it('reads the request limits, and refuses a contract without them', () => {
    expect(service.requestLimits).toEqual({ maxBodyBytes: 1024, maxJsonDepth: 8 });
    const message = 'the contract must declare x-request-limits.maxBodyBytes and maxJsonDepth';
    expect(() => new ContractService(document({ 'x-request-limits': undefined }))).toThrow(message);
    expect(() => new ContractService(document({ 'x-request-limits': { maxBodyBytes: 10 } }))).toThrow(message);
    expect(() => new ContractService(document({ 'x-request-limits': { maxJsonDepth: 10 } }))).toThrow(message);
    expect(() => new ContractService(document({ 'x-request-limits': { maxBodyBytes: 1.5, maxJsonDepth: 2 } }))).toThrow(
      message,
    );
  });

  describe('request validators', () => {
    it('coerces query strings to their declared type and fills in defaults', () => {
      const { validateQuery } = service.operation('listChats');
      const query: Record<string, unknown> = { limit: '5' };
      expect(validateQuery(query)).toBe(true);
      expect(query.limit).toBe(5);
      const empty: Record<string, unknown> = {};
      expect(validateQuery(empty)).toBe(true);
      expect(empty).toEqual({ limit: 20 });
      expect(validateQuery({ limit: '0' })).toBe(false);
      expect(validateQuery({ limit: 'many' })).toBe(false);
      // Optional and without a default: may be left out, is checked when sent.
      expect(validateQuery({ cursor: 'abc' })).toBe(true);
      expect(validateQuery({ cursor: ['a', 'b'] })).toBe(false);
    });

    it('checks path parameters, including those declared on the path item', () => {
      const { validatePath } = service.operation('getChat');
      expect(validatePath({ chatId })).toBe(true);
      expect(validatePath({ chatId: 'not-a-uuid' })).toBe(false);
      expect(validatePath({})).toBe(false);
    });

    it('checks headers by their lower-case name, and remembers the name the contract spells', () => {
      const { validateHeaders, headerNames } = service.operation('listChats');
      expect(headerNames).toEqual(new Map([['idempotency-key', 'Idempotency-Key']]));
      expect(validateHeaders({ 'idempotency-key': 'ab' })).toBe(true);
      expect(validateHeaders({ 'idempotency-key': 'a' })).toBe(false);
      expect(validateHeaders({ 'Idempotency-Key': 'ab' })).toBe(false);
    });

    it('checks a body as sent: no coercion, no defaults, references into the components resolved', () => {
      const op = service.operation('createChat');
      expect(op).toMatchObject({ takesBody: true, bodyRequired: true, jsonBody: true, rawMediaTypes: [] });
      const validate = op.validateBody!;
      expect(validate({ title: 'hi', count: 2 })).toBe(true);
      expect(validate({ title: 'hi', count: '2' })).toBe(false);
      expect(validate({ title: 'too long' })).toBe(false);
      expect(validate({ title: 5 })).toBe(false);
      const body: Record<string, unknown> = { title: 'hi' };
      expect(validate(body)).toBe(true);
      expect(body).toEqual({ title: 'hi' });
    });

    it('reports every problem with a body, not only the first', () => {
      const validate = service.operation('createChat').validateBody!;
      expect(validate({ title: 7, extra: true })).toBe(false);
      expect(validate.errors?.map((error) => error.keyword).sort()).toEqual(['additionalProperties', 'type']);
    });

    it('describes an upload: its media types read as bytes, its own limit, no JSON body', () => {
      expect(service.operation('putAvatar')).toMatchObject({
        takesBody: true,
        bodyRequired: false,
        jsonBody: false,
        rawMediaTypes: ['image/png', 'image/webp'],
        maxBodyBytes: 4096,
        validateBody: undefined,
      });
      expect(service.operation('getChat')).toMatchObject({
        takesBody: false,
        bodyRequired: false,
        jsonBody: false,
        rawMediaTypes: [],
        maxBodyBytes: undefined,
      });
    });
  });

  it('compiles each response by status and media type, a schemaless one as free-form', () => {
    const { responses } = service.operation('listChats');
    expect([...responses.keys()]).toEqual(['200', '204']);
    expect(responses.get('204')).toEqual(new Map());
    const validate = responses.get('200')!.get('application/json')!;
    expect(validate([{ title: 'a' }])).toBe(true);
    expect(validate([{ title: 'a', extra: 1 }])).toBe(false);
    const fallback = service.operation('createChat').responses.get('default')!;
    expect([...fallback.keys()]).toEqual(['application/problem+json', 'text/plain']);
    expect(fallback.get('text/plain')).toBeUndefined();
    expect(fallback.get('application/problem+json')!({})).toBe(true);
  });

  it('says why a response is invalid, and clears it when the next one is valid', () => {
    const validate = new ContractService(document())
      .operation('listChats')
      .responses.get('200')!
      .get('application/json')!;
    expect(validate([{ title: 7 }])).toBe(false);
    expect(validate.errors).toEqual([expect.objectContaining({ instancePath: '/0/title', keyword: 'type' })]);
    expect(validate([{ title: 'a' }])).toBe(true);
    expect(validate.errors).toBeNull();
  });

  it('compiles a response schema when it is first used, not at start', () => {
    const missing = { content: { 'application/json': { schema: { $ref: '#/components/schemas/Missing' } } } };
    const broken = document({
      paths: { '/api/v1/health': { get: { operationId: 'health', security: [], responses: { '200': missing } } } },
    });
    const validate = new ContractService(broken).operation('health').responses.get('200')!.get('application/json')!;
    expect(() => validate({})).toThrow(/Missing/);
  });
});

describe(toIssues.name, () => {
  const error = (overrides: Partial<ErrorObject>): ErrorObject =>
    ({
      keyword: 'type',
      instancePath: '/a',
      schemaPath: '#',
      params: {},
      message: 'must be string',
      ...overrides,
    }) as ErrorObject;

  it('points at the value, at a missing member, and at an extra member', () => {
    expect(
      toIssues('body', [
        error({}),
        error({
          keyword: 'required',
          instancePath: '/x',
          params: { missingProperty: 'title' },
          message: 'is required',
        }),
        error({
          keyword: 'additionalProperties',
          instancePath: '',
          params: { additionalProperty: 'extra' },
          message: 'no',
        }),
        error({ message: undefined }),
      ]),
    ).toEqual([
      { location: 'body', pointer: '/a', message: 'must be string', keyword: 'type' },
      { location: 'body', pointer: '/x/title', message: 'is required', keyword: 'required' },
      { location: 'body', pointer: '/extra', message: 'no', keyword: 'additionalProperties' },
      { location: 'body', pointer: '/a', message: 'is not valid', keyword: 'type' },
    ]);
  });

  it('is empty without errors', () => {
    expect(toIssues('query', null)).toEqual([]);
    expect(toIssues('query', undefined)).toEqual([]);
  });
});
