/**
 * Opens the SQLite database the way every process must (WAL, busy timeout, foreign keys), and
 * says which SQLite errors are the backend failing rather than the statement (../failures.ts).
 */
import { Database } from 'bun:sqlite';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { drizzle, type BunSQLiteDatabase } from 'drizzle-orm/bun-sqlite';
import { causes, type BackendFailure } from '../failures.ts';
import * as schema from './schema.ts';

export type Db = BunSQLiteDatabase<typeof schema> & { $client: Database };

/** How long a write waits for another process's write lock before SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 10_000;

export function openSqlite(path: string): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const client = new Database(path, { create: true, strict: true });
  // busy_timeout first: switching to WAL itself needs the lock when another process holds it.
  client.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
  client.exec('PRAGMA journal_mode = WAL');
  client.exec('PRAGMA synchronous = NORMAL');
  client.exec('PRAGMA foreign_keys = ON');
  return drizzle({ client, schema }) as Db;
}

/**
 * Locked past the busy timeout, I/O error, disk full, file unopenable or read-only: the database
 * cannot serve now. Never `retry`: the busy timeout has already waited.
 */
const UNAVAILABLE_CODES = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|PROTOCOL)/;

export function sqliteFailure(error: unknown): BackendFailure {
  for (const e of causes(error)) {
    const { code } = e as { code?: unknown };
    if (typeof code === 'string' && UNAVAILABLE_CODES.test(code)) return 'unavailable';
  }
  return null;
}
