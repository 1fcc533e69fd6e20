/**
 * Applies an embedded migration list (migration-files.ts inlines it at transpile/bundle time) to
 * a drizzle database of either dialect. Nothing reads `drizzle/` at run time, so `bun build
 * --compile` output needs no files beside it.
 *
 * This is the body of drizzle's own `migrate()` (`drizzle-orm/<driver>/migrator`) minus its folder
 * read: `db.dialect.migrate` runs one transaction applying each migration newer than the last
 * recorded `created_at`. Both members are `@internal` in drizzle-orm 0.45's types, hence the
 * check: an upgrade that drops them fails loudly here instead of migrating nothing.
 */
import type { MigrationConfig, MigrationMeta } from 'drizzle-orm/migrator';

interface DrizzleInternals {
  dialect?: { migrate?: (migrations: MigrationMeta[], session: unknown, config: MigrationConfig) => unknown };
  session?: unknown;
}

/** Sync for SQLite (bun:sqlite), a promise for PostgreSQL: whatever the dialect's migrate returns. */
export function applyMigrations<R = void>(db: object, migrations: readonly MigrationMeta[], label: string): R {
  const { dialect, session } = db as DrizzleInternals;
  if (typeof dialect?.migrate !== 'function' || !session) {
    throw new Error('drizzle-orm no longer exposes dialect.migrate/session: revisit src/db/migrator.ts');
  }
  return dialect.migrate([...migrations], session, { migrationsFolder: `${label} (embedded)` }) as R;
}
