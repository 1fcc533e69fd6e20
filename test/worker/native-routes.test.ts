/**
 * `_ping` is dispatched by Bun.serve's own router (app/fetch.ts nativeRoutes): it must answer
 * exactly what the app's route answers, for GET and HEAD, in normal and debug mode, and still pass
 * through the worker's wrapper (metrics, access log, max_requests) like every other request.
 */
import { afterEach, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.ts';
import { createApp } from '../../src/app/app.ts';
import { createFetch, type AppRoute } from '../../src/app/fetch.ts';
import { MemoryDriver } from '../../src/storage/memory.ts';
import { SqliteMetaStore } from '../../src/db/sqlite/store.ts';
import { startServer, type RunningServer } from '../../src/worker/serve.ts';

let running: RunningServer | null = null;
let dir: string | null = null;
afterEach(async () => {
  await running?.stop(true);
  running = null;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = null;
});

const shape = async (r: Response) => ({
  status: r.status,
  body: await r.text(),
  headers: [...r.headers].filter(([k]) => k !== 'date').sort(),
});

for (const debug of [false, true]) {
  test(`GET/HEAD /_ping and /v1/_ping answer like the app's route (debug ${debug}), through the wrapper`, async () => {
    dir = mkdtempSync(join(tmpdir(), 'native-routes-'));
    const env = { STORAGE_PATH: dir, REGISTRY_HOST: '127.0.0.1', REGISTRY_PORT: '0', REGISTRY_DEBUG: String(debug), STANDALONE: 'false' };
    const config = loadConfig({ env });
    SqliteMetaStore.open(join(dir, 'registry.db')).close();
    const seen: string[] = [];
    running = await startServer(config, {
      reusePort: false,
      wrap: (route: AppRoute) => async (request) => {
        const url = new URL(request.url);
        seen.push(`${request.method} ${url.pathname}`);
        return route(request, url);
      },
    });
    const base = `http://127.0.0.1:${running.server.port}`;
    const app = createFetch(createApp({ config, meta: SqliteMetaStore.open(':memory:'), storage: new MemoryDriver() }));
    for (const path of ['/_ping', '/v1/_ping', '/v1/_ping?x=1', '/v1/_ping/']) {
      for (const method of ['GET', 'HEAD']) {
        const served = await shape(await fetch(base + path, { method }));
        const expected = await shape(await app(new Request(`http://localhost${path}`, { method })));
        if (debug && method === 'GET') {
          // the debug body names the process (argv): compare its shape, not the launch line
          const a = JSON.parse(served.body) as Record<string, unknown>;
          expect(a.host).toBeArray();
          const b = JSON.parse(expected.body) as Record<string, unknown>;
          expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
          expect(a.versions).toEqual(b.versions);
          served.body = expected.body = '';
          served.headers = served.headers.filter(([k]) => k !== 'content-length');
          expected.headers = expected.headers.filter(([k]) => k !== 'content-length');
        }
        expect(served).toEqual(expected);
        if (method === 'GET') expect(served.headers).toContainEqual(['x-docker-registry-standalone', 'False']);
      }
    }
    expect(seen).toEqual(['/_ping', '/v1/_ping', '/v1/_ping', '/v1/_ping/'].flatMap((p) => [`GET ${p}`, `HEAD ${p}`]));
    // other methods still reach the app (405/404 as before, as JSON)
    const post = await fetch(`${base}/v1/_ping`, { method: 'POST' });
    expect(post.status).toBeGreaterThanOrEqual(400);
    expect(post.status).toBeLessThan(500);
    expect(((await post.json()) as { error: string }).error).toBeString();
  }, 60_000);
}
