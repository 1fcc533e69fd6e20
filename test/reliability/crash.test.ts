/**
 * Crash safety with real processes (`bun src/main.ts`): a worker killed with SIGKILL in the middle
 * of a layer upload, and a client that goes away in the middle of one. Neither may leave a
 * visible layer or a damaged database; the temp data is cleaned up (by the purge after a crash,
 * at once after a disconnect); a retry then completes.
 */
import { Database } from 'bun:sqlite';
import { describe, expect, test } from 'bun:test';
import { existsSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { alive } from '../../dev/processes.ts';
import { waitFor, type Supervisor, useSupervisors } from '../helpers/supervisor.ts';
import { client, hex, imageFiles, imageJson, payload, randomBytes, stallingBody, tempFiles } from '../helpers/v1-push.ts';

const supervisors = useSupervisors();
const start = supervisors.start;

const MiB = 1024 * 1024;


const integrity = (dataDir: string): string => {
  const db = new Database(join(dataDir, 'registry.db'));
  try {
    return (db.query('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check;
  } finally {
    db.close();
  }
};

/** Resolves to the thrown error, or fails the test if the promise fulfils. */
const rejection = async (p: Promise<unknown>): Promise<unknown> => {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the request to fail');
};

/** The image is still in progress: json 400 "being uploaded", checksum 400 "not uploaded". */
async function expectNothingCommitted(s: Supervisor, id: string, json: string, layer: Uint8Array) {
  const call = client(s.url);
  const data = join(s.dir, 'data');
  let r = await call('GET', `/v1/images/${id}/json`);
  expect(r.status).toBe(400);
  expect(await r.json()).toEqual({ error: 'Image is being uploaded, retry later' });
  r = await call('GET', `/v1/images/${id}/layer`);
  expect(r.status).toBe(400);
  await r.arrayBuffer();
  r = await call('PUT', `/v1/images/${id}/checksum`, { headers: { 'x-docker-checksum-payload': payload(json, layer) } });
  expect(r.status).toBe(400);
  expect(await r.json()).toEqual({ error: 'Image layer not uploaded yet' });
  expect(existsSync(join(data, 'images', id))).toBe(false);
}

/** PUT json, layer, checksum again, then the layer reads back byte for byte. */
async function retryAndVerify(s: Supervisor, id: string, json: string, layer: Uint8Array) {
  const call = client(s.url);
  let r = await call('PUT', `/v1/images/${id}/json`, { body: json, headers: { 'content-type': 'application/json' } });
  expect(r.status).toBe(200);
  r = await call('PUT', `/v1/images/${id}/layer`, { body: layer });
  expect(r.status).toBe(200);
  r = await call('PUT', `/v1/images/${id}/checksum`, { headers: { 'x-docker-checksum-payload': payload(json, layer) } });
  expect(r.status).toBe(200);
  r = await call('GET', `/v1/images/${id}/layer`);
  expect(r.status).toBe(200);
  const back = new Uint8Array(await r.arrayBuffer());
  expect(back.byteLength).toBe(layer.byteLength);
  expect(Buffer.compare(back, layer)).toBe(0);
  expect(imageFiles(join(s.dir, 'data'), id)).toHaveLength(1);
}

describe('crash safety', () => {
  test('kill -9 of the worker mid-upload: no layer, database intact, temp purged, retry completes', async () => {
    const s = await start({ REGISTRY_WORKERS: '1', REGISTRY_UPLOAD_PURGE_AGE: '60', REGISTRY_UPLOAD_PURGE_INTERVAL: '1' });
    const data = join(s.dir, 'data');
    const call = client(s.url);
    const id = hex(64);
    const json = imageJson(id);
    const layer = randomBytes(12 * MiB);
    expect((await call('PUT', `/v1/images/${id}/json`, { body: json })).status).toBe(200);

    const body = stallingBody(layer, 6 * MiB);
    const upload = call('PUT', `/v1/images/${id}/layer`, { body: body.stream });
    // the server has streamed 6 MiB into its temp file and waits for more
    await waitFor('6 MiB in the temp file', () => tempFiles(data).some((f) => f.size === 6 * MiB));
    const [victim] = s.workers();
    process.kill(victim!, 'SIGKILL');
    body.release();
    expect(await rejection(upload)).toBeInstanceOf(Error);

    await waitFor('replacement worker', () => {
      const w = s.workers();
      return !alive(victim!) && w.length === 1 && w[0] !== victim && (s.log().match(/Booting worker/g)?.length ?? 0) >= 2;
    });
    expect(integrity(data)).toBe('ok');
    await expectNothingCommitted(s, id, json, layer);

    // the killed upload's temp file is left behind (6 MiB), fresh, so the boot purge kept it ...
    const left = tempFiles(data);
    expect(left).toEqual([{ name: expect.stringMatching(/\.part$/), size: 6 * MiB }]);
    expect(s.log()).not.toContain('Purged');
    // ... until it is older than upload_purge_age: the next periodic purge (every 1 s) removes it
    const old = new Date(Date.now() - 2 * 86_400_000);
    utimesSync(join(data, '.tmp', left[0]!.name), old, old);
    await waitFor('the periodic purge', () => tempFiles(data).length === 0, 5000);
    await waitFor('the purge logged', () => s.log().includes('Purged 1 abandoned uploads'), 2000);

    await retryAndVerify(s, id, json, layer);
    expect(integrity(data)).toBe('ok');
    expect(tempFiles(data)).toEqual([]);
  }, 30_000);

  test('client disconnect mid-upload: nothing committed, temp file deleted at once, retry completes', async () => {
    const s = await start({ REGISTRY_WORKERS: '1' });
    const data = join(s.dir, 'data');
    const call = client(s.url);
    const id = hex(64);
    const json = imageJson(id);
    const layer = randomBytes(12 * MiB);
    expect((await call('PUT', `/v1/images/${id}/json`, { body: json })).status).toBe(200);

    const body = stallingBody(layer, 4 * MiB);
    const abort = new AbortController();
    const upload = call('PUT', `/v1/images/${id}/layer`, { body: body.stream, signal: abort.signal });
    await waitFor('4 MiB in the temp file', () => tempFiles(data).some((f) => f.size === 4 * MiB));
    const worker = s.workers()[0];
    abort.abort();
    expect(await rejection(upload)).toHaveProperty('name', 'AbortError');

    const t0 = performance.now();
    await waitFor('the temp file deleted by the server', () => tempFiles(data).length === 0, 2000);
    const cleanedMs = performance.now() - t0;
    expect(cleanedMs).toBeLessThan(2000);
    console.info(`client disconnect: temp file (4 MiB) deleted ${cleanedMs.toFixed(0)} ms after the abort`);

    await expectNothingCommitted(s, id, json, layer);
    expect(s.workers()).toEqual([worker!]); // no crash involved
    await retryAndVerify(s, id, json, layer);
    expect(integrity(data)).toBe('ok');
    expect(tempFiles(data)).toEqual([]);
    expect(s.log()).not.toContain('Purged');
  }, 30_000);
});
