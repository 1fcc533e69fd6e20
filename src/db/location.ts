/**
 * Where the SQLite database lives: `db` when set, else `<storage_path>/registry.db`. Meaningful
 * only when `db` is not a PostgreSQL URL: open.ts decides that first, and is how the supervisor,
 * the workers and the admin CLI all reach this rule, so they open the very same file.
 */
import { join } from 'node:path';
import type { Config } from '../config/schema.ts';

export function databasePath(config: Pick<Config, 'db' | 'storage_path'>): string {
  return config.db || join(config.storage_path, 'registry.db');
}
