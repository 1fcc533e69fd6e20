/**
 * Where the SQLite database lives: `db` when set, else `<storage_path>/registry.db`. The same
 * rule as the worker's `sqlitePath` (src/worker/serve.ts), kept here so tools below the worker
 * layer (scripts/admin.ts) open the very file the server uses.
 */
import { join } from 'node:path';
import type { Config } from '../config/schema.ts';

export function databasePath(config: Pick<Config, 'db' | 'storage_path'>): string {
  return config.db || join(config.storage_path, 'registry.db');
}
