import { createHash } from 'node:crypto';

/** SHA-256 (hex) of what identifies a request: operation, path parameters and body, key order ignored. */
export function requestFingerprint(operationId: string, params: Record<string, string>, body: unknown): string {
  return createHash('sha256')
    .update(canonicalJson([operationId, params, body ?? null]))
    .digest('hex');
}

/**
 * JSON with object keys sorted at every level, so `{a,b}` and `{b,a}` hash alike. Otherwise it
 * follows JSON.stringify: undefined members are left out, undefined array items become null.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((item: unknown) => canonicalJson(item)).join(',')}]`;
  const members = Object.entries(value)
    .filter(([, member]) => member !== undefined && typeof member !== 'function')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, member]) => `${JSON.stringify(name)}:${canonicalJson(member)}`);
  return `{${members.join(',')}}`;
}
