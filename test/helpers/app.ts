/**
 * Route-test harness: the real app over an in-memory SQLite database and the in-memory storage
 * driver (or a given one), driven with `fetch`-style calls, no sockets.
 */
import { loadConfig } from '../../src/config/load.ts';
import type { Config, SettingName } from '../../src/config/schema.ts';
import { SqliteMetaStore } from '../../src/db/sqlite/store.ts';
import { createApp, type RegistryApp } from '../../src/app/app.ts';
import { createFetch } from '../../src/app/fetch.ts';
import type { StorageDriver } from '../../src/storage/driver.ts';
import { MemoryDriver } from '../../src/storage/memory.ts';
import { hex, payload as sha256Payload } from '../../dev/ids.ts';

/** The User-Agent the original's tests sent with every request (v1-api.md §7). */
export const TEST_UA = 'docker/0.10.1 go/go1.2.1 git-commit/3600720 kernel/3.8.0-19-generic os/linux arch/amd64';

export interface TestApp {
  config: Config;
  /** the Elysia app itself (to serve it natively, see test/http/native-routes.test.ts) */
  app: RegistryApp;
  meta: SqliteMetaStore;
  storage: StorageDriver;
  req(method: string, path: string, init?: { body?: string | Uint8Array | Blob | ReadableStream | null; headers?: Record<string, string>; json?: unknown }): Promise<Response>;
  close(): void;
}

export function makeApp(overrides: Partial<Record<SettingName, unknown>> = {}, storage: StorageDriver = new MemoryDriver()): TestApp {
  const config = loadConfig({ env: {}, overrides });
  const meta = SqliteMetaStore.open(':memory:');
  const errors: unknown[] = [];
  const app = createApp({ config, meta, storage, log: (m, f) => errors.push([m, f]) });
  const fetch = createFetch(app);
  return {
    config,
    app,
    meta,
    storage,
    req(method, path, init = {}) {
      // Headers merge names case-insensitively: a test's `User-Agent` replaces the default
      const headers = new Headers({ 'user-agent': TEST_UA });
      for (const [k, v] of Object.entries(init.headers ?? {})) headers.set(k, v);
      let body = init.body ?? null;
      if (init.json !== undefined) {
        body = JSON.stringify(init.json);
        if (!headers.has('content-type')) headers.set('content-type', 'application/json');
      }
      return fetch(new Request(`http://localhost${path}`, { method, headers, body }));
    },
    close() {
      meta.close();
    },
  };
}

// under the names the in-process route tests use
export { hex as randomHex, sha256Payload };

/**
 * The original's `base.upload_image` helper with its asserts (§7): PUT json, GET json → 400,
 * PUT layer, PUT checksum, second checksum → 409, checksum on a bad id → 404, GET json → 200
 * with X-Docker-Size and X-Docker-Checksum-Payload.
 */
export async function uploadImage(
  app: TestApp,
  id: string,
  parent: string | null,
  layer: Uint8Array | string,
  expect: (cond: boolean, what: string) => void,
): Promise<string> {
  const json = JSON.stringify(parent ? { id, parent } : { id });
  let r = await app.req('PUT', `/v1/images/${id}/json`, { body: json, headers: { 'X-Docker-Payload-Checksum': 'sha256:stale' } });
  expect(r.status === 200, `PUT json ${r.status} ${await r.clone().text()}`);
  r = await app.req('GET', `/v1/images/${id}/json`);
  expect(r.status === 400, `GET json during upload ${r.status}`);
  r = await app.req('PUT', `/v1/images/${id}/layer`, { body: layer });
  expect(r.status === 200, `PUT layer ${r.status} ${await r.clone().text()}`);
  const checksum = sha256Payload(json, layer);
  r = await app.req('PUT', `/v1/images/${id}/checksum`, { headers: { 'X-Docker-Checksum-Payload': checksum } });
  expect(r.status === 200, `PUT checksum ${r.status} ${await r.clone().text()}`);
  r = await app.req('PUT', `/v1/images/${id}/checksum`, { headers: { 'X-Docker-Checksum-Payload': checksum } });
  expect(r.status === 409, `second PUT checksum ${r.status}`);
  r = await app.req('PUT', `/v1/images/not-a-hex-id!/checksum`, { headers: { 'X-Docker-Checksum-Payload': checksum } });
  expect(r.status === 404, `checksum on invalid id ${r.status}`);
  r = await app.req('GET', `/v1/images/${id}/json`);
  expect(r.status === 200, `GET json ${r.status}`);
  const size = typeof layer === 'string' ? new TextEncoder().encode(layer).byteLength : layer.byteLength;
  expect(r.headers.get('x-docker-size') === String(size), `X-Docker-Size ${r.headers.get('x-docker-size')}`);
  expect(r.headers.get('x-docker-checksum-payload') === checksum, 'X-Docker-Checksum-Payload');
  return checksum;
}

/** Runs `fn` with a fresh app (config overrides optional) and closes it afterwards. */
export async function withApp<T>(
  fn: (app: TestApp) => Promise<T>,
  overrides: Partial<Record<SettingName, unknown>> = {},
): Promise<T> {
  const app = makeApp(overrides);
  try {
    return await fn(app);
  } finally {
    app.close();
  }
}
