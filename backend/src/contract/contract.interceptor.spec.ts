import {
  Body,
  Catch,
  Controller,
  Delete,
  Get,
  Param,
  Patch,
  Post,
  type ArgumentsHost,
  type ExceptionFilter,
  type INestApplication,
} from '@nestjs/common';
import { APP_FILTER, APP_INTERCEPTOR } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import express, { type Response } from 'express';
import request from 'supertest';
import { AppError } from '../errors/app-error.js';
import type { OpenApiDocument } from './contract-document.js';
import { ContractOperation, ValidQuery } from './contract-operation.decorator.js';
import { ContractInterceptor } from './contract.interceptor.js';
import { ContractService } from './contract.service.js';

// A small contract under real operation ids (the real one takes seconds to compile): what the
// interceptor lets through to a handler, and how it answers a request that breaks the contract.
const document: OpenApiDocument = {
  openapi: '3.1.0',
  'x-request-limits': { maxBodyBytes: 1024, maxJsonDepth: 8 },
  components: {
    schemas: {
      NewChat: {
        type: 'object',
        properties: { title: { type: 'string', maxLength: 5 } },
        required: ['title'],
        additionalProperties: false,
      },
    },
    parameters: {
      ChatId: { name: 'chatId', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } },
    },
  },
  paths: {
    '/api/v1/chats': {
      get: {
        operationId: 'listChats',
        parameters: [
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, default: 20 } },
          { name: 'cursor', in: 'query', schema: { type: 'string' } },
        ],
        responses: { '200': {} },
      },
      post: {
        operationId: 'createChat',
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/NewChat' } } },
        },
        responses: { '201': {} },
      },
    },
    '/api/v1/chats/import': {
      post: {
        operationId: 'importChat',
        requestBody: {
          required: true,
          content: {
            'application/json': { schema: { $ref: '#/components/schemas/NewChat' } },
            'application/octet-stream': {},
          },
        },
        responses: { '201': {} },
      },
    },
    '/api/v1/chats/{chatId}': {
      parameters: [{ $ref: '#/components/parameters/ChatId' }],
      patch: {
        operationId: 'updateChat',
        requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/NewChat' } } } },
        responses: { '200': {} },
      },
      delete: { operationId: 'deleteChat', responses: { '204': {} } },
    },
    '/api/v1/chats/{chatId}/messages': {
      parameters: [{ $ref: '#/components/parameters/ChatId' }],
      post: {
        operationId: 'sendMessage',
        parameters: [
          { name: 'Idempotency-Key', in: 'header', required: true, schema: { type: 'string', minLength: 8 } },
        ],
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { type: 'object', properties: { content: { type: 'string' } } } } },
        },
        responses: { '201': {} },
      },
    },
  },
};

// Handlers that echo what reached them.
@Controller('api/v1')
class EchoController {
  @Get('chats')
  @ContractOperation('listChats')
  list(@ValidQuery() query: Record<string, unknown>): unknown {
    return { query };
  }

  @Post('chats')
  @ContractOperation('createChat')
  create(@Body() body: unknown): unknown {
    return { body };
  }

  @Post('chats/import')
  @ContractOperation('importChat')
  import(@Body() body: unknown): unknown {
    return { bytes: Buffer.isBuffer(body) ? body.toString('utf8') : null };
  }

  @Patch('chats/:chatId')
  @ContractOperation('updateChat')
  update(@Param('chatId') chatId: string, @Body() body: unknown): unknown {
    return { chatId, body: body ?? null };
  }

  @Delete('chats/:chatId')
  @ContractOperation('deleteChat')
  remove(@Param('chatId') chatId: string): unknown {
    return { deleted: chatId };
  }

  @Post('chats/:chatId/messages')
  @ContractOperation('sendMessage')
  send(@Body() body: unknown): unknown {
    return { body };
  }

  // Not bound to an operation: nothing is checked, and there is no validated query.
  @Get('unbound')
  unbound(@ValidQuery() query: Record<string, unknown>): unknown {
    return { query };
  }
}

// The wire shape of an AppError, as the problem filter gives it, reduced to what is asserted here.
@Catch(AppError)
class CodeFilter implements ExceptionFilter {
  catch(error: AppError, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    response.status(error.status).json({ code: error.code, errors: error.details.errors ?? [] });
  }
}

const chatId = '0b7f9b4e-1c1d-4c39-9d3a-2f7e4a1b5c6d';

