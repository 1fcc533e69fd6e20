/** GET /metrics through the app: answered by the provider the worker gives, else a V1 404. */
import { expect, test } from 'bun:test';
import { loadConfig } from '../../src/config/load.ts';
import { SqliteMetaStore } from '../../src/db/sqlite/store.ts';
import { createApp } from '../../src/app/app.ts';
import { createFetch } from '../../src/app/fetch.ts';
import { MemoryDriver } from '../../src/storage/memory.ts';
import { withApp } from '../helpers/app.ts';

test('without a supervisor there is nothing to sum: 404 with a V1 error', async () => {
  await withApp(async (app) => {
    const r = await app.req('GET', '/metrics');
    expect(r.status).toBe(404);
    expect(await r.json()).toEqual({ error: 'Metrics are served by the workers of a running supervisor' });
  });
});

test('with a provider (a worker process), its reply is served as is', async () => {
  const meta = SqliteMetaStore.open(':memory:');
  try {
    const text = '# TYPE registry_workers gauge\nregistry_workers 2\n';
    const fetch = createFetch(
      createApp({
        config: loadConfig({ env: {} }),
        meta,
        storage: new MemoryDriver(),
        metrics: async () => new Response(text, { headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' } }),
      }),
    );
    const r = await fetch(new Request('http://localhost/metrics'));
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await r.text()).toBe(text);
  } finally {
    meta.close();
  }
});
