/**
 * Which metadata store a process opens: `db` (REGISTRY_DB) set to a `postgres://` or
 * `postgresql://` URL selects PostgreSQL; anything else is SQLite at `databasePath(config)`. The one
 * rule for the supervisor (migrations), the workers and the admin CLI. The PostgreSQL modules are
 * loaded only when configured, so a SQLite worker never carries them.
 */
import { isPostgresUrl, type Config } from '../config/schema.ts';
import { databasePath } from './location.ts';
import type { MetaStore } from './meta.ts';
import { SqliteMetaStore } from './sqlite/store.ts';

type DbConfig = Pick<Config, 'db' | 'storage_path'>;

/** Where the metadata lives, for messages: the SQLite path, or the PostgreSQL URL without its password. */
export function describeMetaStore(config: DbConfig): string {
  if (!isPostgresUrl(config.db)) return databasePath(config);
  const url = new URL(config.db.trim());
  if (url.password) url.password = '***';
  return url.href;
}

/** Applies the migrations once (the supervisor does this before any worker starts). */
export async function migrateMetaStore(config: DbConfig): Promise<void> {
  if (isPostgresUrl(config.db)) {
    const { migratePostgres } = await import('./pg/migrate.ts');
    return migratePostgres(config.db.trim());
  }
  SqliteMetaStore.open(databasePath(config), { migrate: true }).close();
}

export async function openMetaStore(config: DbConfig, options: { migrate: boolean }): Promise<MetaStore> {
  if (isPostgresUrl(config.db)) {
    const { PgMetaStore } = await import('./pg/store.ts');
    return PgMetaStore.open(config.db.trim(), { migrate: options.migrate });
  }
  return SqliteMetaStore.open(databasePath(config), { migrate: options.migrate });
}
