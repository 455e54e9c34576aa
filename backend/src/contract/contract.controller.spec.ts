import { readFileSync } from 'node:fs';
import type { INestApplication } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { repoPaths } from '../config/repo-paths.js';
import type { OpenApiDocument } from './contract-document.js';
import { OPERATION_METADATA } from './contract-operation.decorator.js';
import { ContractController } from './contract.controller.js';
import { ContractInterceptor } from './contract.interceptor.js';
import { ContractService } from './contract.service.js';

// The two routes over a contract of just themselves (the real one takes seconds to compile).
const document: OpenApiDocument = {
  openapi: '3.1.0',
  'x-request-limits': { maxBodyBytes: 1024, maxJsonDepth: 8 },
  components: {},
  paths: {
    '/openapi.json': { get: { operationId: 'getOpenApiJson', security: [], responses: { '200': {} } } },
    '/openapi.yaml': { get: { operationId: 'getOpenApiYaml', security: [], responses: { '200': {} } } },
  },
};

describe(ContractController.name, () => {
  let app: INestApplication;
  const contract = new ContractService(document);
  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      controllers: [ContractController],
      providers: [
        { provide: ContractService, useValue: contract },
        { provide: APP_INTERCEPTOR, useClass: ContractInterceptor },
      ],
    }).compile();
    app = moduleRef.createNestApplication();
    await app.init();
  });
  afterAll(() => app.close());

  it('publishes the contract the server validates against, as JSON', async () => {
    const response = await request(app.getHttpServer()).get('/openapi.json').expect(200);
    expect(response.body).toEqual(document);
  });

  it("publishes the contract's own text as YAML", async () => {
    const text = readFileSync(repoPaths.contract, 'utf8');
    const response = await request(app.getHttpServer()).get('/openapi.yaml').expect(200);
    expect(response.headers['content-type']).toBe('application/yaml; charset=utf-8');
    expect(response.text).toBe(text);
    expect(app.get(ContractController).yamlDocument()).toBe(text);
  });

  it('binds each route to its contract operation', () => {
    const controller = ContractController.prototype;
    expect(Reflect.getMetadata(OPERATION_METADATA, controller.json)).toBe('getOpenApiJson');
    expect(Reflect.getMetadata(OPERATION_METADATA, controller.yamlDocument)).toBe('getOpenApiYaml');
  });
});
