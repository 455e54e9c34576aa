import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { ContractService } from '../src/contract/contract.service.js';
import type { DemoGeminiServer } from '../src/providers/demo/demo-gemini.server.js';
import { DEMO_SERVER } from '../src/providers/providers.module.js';
import { useTestApp } from './support/test-app.js';
import { ContractModel } from './support/fuzz/contract-model.js';
import { NO_OPERATION, Planner, type PlannedRequest } from './support/fuzz/planner.js';
import { FuzzRun, createChatRequest, sendRequest } from './support/fuzz/runner.js';
import { SchemaArbitraries } from './support/fuzz/schema-arbitraries.js';
import { World, type Account } from './support/fuzz/world.js';

// Replay a failure with the seed it prints: FUZZ_SEED=<seed> (and the same FUZZ_REQUESTS).
const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 3300);
// Optional: where to write the per-operation counts and the failure classes as JSON.
const REPORT = process.env.FUZZ_REPORT;

// Relative share of the requests per operation: turns reach the deepest code; register and
// login hash passwords (argon2id), and the health checks and metrics do the same work whatever
// they are sent, so those get fewer; the rest one share each.
const WEIGHTS: Record<string, number> = {
  sendMessage: 1.4,
  sendMessageStream: 1.4,
  regenerateMessage: 1.2,
  regenerateMessageStream: 1.2,
  register: 0.6,
  login: 0.6,
  getHealth: 0.6,
  getReadiness: 0.6,
  getMetrics: 0.6,
  [NO_OPERATION]: 1.5,
};

describe('Contract fuzzing', () => {
  const t = useTestApp({
    // Enough tokens that valid turns never run out; rate limiting on (so its headers are
    // checked) but far above what the run sends.
    SIGNUP_TOKEN_GRANT: '1000000000',
    TURN_RATE_LIMIT_PER_MINUTE: '100000',
    // Followers of a live reply poll at this interval: short, so following costs little time.
    CHECKPOINT_INTERVAL_MS: '50',
  });
  let model: ContractModel;
  let world: World;
  let run: FuzzRun;

  beforeAll(async () => {
    const server = t().app.getHttpServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const contract = t().app.get(ContractService);
    const demo = t().app.get<typeof DEMO_SERVER, DemoGeminiServer>(DEMO_SERVER);
    model = new ContractModel(contract);
    world = new World();
    const { jwtSecret: secret, jwtIssuer: issuer, jwtAudience: audience } = t().config.auth;
    const planner = new Planner(model, new SchemaArbitraries(contract.document), world, { secret, issuer, audience });
    run = new FuzzRun(
      {
        seed: SEED,
        replay: `FUZZ_SEED=${SEED} FUZZ_REQUESTS=${REQUESTS}`,
        port: (server.address() as AddressInfo).port,
        timeoutMs: 20_000,
        concurrentShare: 0.25,
        slowProvider: (slow) => {
          demo.pace = slow ? { firstByteDelayMs: 20, chunkDelayMs: 5 } : { firstByteDelayMs: 0, chunkDelayMs: 0 };
        },
      },
      model,
      planner,
      world,
    );
    await setUpFixtures();
  });

  // Two accounts with chats, replies (one streamed, for event ids) and a cursor each, made
  // through the API (and judged like every other response).
  async function setUpFixtures(): Promise<void> {
    const characters = await run.execute('fixture', fixture('listCharacters', 'GET', '/api/v1/characters'), false);
    world.characters = ((characters?.json as { items: Array<{ id: string }> }).items ?? []).map((c) => c.id);
    for (const name of ['A', 'B']) {
      const email = `fuzz-${name.toLowerCase()}-${SEED}@example.com`;
      const password = `fuzz password ${name}`;
      const registered = await run.execute(
        'fixture',
        fixture('register', 'POST', '/api/v1/auth/register', { email, password }),
        false,
      );
      const auth = registered?.json as { accessToken: string; user: { id: string } };
      const account: Account = {
        name,
        id: auth.user.id,
        email,
        password,
        token: auth.accessToken,
        chats: [],
        deletedChatIds: [],
        cursors: [],
        keys: [],
      };
      world.accounts.push(account);
      for (const characterId of world.characters) {
        await run.execute('fixture', createChatRequest(model, account, characterId), false);
      }
      const [first, second] = account.chats;
      await run.execute('fixture', sendRequest(model, account, first!.id, 'Where are we headed?', false), false);
      await run.execute('fixture', sendRequest(model, account, second!.id, 'Tell me a story.', true), false);
      await run.execute('fixture', fixture('listChats', 'GET', '/api/v1/chats?limit=1', undefined, account), false);
    }
    // The account signOutEverywhere acts on (it has no chats: the operation takes no ids).
    const email = `fuzz-c-${SEED}@example.com`;
    const password = 'fuzz password C';
    const registered = await run.execute(
      'fixture',
      fixture('register', 'POST', '/api/v1/auth/register', { email, password }),
      false,
    );
    const auth = registered?.json as { accessToken: string; user: { id: string } };
    world.revocable = {
      name: 'C',
      id: auth.user.id,
      email,
      password,
      token: auth.accessToken,
      chats: [],
      deletedChatIds: [],
      cursors: [],
      keys: [],
    };
  }

  function fixture(operationId: string, method: string, path: string, body?: unknown, actor?: Account): PlannedRequest {
    const headers: Record<string, string> = actor ? { Authorization: `Bearer ${actor.token}` } : {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    return {
      operationId,
      mode: 'fixture',
      notes: [],
      expect: { kind: 'accept' },
      method,
      path,
      headers,
      body: body === undefined ? undefined : Buffer.from(JSON.stringify(body)),
      actor,
      target: {},
    };
  }

  it(`answers ${REQUESTS} seeded requests (valid and mutated, on every operation) as the contract says`, async () => {
    const started = performance.now();
    const operations = [...model.operations.map((m) => m.operation.operationId), NO_OPERATION];
    const total = operations.reduce((sum, id) => sum + (WEIGHTS[id] ?? 1), 0);
    const planned = operations.flatMap((id) =>
      Array.from({ length: Math.max(1, Math.round((REQUESTS * (WEIGHTS[id] ?? 1)) / total)) }, () => id),
    );
    const [schedule] = fc.sample(fc.shuffledSubarray(planned, { minLength: planned.length }), {
      seed: SEED,
      numRuns: 1,
    });
    await run.run(schedule!);

    const counts = Object.fromEntries([...run.counts.entries()].sort(([a], [b]) => a.localeCompare(b)));
    const failures = run.failureReport();
    if (REPORT) {
      const seconds = Math.round((performance.now() - started) / 100) / 10;
      const waited = Object.fromEntries([...run.waited.entries()].map(([id, ms]) => [id, Math.round(ms)]));
      await writeFile(
        REPORT,
        JSON.stringify({ seed: SEED, requests: run.total, seconds, counts, waited, failures, log: run.log }, null, 2),
      );
    }
    // Every operation was exercised, and enough of each to mean something.
    const minimum = Math.floor(REQUESTS / operations.length / 3);
    expect(operations.filter((id) => (counts[id] ?? 0) < minimum)).toEqual([]);
    expect(run.total).toBeGreaterThanOrEqual(Math.min(3000, REQUESTS));
    // Every failure class, each with the first request that showed it (seed printed for replay).
    expect(failures).toEqual([]);
  }, 900_000);
});
