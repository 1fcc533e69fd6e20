/**
 * Applies the drizzle-kit migrations in `drizzle/`. Run once, before workers start.
 *
 * One mechanism for `bun src/main.ts` and the compiled binary: the migration list is read from
 * `drizzle/` when this module is transpiled or bundled (a Bun macro, see migration-files.ts) and
 * lives in memory; nothing reads the folder at run time, so `bun build --compile` output needs no
 * files beside it.
 */
import type { MigrationConfig, MigrationMeta } from 'drizzle-orm/migrator';
import type { SQLiteSyncDialect } from 'drizzle-orm/sqlite-core';
import type { Db } from './client.ts';
import { readMigrationFolder } from './migration-files.ts' with { type: 'macro' };

/** Every migration in `drizzle/`, oldest first, as drizzle's `readMigrationFiles` returns them. */
export const MIGRATIONS: readonly MigrationMeta[] = readMigrationFolder();

/** `db.dialect` and `db.session` exist on every drizzle database but are `@internal` in 0.45's types. */
interface DrizzleInternals {
  dialect?: Partial<Pick<SQLiteSyncDialect, 'migrate'>>;
  session?: Parameters<SQLiteSyncDialect['migrate']>[1];
}

export function migrateSqlite(db: Db, migrations: readonly MigrationMeta[] = MIGRATIONS): void {
  // The body of drizzle-orm/bun-sqlite/migrator's migrate(), minus the folder read: one
  // transaction applying each migration newer than the last recorded `created_at`.
  const { dialect, session } = db as unknown as DrizzleInternals;
  if (typeof dialect?.migrate !== 'function' || !session) {
    throw new Error('drizzle-orm no longer exposes dialect.migrate/session: revisit src/db/migrate.ts');
  }
  const config: MigrationConfig = { migrationsFolder: 'drizzle (embedded)' };
  dialect.migrate([...migrations], session, config);
}
