/** One registry server process: open the stores, build the app, listen. */
import type { Server } from 'bun';
import type { Config } from '../config/schema.ts';
import { SqliteMetaStore } from '../db/sqlite-store.ts';
import type { MetaStore } from '../db/meta.ts';
import { createApp, createFetch } from '../http/app.ts';
import { createStorage } from '../storage/factory.ts';
import { join } from 'node:path';

export interface RunningServer {
  server: Server<undefined>;
  meta: MetaStore;
  stop(): Promise<void>;
}

export function sqlitePath(config: Config): string {
  return config.db || join(config.storage_path, 'registry.db');
}

export function startServer(config: Config, options: { migrate?: boolean; reusePort?: boolean } = {}): RunningServer {
  const meta = SqliteMetaStore.open(sqlitePath(config), { migrate: options.migrate ?? true });
  const storage = createStorage({ storage: config.storage, storagePath: config.storage_path });
  const app = createApp({ config, meta, storage });
  const fetch = createFetch(app);
  const server = Bun.serve({
    hostname: config.host,
    port: config.port,
    reusePort: options.reusePort ?? false,
    development: false,
    // Body limits are enforced by the routes (a layer against max_body_size, JSON against
    // max_json_size) so that an oversized body gets a V1 JSON 413, not Bun's empty one.
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    idleTimeout: config.idle_timeout,
    fetch,
    error: () =>
      new Response('{"error": "Internal server error"}', { status: 500, headers: { 'content-type': 'application/json' } }),
  });
  return {
    server,
    meta,
    async stop() {
      await server.stop();
      meta.close();
    },
  };
}
