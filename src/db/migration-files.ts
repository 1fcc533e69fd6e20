/**
 * Reads the drizzle-kit migrations folder (`drizzle/`: `meta/_journal.json` + one `.sql` per
 * entry) with drizzle's own `readMigrationFiles`, so the list is exactly what its file-based
 * migrator would apply (SQL split at breakpoints, `when` as folderMillis, sha256 of the file).
 *
 * `migrate.ts` imports `readMigrationFolder` as a Bun macro (`with { type: 'macro' }`): it runs
 * when Bun transpiles `migrate.ts` — at every `bun src/main.ts` start, in `bun test`, and once at
 * `bun build --compile` — and its result is inlined as a literal. The compiled binary therefore
 * carries its migrations and never looks for `drizzle/` on disk, and a newly generated migration
 * is picked up without editing any list.
 */
import { readMigrationFiles, type MigrationMeta } from 'drizzle-orm/migrator';
import { join } from 'node:path';

/** `drizzle/` in the source tree (`out` in drizzle.config.ts). Meaningful in source only. */
export const MIGRATIONS_FOLDER = join(import.meta.dir, '..', '..', 'drizzle');

export function readMigrationFolder(): MigrationMeta[] {
  return readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER });
}
