/**
 * The SQLite migrations (`drizzle/`), embedded by the Bun macro of ../migration-files.ts. Run once,
 * before workers start (the supervisor, or a store opened with `migrate`).
 */
import type { MigrationMeta } from 'drizzle-orm/migrator';
import { readMigrationFolder } from '../migration-files.ts' with { type: 'macro' };
import { applyMigrations } from '../migrator.ts';
import type { Db } from './client.ts';

/** Every migration in `drizzle/`, oldest first, as drizzle's `readMigrationFiles` returns them. */
export const MIGRATIONS: readonly MigrationMeta[] = readMigrationFolder();

export function migrateSqlite(db: Db, migrations: readonly MigrationMeta[] = MIGRATIONS): void {
  applyMigrations(db, migrations, 'drizzle');
}
