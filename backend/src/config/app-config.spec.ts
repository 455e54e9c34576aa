import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './app-config.js';

describe('loadConfig', () => {
  const dataDir = () => mkdtempSync(join(tmpdir(), 'parley-config-'));

  it('starts with no configuration at all, generating and keeping a JWT secret', () => {
    const dir = dataDir();
    const first = loadConfig({ DATA_DIR: dir });
    const second = loadConfig({ DATA_DIR: dir });
    expect(first.database.url).toBeUndefined();
    expect(first.server.port).toBe(3000);
    expect(first.auth.jwtSecret.length).toBeGreaterThanOrEqual(32);
    expect(second.auth.jwtSecret).toBe(first.auth.jwtSecret);
    expect(readFileSync(join(dir, 'jwt-secret'), 'utf8').trim()).toBe(first.auth.jwtSecret);
    expect(statSync(join(dir, 'jwt-secret')).mode & 0o077).toBe(0);
  });

  it('refuses to start in production without JWT_SECRET', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', DATA_DIR: dataDir() })).toThrow(
      /JWT_SECRET: required in production/,
    );
  });

  it.each([
    [{ PORT: 'eighty' }, /PORT/],
    [{ PORT: '70000' }, /PORT/],
    [{ DATABASE_URL: 'mysql://localhost/db' }, /DATABASE_URL/],
    [{ JWT_SECRET: 'short' }, /JWT_SECRET/],
    [{ DATABASE_POOLER: 'sometimes' }, /DATABASE_POOLER/],
    [{ SERVE_FRONTEND: 'maybe' }, /SERVE_FRONTEND/],
  ])('refuses %p with a message naming the variable', (env, pattern) => {
    expect(() => loadConfig({ DATA_DIR: dataDir(), ...env })).toThrow(ConfigError);
    expect(() => loadConfig({ DATA_DIR: dataDir(), ...env })).toThrow(pattern);
  });

  it('reads typed values', () => {
    const config = loadConfig({
      DATA_DIR: dataDir(),
      PORT: '4000',
      DATABASE_URL: 'postgres://u:p@db.example:6543/parley',
      SIGNUP_TOKEN_GRANT: '5',
      SERVE_FRONTEND: 'false',
    });
    expect(config.server).toMatchObject({ port: 4000, serveFrontend: false });
    expect(config.database.url).toBe('postgres://u:p@db.example:6543/parley');
    expect(config.auth.signupTokenGrant).toBe(5);
  });
});
