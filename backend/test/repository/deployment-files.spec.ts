import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CONFIG_KEYS } from '../../src/config/config.schema.js';
import { repoPaths } from '../../src/config/repo-paths.js';

// No container engine runs here, so the deployment files are checked by reading them.
const read = (file: string) => readFileSync(join(repoPaths.root, file), 'utf8');

interface ComposeService {
  image?: string;
  build?: unknown;
  environment?: Record<string, string> | string[];
  ports?: string[];
  depends_on?: Record<string, unknown> | string[];
}

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml')) as { services: Record<string, ComposeService> };
  const envOf = (service: ComposeService) =>
    Array.isArray(service.environment)
      ? Object.fromEntries(service.environment.map((e) => e.split('=', 2) as [string, string]))
      : (service.environment ?? {});

  it('runs PostgreSQL, PgBouncer in transaction mode and the app built from the Dockerfile, behind a balancer', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['app', 'lb', 'pgbouncer', 'postgres', 'redis']);
    expect(compose.services.postgres!.image).toMatch(/^postgres:\d+/);
    expect(envOf(compose.services.pgbouncer!).POOL_MODE).toBe('transaction');
    expect(compose.services.app!.build).toBeDefined();
    expect(compose.services.app!.ports).toBeUndefined();
    expect(compose.services.lb!.ports).toContain('3000:3000');
  });

  it('gives the app only variables the config module knows, reaching the database through PgBouncer', () => {
    const env = envOf(compose.services.app!);
    expect(Object.keys(env).filter((key) => !CONFIG_KEYS.includes(key))).toEqual([]);
    expect(new URL(env.DATABASE_URL!).host).toBe('pgbouncer:6432');
    expect(new URL(env.DATABASE_DIRECT_URL!).host).toBe('postgres:5432');
    expect(env.DATABASE_POOLER).toBe('transaction');
    expect(env.NODE_ENV).toBe('production');
    expect(env.JWT_SECRET).toMatch(/\$\{JWT_SECRET/);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');

  it('builds on Node 24 and runs as a non-root user', () => {
    const args = Object.fromEntries([...dockerfile.matchAll(/^ARG\s+(\w+)=(\S+)/gm)].map((m) => [m[1], m[2]]));
    const bases = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) =>
      m[1]!.replace(/\$\{(\w+)\}/g, (_, name: string) => args[name] ?? ''),
    );
    expect(bases.length).toBeGreaterThan(0);
    for (const base of bases) expect(base).toMatch(/^node:24[-.\w]*$/);
    const users = [...dockerfile.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]);
    expect(users.at(-1)).toBe('node');
    expect(dockerfile).toMatch(
      /CMD \["node", "--max-semi-space-size=16", "--heap-growing-percent=50", "backend\/dist\/main\.js"\]/,
    );
    // Everything the server reads at run time besides its code.
    for (const dir of ['backend/prompts', 'backend/i18n', 'backend/moderation', 'frontend/dist', 'contracts']) {
      expect(dockerfile).toContain(`./${dir}`);
    }
  });
});

describe('the V8 flags the server runs with', () => {
  it('are the same in the image, in npm start and in the benchmarks', () => {
    const image = /CMD \["node", ((?:"--[^"]+", )*)"backend\/dist\/main\.js"\]/.exec(read('Dockerfile'))?.[1];
    const flags = [...(image ?? '').matchAll(/"(--[^"]+)"/g)].map((m) => m[1]);
    expect(flags).toEqual(['--max-semi-space-size=16', '--heap-growing-percent=50']);
    const scripts = (JSON.parse(read('backend/package.json')) as { scripts: Record<string, string> }).scripts;
    expect(scripts['start:prod']).toBe(`node ${flags.join(' ')} dist/main.js`);
    const bench = /RUNTIME_NODE_ARGS = \[([^\]]*)\]/.exec(read('bench/lib/app.mjs'))?.[1];
    expect([...(bench ?? '').matchAll(/'([^']+)'/g)].map((m) => m[1])).toEqual(flags);
  });
});

describe('.env.example', () => {
  it('documents exactly the variables the config module reads', () => {
    const keys = read('.env.example')
      .split('\n')
      .map((line) => /^#?\s*([A-Z][A-Z0-9_]*)=/.exec(line)?.[1])
      .filter((key): key is string => key !== undefined);
    expect([...new Set(keys)].sort()).toEqual([...CONFIG_KEYS].sort());
  });
});
