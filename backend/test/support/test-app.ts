import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../../src/config/app-config.js';
import { prepareDatabase } from '../../src/database/database-server.js';
import { createApp } from '../../src/app.factory.js';
import { ContractService } from '../../src/contract/contract.service.js';
import { ContractRecorder } from './contract-recorder.js';
import { createTestDatabase, dropTestDatabase, testConfig } from './test-database.js';

export { createTestDatabase, dropTestDatabase, testConfig };

export interface TestApp {
  app: NestExpressApplication;
  http: ReturnType<typeof request>;
  config: AppConfig;
  dataSource: DataSource;
  recorder: ContractRecorder;
  databaseUrl: string;
}

/**
 * Boots the whole application the way main.ts does, against its own database, with every
 * response checked against the contract. Registers its own teardown and the final check.
 */
export function useTestApp(env: Record<string, string> | (() => Record<string, string>) = {}): () => TestApp {
  let current: TestApp | undefined;
  beforeAll(async () => {
    const databaseUrl = await createTestDatabase();
    const dataDir = await mkdtemp(join(tmpdir(), 'parley-data-'));
    const extra = typeof env === 'function' ? env() : env;
    const { config } = await prepareDatabase(testConfig({ DATABASE_URL: databaseUrl, DATA_DIR: dataDir, ...extra }));
    const app = await createApp(config, { logger: false });
    const recorder = new ContractRecorder(app.get(ContractService));
    app.use(recorder.middleware);
    await app.init();
    current = {
      app,
      http: request(app.getHttpServer()),
      config,
      dataSource: app.get(DataSource),
      recorder,
      databaseUrl,
    };
  });
  afterAll(async () => {
    if (!current) return;
    await current.app.close();
    await dropTestDatabase(current.databaseUrl);
    const recordDir = process.env.PARLEY_CONTRACT_RECORD_DIR;
    if (recordDir) {
      const operations = [...new Set(current.recorder.responses.map((r) => r.operationId).filter(Boolean))];
      await writeFile(join(recordDir, `${randomUUID()}.json`), JSON.stringify(operations));
    }
    expect(current.recorder.violations).toEqual([]);
  });
  return () => {
    if (!current) throw new Error('the test app starts in beforeAll');
    return current;
  };
}
