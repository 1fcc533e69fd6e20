/**
 * Where the SQLite database lives: `db` when set, else `<storage_path>/registry.db`. The one
 * rule for the server (src/worker/serve.ts) and the tools (scripts/admin.ts), so both open the
 * very same file.
 */
import { join } from 'node:path';
import type { Config } from '../config/schema.ts';

export function databasePath(config: Pick<Config, 'db' | 'storage_path'>): string {
  return config.db || join(config.storage_path, 'registry.db');
}