describe(ContractInterceptor.name, () => {
  let app: INestApplication;
  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      controllers: [EchoController],
      providers: [
        { provide: ContractService, useValue: new ContractService(document) },
        { provide: APP_INTERCEPTOR, useClass: ContractInterceptor },
        { provide: APP_FILTER, useClass: CodeFilter },
      ],
    }).compile();
    app = moduleRef.createNestApplication();
    app.use(express.raw({ type: 'application/octet-stream' }));
    await app.init();
  });
  afterAll(() => app.close());

  const http = () => request(app.getHttpServer());
  const refused = (location: string, pointer: string, keyword: string) => ({
    code: 'validation_failed',
    errors: [{ location, pointer, keyword, message: expect.any(String) }],
  });

  describe('on a request that keeps the contract', () => {
    it('hands the handler the query coerced to its declared types, with defaults filled in', async () => {
      expect((await http().get('/api/v1/chats?limit=5&cursor=abc').expect(200)).body).toEqual({
        query: { limit: 5, cursor: 'abc' },
      });
      expect((await http().get('/api/v1/chats').expect(200)).body).toEqual({ query: { limit: 20 } });
    });

    it('lets a valid path, header and body through', async () => {
      const response = await http()
        .post(`/api/v1/chats/${chatId}/messages`)
        .set('Idempotency-Key', 'key-12345')
        .send({ content: 'hi' })
        .expect(201);
      expect(response.body).toEqual({ body: { content: 'hi' } });
      await http().post('/api/v1/chats').send({ title: 'hello' }).expect(201);
    });

    it('lets an optional body be left out', async () => {
      const response = await http().patch(`/api/v1/chats/${chatId}`).expect(200);
      expect(response.body).toEqual({ chatId, body: null });
    });

    it('ignores a body sent to an operation that takes none', async () => {
      const response = await http().delete(`/api/v1/chats/${chatId}`).send({ title: 'far too long' }).expect(200);
      expect(response.body).toEqual({ deleted: chatId });
    });

    it('leaves an upload as bytes to its handler, unchecked by the JSON schema', async () => {
      const response = await http()
        .post('/api/v1/chats/import')
        .set('Content-Type', 'application/octet-stream')
        .send(Buffer.from('not json at all'))
        .expect(201);
      expect(response.body).toEqual({ bytes: 'not json at all' });
      // The same operation's JSON body is checked.
      const json = await http().post('/api/v1/chats/import').send({ title: 'far too long' }).expect(400);
      expect(json.body).toEqual(refused('body', '/title', 'maxLength'));
    });

    it('checks nothing on a handler bound to no operation', async () => {
      expect((await http().get('/api/v1/unbound?limit=none').expect(200)).body).toEqual({ query: {} });
    });
  });

  describe('on a request that breaks the contract', () => {
    it('answers 400 validation_failed pointing at a path parameter', async () => {
      const response = await http().patch('/api/v1/chats/not-a-uuid').send({ title: 'ok' }).expect(400);
      expect(response.body).toEqual(refused('path', '/chatId', 'format'));
    });

    it('answers 400 validation_failed pointing at a query parameter', async () => {
      expect((await http().get('/api/v1/chats?limit=0').expect(400)).body).toEqual(
        refused('query', '/limit', 'minimum'),
      );
      expect((await http().get('/api/v1/chats?limit=many').expect(400)).body).toEqual(
        refused('query', '/limit', 'type'),
      );
    });

    it('points at a header by the name the contract spells, when it is missing or malformed', async () => {
      const missing = await http().post(`/api/v1/chats/${chatId}/messages`).send({ content: 'hi' }).expect(400);
      expect(missing.body).toEqual(refused('header', '/Idempotency-Key', 'required'));
      const short = await http()
        .post(`/api/v1/chats/${chatId}/messages`)
        .set('Idempotency-Key', 'short')
        .send({ content: 'hi' })
        .expect(400);
      expect(short.body).toEqual(refused('header', '/Idempotency-Key', 'minLength'));
    });

    it('answers 400 validation_failed pointing into the body, at a member and at an extra one', async () => {
      const invalid = await http().post('/api/v1/chats').send({ title: 7 }).expect(400);
      expect(invalid.body).toEqual(refused('body', '/title', 'type'));
      const extra = await http().post('/api/v1/chats').send({ title: 'ok', colour: 'red' }).expect(400);
      expect(extra.body).toEqual(refused('body', '/colour', 'additionalProperties'));
    });

    it('refuses a request without the body its operation requires, pointing at the whole body', async () => {
      const response = await http().post('/api/v1/chats').expect(400);
      expect(response.body).toEqual({
        code: 'validation_failed',
        errors: [{ location: 'body', pointer: '', message: 'a JSON body is required', keyword: 'required' }],
      });
    });

    it('checks the path before the query, and the query before the body', async () => {
      const response = await http().patch('/api/v1/chats/nope?limit=x').send({ title: 7 }).expect(400);
      expect(response.body).toEqual(refused('path', '/chatId', 'format'));
    });
  });
});
