import type { PoolerMode } from '../config/app-config.js';

export type DetectedPooler = Exclude<PoolerMode, 'auto'>;

export interface PoolerDetection {
  mode: DetectedPooler;
  reason: string;
}

/**
 * Works out whether DATABASE_URL points at a connection pooler and in which mode. node-postgres
 * ignores hints such as `pgbouncer=true`, so this is ours to do; an explicit DATABASE_POOLER wins.
 */
export function detectPooler(url: string, override: PoolerMode): PoolerDetection {
  if (override !== 'auto') return { mode: override, reason: 'DATABASE_POOLER' };
  const parsed = new URL(url);
  const host = parsed.hostname.toLowerCase();
  const port = parsed.port || '5432';
  if (parsed.searchParams.get('pgbouncer') === 'true')
    return { mode: 'transaction', reason: 'pgbouncer=true parameter' };
  if (host.endsWith('.pooler.supabase.com')) {
    return port === '6543'
      ? { mode: 'transaction', reason: 'Supabase transaction pooler' }
      : { mode: 'session', reason: 'Supabase session pooler' };
  }
  if (/^db\.[a-z0-9]+\.supabase\.co$/.test(host) && port === '6543') {
    return { mode: 'transaction', reason: 'Supabase dedicated PgBouncer' };
  }
  if (host.includes('-pooler')) return { mode: 'transaction', reason: 'Neon pooled host' };
  if (port === '6432') return { mode: 'transaction', reason: 'PgBouncer default port' };
  return { mode: 'none', reason: 'no pooler recognised' };
}
