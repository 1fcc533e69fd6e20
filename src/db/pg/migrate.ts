/**
 * Applies the drizzle-kit migrations of `drizzle/pg/` to a PostgreSQL database, embedded by the
 * same Bun macro as the SQLite ones (../migration-files.ts).
 *
 * drizzle's migrator takes no lock: nodes starting together against one empty database would
 * each create the same tables and all but one fail. Here every migrator first takes a session
 * advisory lock on a single-connection client, so the lock and the migration share one session;
 * the others wait, then find the migrations recorded and apply nothing.
 */
import { SQL } from 'bun';
import { drizzle } from 'drizzle-orm/bun-sql';
import type { MigrationMeta } from 'drizzle-orm/migrator';
import { readMigrationFolder } from '../migration-files.ts' with { type: 'macro' };
import { applyMigrations } from '../migrator.ts';

/** Every migration in `drizzle/pg/`, oldest first, as drizzle's `readMigrationFiles` returns them. */
export const PG_MIGRATIONS: readonly MigrationMeta[] = readMigrationFolder('drizzle/pg');

/** The advisory lock key every registry migrator takes (an arbitrary constant: "v1regmig"). */
const MIGRATION_LOCK_KEY = 0x76_31_72_65_67_6d_69_67n;

export async function migratePostgres(
  url: string,
  options: { migrations?: readonly MigrationMeta[]; connectTimeout?: number } = {},
): Promise<void> {
  const client = new SQL({ url, max: 1, connectionTimeout: options.connectTimeout ?? 10 });
  try {
    await client`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    await applyMigrations<Promise<void>>(drizzle({ client }), options.migrations ?? PG_MIGRATIONS, 'drizzle/pg');
    await client`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY})`;
  } finally {
    // closing the session also releases the lock if anything above failed
    await client.close();
  }
}
