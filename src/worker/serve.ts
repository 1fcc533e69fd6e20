/** One registry server: open the stores, build the app, listen. Used by every worker process. */
import type { Server } from 'bun';
import type { Config } from '../config/schema.ts';
import type { MetaStore } from '../db/meta.ts';
import { openMetaStore } from '../db/open.ts';
import { createRoute, nativeRoutes, type AppRoute } from '../app/fetch.ts';
import { createApp, hotRoutesOf } from '../app/app.ts';
import { internalErrorReply } from '../http/errors.ts';
import { requestUrl } from '../http/request-target.ts';
import { GarbageCollector, type GcOutcome } from '../services/gc.ts';
import type { CallHook } from '../storage/base.ts';
import { createStorage, storageConfigOf } from '../storage/factory.ts';
import { startCollecting } from './collect.ts';

export interface RunningServer {
  server: Server<undefined>;
  meta: MetaStore;
  /** Graceful: stop accepting, let in-flight requests finish. */
  stop(force?: boolean): Promise<void>;
}

export interface ServeOptions {
  reusePort: boolean;
  /** wraps the app's fetch handler (request counting, access log) */
  wrap?: (route: AppRoute) => (request: Request, server: Server<undefined>) => Promise<Response>;
  onError?: (message: string, fields: Record<string, unknown>) => void;
  /** informational messages (the purge of abandoned uploads, garbage collections) */
  onInfo?: (message: string) => void;
  /** debug messages (a garbage collection skipped for another collector) */
  onDebug?: (message: string) => void;
  /** each scheduled garbage collection's outcome (null: it failed), for the metrics */
  onGc?: (outcome: GcOutcome | null) => void;
  /** GET /metrics (see AppDeps.metrics) */
  metrics?: () => Promise<Response>;
  /** every storage driver call, timed (the driver base's hook) */
  onStorageCall?: CallHook;
}

/**
 * Deletes temp uploads idle for longer than `upload_purge_age` now and then every
 * `upload_purge_interval` seconds. A live upload refreshes its temp file's mtime on every write,
 * so only stalled ones go. Runs never overlap; every worker purges (a file another worker removed
 * first is skipped). Returns a function that stops the periodic runs.
 */
function startPurging(purge: (maxAgeMs: number) => Promise<number>, config: Config, options: ServeOptions): () => void {
  const ageMs = config.upload_purge_age * 1000;
  let busy = false;
  const run = async () => {
    if (busy) return;
    busy = true;
    try {
      const removed = await purge(ageMs);
      if (removed > 0) options.onInfo?.(`Purged ${removed} abandoned uploads`);
    } catch (e) {
      options.onError?.('Purge of abandoned uploads failed', { error: e instanceof Error ? e.message : String(e) });
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void run(), config.upload_purge_interval * 1000);
  timer.unref();
  void run();
  return () => clearInterval(timer);
}

export async function startServer(config: Config, options: ServeOptions): Promise<RunningServer> {
  const meta = await openMetaStore(config, { migrate: false });
  const storage = createStorage(storageConfigOf(config), { onCall: options.onStorageCall });
  const app = createApp({ config, meta, storage, log: options.onError, metrics: options.metrics });
  const route = createRoute(app);
  const handler = (r: AppRoute) => (options.wrap ? options.wrap(r) : (request: Request) => r(request, requestUrl(request)));
  const fetch = handler(route);
  // the same wrapper (metrics, access log, max_requests) around the natively dispatched routes
  const routes = Object.fromEntries(Object.entries(nativeRoutes(app)).map(([path, r]) => [path, { GET: handler(r) }]));
  const server = Bun.serve({
    hostname: config.host,
    port: config.port,
    reusePort: options.reusePort,
    development: false,
    // Body limits are enforced by the routes (a layer against max_body_size, JSON against
    // max_json_size) so that an oversized body gets a V1 JSON 413, not Bun's empty one.
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    idleTimeout: config.idle_timeout,
    routes,
    fetch,
    error: internalErrorReply,
  });
  // after listening: a worker that fails to boot touches nothing
  const stopPurging = startPurging(hotRoutesOf(app).purgeUploads, config, options);
  const stopCollecting = startCollecting(new GarbageCollector(meta, storage), config, {
    onInfo: options.onInfo,
    onDebug: options.onDebug,
    onError: options.onError,
    onRun: options.onGc,
  });
  return {
    server,
    meta,
    async stop(force = false) {
      stopPurging();
      // before the store closes: a run in progress stops at its next item and frees the lease
      await stopCollecting();
      await server.stop(force);
      meta.close();
    },
  };
}
