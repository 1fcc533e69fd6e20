/**
 * Concurrency with real processes (`bun src/main.ts`, 2 workers sharing the port and the SQLite
 * database): many clients pushing the same image at once end with one consistent image, and
 * concurrent tag updates never expose a torn, missing or malformed tag.
 */
import { Database } from 'bun:sqlite';
import { describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { type Supervisor, useSupervisors } from '../helpers/supervisor.ts';
import { client, expectImage, hex, imageFiles, type CallInit, imageJson, payload, pushImage, randomBytes, tempFiles } from '../helpers/v1-push.ts';

const supervisors = useSupervisors();
const start = supervisors.start;

const MiB = 1024 * 1024;


describe('concurrency', () => {
  test('16 concurrent pushes of one image end in one consistent image', async () => {
    const s = await start({ REGISTRY_WORKERS: '2' });

    // free-running: each client does PUT json, PUT layer, PUT checksum at its own pace
    const a = hex(64);
    const aJson = imageJson(a);
    const aLayer = randomBytes(2 * MiB);
    const free = await Promise.all(Array.from({ length: 16 }, () => pushImage(s.url, a, aJson, aLayer)));
    await expectOneImage(s, a, aJson, aLayer, free);

    // in lock step: all 16 json PUTs, then all 16 layers (each one replaces the recorded layer
    // of another, whose file must go), then all 16 checksums
    const b = hex(64);
    const bJson = imageJson(b);
    const bLayer = randomBytes(2 * MiB);
    const call = client(s.url);
    const step = (method: string, path: string, init: CallInit) =>
      Promise.all(Array.from({ length: 16 }, () => call(method, path, init).then(async (r) => (await r.arrayBuffer(), r.status))));
    const json = await step('PUT', `/v1/images/${b}/json`, { body: bJson });
    const layer = await step('PUT', `/v1/images/${b}/layer`, { body: bLayer });
    const sum = await step('PUT', `/v1/images/${b}/checksum`, { headers: { 'x-docker-checksum-payload': payload(bJson, bLayer) } });
    const lockstep = json.map((st, i) => [st, layer[i]!, sum[i]!]);
    await expectOneImage(s, b, bJson, bLayer, lockstep);
    expect(json.every((st) => st === 200)).toBe(true);
  }, 30_000);

  test('concurrent tag updates never tear: every read is one of the written ids', async () => {
    const s = await start({ REGISTRY_WORKERS: '2' });
    const call = client(s.url);
    const ids = Array.from({ length: 8 }, () => hex(64));
    for (const id of ids) expect(await pushImage(s.url, id, imageJson(id), randomBytes(1024))).toEqual([200, 200, 200]);
    const repo = `/v1/repositories/rel${hex(8)}/app`;
    expect((await call('PUT', `${repo}/tags/latest`, { body: JSON.stringify(ids[0]) })).status).toBe(200);

    const valid = new Set(ids);
    let writing = true;
    const reads = { tags: 0, tag: 0, json: 0 };
    const bad: string[] = [];
    const writer = async (id: string) => {
      for (let i = 0; i < 50; i++) {
        const r = await call('PUT', `${repo}/tags/latest`, { body: JSON.stringify(id) });
        const text = await r.text();
        if (r.status !== 200) bad.push(`PUT ${r.status} ${text}`);
      }
    };
    const reader = async () => {
      while (writing) {
        let r = await call('GET', `${repo}/tags`);
        let text = await r.text();
        const all = r.status === 200 ? (JSON.parse(text) as Record<string, unknown>) : null;
        if (!all || Object.keys(all).join() !== 'latest' || !valid.has(all.latest as string)) bad.push(`tags ${r.status} ${text}`);
        reads.tags++;
        r = await call('GET', `${repo}/tags/latest`);
        text = await r.text();
        if (r.status !== 200 || !valid.has(JSON.parse(text) as string)) bad.push(`tag ${r.status} ${text}`);
        reads.tag++;
        r = await call('GET', `${repo}/tags/latest/json`);
        text = await r.text();
        let meta: unknown = null;
        try {
          meta = JSON.parse(text);
        } catch {
          // reported below
        }
        if (r.status !== 200 || typeof meta !== 'object' || meta === null || !('arch' in meta)) bad.push(`json ${r.status} ${text}`);
        reads.json++;
      }
    };
    const readers = Array.from({ length: 4 }, reader);
    await Promise.all(ids.map(writer));
    writing = false;
    await Promise.all(readers);

    expect(bad).toEqual([]);
    expect(reads.tag).toBeGreaterThan(20);
    const r = await call('GET', `${repo}/tags/latest`);
    expect(r.status).toBe(200);
    expect(valid.has((await r.json()) as string)).toBe(true);
    console.info(`tag updates: 400 writes, ${reads.tags + reads.tag + reads.json} reads (${JSON.stringify(reads)})`);
  }, 30_000);
});

/**
 * Each client's answers are 200s or documented refusals; the image is complete, consistent in
 * the database and on disk (one layer file, no temp file), and reads back exactly.
 */
async function expectOneImage(s: Supervisor, id: string, json: string, layer: Uint8Array, results: number[][]) {
  const data = join(s.dir, 'data');
  // 409: already complete (json, layer or checksum); 400 at checksum: another client's PUT json
  // reset the layer after this client uploaded it
  const allowed = [/^200,200,200$/, /^409$/, /^200,409$/, /^200,200,(409|400)$/];
  for (const r of results) expect(allowed.some((re) => re.test(r.join(',')))).toBe(true);
  expect(results.flat().every((status) => status < 500)).toBe(true);
  const winners = results.filter((r) => r.join(',') === '200,200,200').length;
  expect(winners).toBe(1);

  await expectImage(s.url, id, json, layer);

  // exactly the recorded layer is on disk: every losing upload was deleted, no temp file left
  const files = imageFiles(data, id);
  expect(files).toHaveLength(1);
  expect(tempFiles(data)).toEqual([]);
  const db = new Database(join(data, 'registry.db'));
  try {
    const row = db.query('SELECT state, layer_key, layer_size FROM images WHERE id = ?').get(id) as Record<string, unknown>;
    expect(row).toEqual({ state: 'ready', layer_key: `images/${id}/${files[0]}`, layer_size: layer.byteLength });
    expect(db.query('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' });
  } finally {
    db.close();
  }
  console.info(`16 concurrent pushes: answers ${JSON.stringify(countBy(results))}`);
}

function countBy(results: number[][]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) out[r.join(',')] = (out[r.join(',')] ?? 0) + 1;
  return out;
}
