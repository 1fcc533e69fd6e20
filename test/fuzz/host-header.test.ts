/**
 * Found by the socket fuzz (routes.fuzz.test.ts, seed 5060007): a request whose Host header is
 * not a valid authority (`a b`, `[::1`, `x:99999`, `evil.com/../x`, a quoted token) got a 500.
 * For such a Host, Bun.serve hands the handler a `request.url` that is relative (`/v1/_ping`) or
 * unparsable (`http://[::1/v1/_ping`), and `new URL(request.url)` threw. Every entry point (the
 * app's createFetch and the worker's wrapper) now checks `requestUrl()` first and answers 400
 * (RFC 9112 §3.2) with a V1 error.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Server } from 'bun';
import { loadConfig } from '../../src/config/load.ts';
import { SqliteMetaStore } from '../../src/db/sqlite/store.ts';
import { createApp } from '../../src/app/app.ts';
import { createFetch } from '../../src/app/fetch.ts';
import { internalErrorReply } from '../../src/http/errors.ts';
import { MemoryDriver } from '../../src/storage/memory.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { startSupervisor } from '../helpers/supervisor.ts';

const BAD_HOSTS = ['a b', '[::1', 'x:99999', 'evil.com/../x', 'Token signature=x,repository="../.."', 'ä', ''];

describe('an invalid Host header (real socket through createFetch)', () => {
  let server: Server<undefined>;
  let meta: SqliteMetaStore;
  beforeAll(() => {
    const config = loadConfig({ env: {}, overrides: {} });
    meta = SqliteMetaStore.open(':memory:');
    const app = createApp({ config, meta, storage: new MemoryDriver(), log: () => {} });
    server = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch: createFetch(app),
      // what src/worker/serve.ts answers for an exception that escapes the fetch handler
      error: internalErrorReply,
    });
  });
  afterAll(() => {
    server.stop(true);
    meta.close();
  });

  for (const host of BAD_HOSTS) {
    test(`Host: ${JSON.stringify(host)} → not a 5xx`, async () => {
      for (const path of ['/_ping', '/v1/images/0123456789abcdef/json', '/v1/repositories/foo/tags']) {
        const reply = await rawRequest(server.port!, [`GET ${path} HTTP/1.1`, `Host: ${host}`]);
        const text = new TextDecoder().decode(reply?.body ?? new Uint8Array(0));
        const what = `GET ${path} Host ${JSON.stringify(host)} → ${reply?.status} ${text.slice(0, 100)}`;
        expect(reply !== null && reply.status < 500 ? what : `5xx: ${what}`).toBe(what);
        if (reply!.status >= 400) expect(reply!.headers['content-type']).toBe('application/json');
      }
    });
  }
});

test('the same through a real worker (the worker checks before its metrics and access log)', async () => {
  const s = await startSupervisor({ REGISTRY_WORKERS: '1', REGISTRY_ACCESSLOG: '-' });
  try {
    for (const host of BAD_HOSTS.filter((h) => h !== '')) {
      const reply = await rawRequest(s.port, ['GET /v1/_ping HTTP/1.1', `Host: ${host}`]);
      expect(`${JSON.stringify(host)} → ${reply?.status}`).toBe(`${JSON.stringify(host)} → 400`);
      expect(JSON.parse(new TextDecoder().decode(reply!.body))).toEqual({ error: 'Invalid Host header or request target' });
    }
    expect((await fetch(`${s.url}/v1/_ping`)).status).toBe(200);
  } finally {
    await s.stop();
  }
}, 60_000);
