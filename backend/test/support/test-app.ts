import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import request from 'supertest';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DataSource } from 'typeorm';
import { loadConfig, type AppConfig } from '../../src/config/app-config.js';
import { prepareDatabase } from '../../src/database/database-server.js';
import { createApp } from '../../src/app.factory.js';
import { ContractService } from '../../src/contract/contract.service.js';
import { ContractRecorder } from './contract-recorder.js';

export interface TestApp {
  app: NestExpressApplication;
  http: ReturnType<typeof request>;
  config: AppConfig;
  dataSource: DataSource;
  recorder: ContractRecorder;
  databaseUrl: string;
}

/** A fresh database on the run's PostgreSQL, so test files never see each other's rows. */
export async function createTestDatabase(): Promise<string> {
  const base = process.env.PARLEY_TEST_DATABASE_URL;
  if (!base) throw new Error('PARLEY_TEST_DATABASE_URL is set by the e2e global setup');
  const name = `parley_test_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropTestDatabase(url: string): Promise<void> {
  const base = process.env.PARLEY_TEST_DATABASE_URL!;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${new URL(url).pathname.slice(1)} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

export function testConfig(env: Record<string, string>): AppConfig {
  return loadConfig({
    NODE_ENV: 'test',
    JWT_SECRET: 'test-secret-that-is-long-enough-for-hs256-signing',
    SERVE_FRONTEND: 'false',
    LOG_LEVEL: 'error',
    // Fast and quiet defaults for tests; a test that studies one of these sets its own.
    DEMO_FIRST_BYTE_DELAY_MS: '0',
    DEMO_CHUNK_DELAY_MS: '0',
    PROVIDER_PROBE_INTERVAL_MS: '0',
    TURN_RATE_LIMIT_PER_MINUTE: '0',
    ...env,
  });
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
