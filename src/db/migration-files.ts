/**
 * Reads a drizzle-kit migrations folder (`drizzle/` for SQLite, `drizzle/pg/` for PostgreSQL:
 * `meta/_journal.json` + one `.sql` per entry) with drizzle's own `readMigrationFiles`, so the
 * list is exactly what its file-based migrator would apply (SQL split at breakpoints, `when` as
 * folderMillis, sha256 of the file).
 *
 * `sqlite/migrate.ts` and `pg/migrate.ts` import `readMigrationFolder` as a Bun macro
 * (`with { type: 'macro' }`): it runs when Bun transpiles the importing module — at every
 * `bun src/main.ts` start, in `bun test`, and once at `bun build --compile` — and its result is
 * inlined as a literal. The compiled binary therefore carries its migrations and never looks for
 * `drizzle/` on disk, and a newly generated migration is picked up without editing any list.
 * migrator.ts applies such a list.
 */
import { readMigrationFiles, type MigrationMeta } from 'drizzle-orm/migrator';
import { join } from 'node:path';

const ROOT = join(import.meta.dir, '..', '..');

/** `drizzle/` in the source tree (`out` in drizzle.config.ts). Meaningful in source only. */
export const MIGRATIONS_FOLDER = join(ROOT, 'drizzle');
/** `drizzle/pg/` in the source tree (`out` in drizzle.pg.config.ts). Meaningful in source only. */
export const PG_MIGRATIONS_FOLDER = join(ROOT, 'drizzle', 'pg');

/**
 * `folder` is relative to the repository root and must be a literal at the call site (a macro's
 * arguments are evaluated at build time).
 */
export function readMigrationFolder(folder = 'drizzle'): MigrationMeta[] {
  return readMigrationFiles({ migrationsFolder: join(ROOT, folder) });
}
