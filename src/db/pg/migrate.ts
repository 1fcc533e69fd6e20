/**
 * Applies the drizzle-kit migrations of `drizzle/pg/` to a PostgreSQL database.
 *
 * The list is embedded at transpile/bundle time by the same Bun macro as the SQLite one
 * (../migration-files.ts), so a compiled binary needs no files beside it.
 *
 * drizzle's migrator takes no lock: nodes starting together against one empty database would
 * each create the same tables and all but one fail. Here every migrator first takes a session
 * advisory lock on a single-connection client, so the lock and the migration share one session;
 * the others wait, then find the migrations recorded and apply nothing.
 */
import { SQL } from 'bun';
import { drizzle } from 'drizzle-orm/bun-sql';
import type { MigrationConfig, MigrationMeta } from 'drizzle-orm/migrator';
import type { PgDialect } from 'drizzle-orm/pg-core';
import { readMigrationFolder } from '../migration-files.ts' with { type: 'macro' };

/** Every migration in `drizzle/pg/`, oldest first, as drizzle's `readMigrationFiles` returns them. */
export const PG_MIGRATIONS: readonly MigrationMeta[] = readMigrationFolder('drizzle/pg');

/** The advisory lock key every registry migrator takes (an arbitrary constant: "v1regmig"). */
export const MIGRATION_LOCK_KEY = 0x76_31_72_65_67_6d_69_67n;

/** `db.dialect` and `db.session` exist on every drizzle database but are `@internal` in 0.45's types. */
interface DrizzleInternals {
  dialect?: Partial<Pick<PgDialect, 'migrate'>>;
  session?: Parameters<PgDialect['migrate']>[1];
}

export async function migratePostgres(
  url: string,
  options: { migrations?: readonly MigrationMeta[]; connectTimeout?: number } = {},
): Promise<void> {
  const client = new SQL({ url, max: 1, connectionTimeout: options.connectTimeout ?? 10 });
  try {
    await client`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    const db = drizzle({ client });
    const { dialect, session } = db as unknown as DrizzleInternals;
    if (typeof dialect?.migrate !== 'function' || !session) {
      throw new Error('drizzle-orm no longer exposes dialect.migrate/session: revisit src/db/pg/migrate.ts');
    }
    const config: MigrationConfig = { migrationsFolder: 'drizzle/pg (embedded)' };
    // one transaction applying each migration newer than the last recorded `created_at`
    await dialect.migrate([...(options.migrations ?? PG_MIGRATIONS)], session, config);
    await client`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY})`;
  } finally {
    // closing the session also releases the lock if anything above failed
    await client.close();
  }
}
