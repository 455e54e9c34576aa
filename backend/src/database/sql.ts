import type { Pool } from 'pg';
import type { DataSource, EntityManager, EntityTarget, ObjectLiteral } from 'typeorm';

/**
 * Runs a statement and gives its rows, the same way for SELECT and for INSERT, UPDATE and
 * DELETE … RETURNING (TypeORM's plain `query()` returns `[rows, count]` for the latter). Inside a
 * transaction pass its manager; otherwise the statement runs on a pooled connection, straight on
 * the pg pool (no query runner to make and release: bench/REPORT.md, "Session 10"), and a failure
 * is pg's own error rather than TypeORM's wrapper of it (errors/database-errors.ts reads both).
 */
export async function rowsOf<T>(on: EntityManager | DataSource, sql: string, params: unknown[]): Promise<T[]> {
  const manager = 'manager' in on ? on.manager : on;
  if (manager.queryRunner) return (await manager.queryRunner.query(sql, params, true)).records as T[];
  return (await poolOf(manager.connection).query(sql, params)).rows as T[];
}

/**
 * An entity from a row of raw SQL (`RETURNING *`), by the entity's column metadata: database
 * names to property names. Values are as the pg driver parsed them.
 */
export function entityFromRow<T extends ObjectLiteral>(
  on: EntityManager | DataSource,
  target: EntityTarget<T>,
  row: Record<string, unknown>,
): T {
  return entityOf(on, target, row, (_type, value) => value);
}

/**
 * An entity from a row as JSON (`to_jsonb(row)` in a statement that returns several tables' rows
 * at once), by the entity's column metadata. JSON has no timestamps: `timestamptz` columns become
 * Dates, as the pg driver makes them; the tables read this way have no other type JSON changes
 * (no bigint or numeric columns, which the driver gives as strings).
 */
export function entityFromJson<T extends ObjectLiteral>(
  on: EntityManager | DataSource,
  target: EntityTarget<T>,
  json: Record<string, unknown>,
): T {
  return entityOf(on, target, json, (type, value) =>
    type === 'timestamptz' && typeof value === 'string' ? new Date(value) : value,
  );
}

function entityOf<T extends ObjectLiteral>(
  on: EntityManager | DataSource,
  target: EntityTarget<T>,
  row: Record<string, unknown>,
  valueOf: (type: unknown, value: unknown) => unknown,
): T {
  const metadata = ('connection' in on ? on.connection : on).getMetadata(target);
  const entity = metadata.create() as Record<string, unknown>;
  for (const column of metadata.columns) {
    if (column.databaseName in row) entity[column.propertyName] = valueOf(column.type, row[column.databaseName]);
  }
  return entity as T;
}

/**
 * The pg pool under TypeORM, for a hot read that needs neither entities nor a query runner: one
 * pooled statement, its rows as the driver parsed them. Never give a statement a `name` (see FACTS:
 * named prepared statements break under PgBouncer's transaction pooling).
 */
export function poolOf(dataSource: DataSource): Pool {
  const pool = (dataSource.driver as unknown as { master?: Pool }).master;
  if (!pool) throw new Error('the data source is not connected');
  return pool;
}

interface PgPool {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}

/** The pg pool's connections (TypeORM keeps the pool on the driver as `master`). */
export function poolStats(dataSource: DataSource): { total: number; idle: number; waiting: number } {
  const pool = (dataSource.driver as unknown as { master?: PgPool }).master;
  return { total: pool?.totalCount ?? 0, idle: pool?.idleCount ?? 0, waiting: pool?.waitingCount ?? 0 };
}

/** Rejects with `timeout` when the work takes longer than `ms` (a health check must answer). */
export async function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
