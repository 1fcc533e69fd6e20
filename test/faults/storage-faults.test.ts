/**
 * Storage faults (issue 5 point 7): a fault-injecting driver (test/helpers/faulty-driver.ts) under
 * the real app. For each fault during PUT layer, GET layer, GET files, PUT checksum (tarsum path)
 * and GET diff: the reply is a V1 error (503 `Storage unavailable, retry later` for the server's
 * own storage failing, never a 500), nothing partial is committed (the image stays in progress, no
 * layer key is recorded, no object is visible in the underlying driver, no temp file is left), the
 * registry keeps serving other requests during the fault, and once the fault is cleared the same
 * client retries and completes. Runs over the memory driver and the fs driver.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tarsum } from '../../src/checksum/tarsum.ts';
import { catalogue } from '../../src/errors.ts';
import type { StorageDriver } from '../../src/storage/driver.ts';
import { FsDriver } from '../../src/storage/fs.ts';
import { MemoryDriver } from '../../src/storage/memory.ts';
import { makeApp, sha256Payload, type TestApp } from '../helpers/app.ts';
import { FaultyDriver, type Fault } from '../helpers/faulty-driver.ts';
import { expectError, newId, putJson, upload } from '../helpers/layers.ts';
import { buildTar } from '../helpers/tar.ts';

const STORAGE_503 = catalogue.STORAGE_FAILURE.message;

const tempRoots: string[] = [];
afterAll(() => {
  for (const d of tempRoots) rmSync(d, { recursive: true, force: true });
});

interface Backend {
  name: string;
  make(): { inner: StorageDriver; files: () => string[] };
}

/** Every file under `dir`, relative, recursively (temp files included). */
function walk(dir: string, base = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, base), { withFileTypes: true })) {
    const rel = base ? `${base}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...walk(dir, rel));
    else out.push(rel);
  }
  return out.sort();
}

/** Every object key in a driver, by listing recursively. */
async function allKeys(d: StorageDriver, prefix = ''): Promise<string[]> {
  let children: string[];
  try {
    children = await d.list(prefix);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const c of children) {
    const st = await d.stat(c);
    if (st.isDir) out.push(...(await allKeys(d, c)));
    else out.push(c);
  }
  return out.sort();
}

const backends: Backend[] = [
  {
    name: 'memory',
    make: () => ({ inner: new MemoryDriver(), files: () => [] }),
  },
  {
    name: 'fs',
    make: () => {
      const root = mkdtempSync(join(tmpdir(), 'registry-faults-'));
      tempRoots.push(root);
      return { inner: new FsDriver(root), files: () => walk(root) };
    },
  },
];

interface Rig {
  app: TestApp;
  faulty: FaultyDriver;
  inner: StorageDriver;
  /** files on disk (fs backend), temp files included; [] for memory */
  files: () => string[];
}

function rig(backend: Backend): Rig {
  const { inner, files } = backend.make();
  const faulty = new FaultyDriver(inner);
  return { app: makeApp({}, faulty), faulty, inner, files };
}

const LAYER = new Uint8Array(256 * 1024).map((_, i) => (i * 7) % 251);

/** The registry keeps serving while the fault is armed: ping, tags, a json PUT, a 404. */
async function stillServing(app: TestApp): Promise<void> {
  expect((await app.req('GET', '/_ping')).status).toBe(200);
  expect((await app.req('GET', '/v1/_ping')).status).toBe(200);
  const other = newId();
  await putJson(app, other);
  const t = await app.req('PUT', '/v1/repositories/faults/alive/tags/latest', { json: other });
  expect(t.status).toBe(200);
  const tags = await app.req('GET', '/v1/repositories/faults/alive/tags');
  expect(tags.status).toBe(200);
  expect(await tags.json()).toEqual({ latest: other });
  expect((await app.req('GET', `/v1/images/${newId()}/json`)).status).toBe(404);
}

/** An in-progress image: no layer recorded, GETs say "uploading", checksum says "not uploaded". */
async function expectNothingCommitted(r: Rig, id: string): Promise<void> {
  const row = await r.app.meta.getImage(id);
  expect(row?.state).toBe('uploading');
  expect(row?.layerKey ?? null).toBeNull();
  expect(row?.layerSize ?? null).toBeNull();
  expect((await allKeys(r.inner)).filter((k) => k.startsWith(`images/${id}/`))).toEqual([]);
  expect(r.files().filter((f) => f.includes(id) || f.startsWith('.tmp/'))).toEqual([]);
  await expectError(await r.app.req('GET', `/v1/images/${id}/layer`), 400, catalogue.IMAGE_UPLOADING.message);
  await expectError(
    await r.app.req('PUT', `/v1/images/${id}/checksum`, { headers: { 'X-Docker-Checksum-Payload': 'sha256:00' } }),
    400,
    catalogue.LAYER_NOT_UPLOADED.message,
  );
}

/** After the fault is cleared the same client finishes the push and pulls it back intact. */
async function retryCompletes(r: Rig, id: string, json: string): Promise<void> {
  r.faulty.clear();
  const put = await r.app.req('PUT', `/v1/images/${id}/layer`, { body: LAYER });
  expect(put.status).toBe(200);
  const sum = await r.app.req('PUT', `/v1/images/${id}/checksum`, {
    headers: { 'X-Docker-Checksum-Payload': sha256Payload(json, LAYER) },
  });
  expect(sum.status).toBe(200);
  const get = await r.app.req('GET', `/v1/images/${id}/layer`);
  expect(get.status).toBe(200);
  expect(new Uint8Array(await get.arrayBuffer())).toEqual(LAYER);
  expect((await allKeys(r.inner)).filter((k) => k.startsWith(`images/${id}/`))).toHaveLength(1);
  expect(r.files().filter((f) => f.startsWith('.tmp/'))).toEqual([]);
}

/** Fault outcomes collected for the closing note. */
const outcomes: string[] = [];
afterAll(() => {
  console.log(`storage faults: ${outcomes.length} cases\n  ${outcomes.join('\n  ')}`);
});

const putLayerFaults: [string, Fault][] = [
  ['write fails after 64 KiB (EIO)', { op: 'write', errno: 'EIO', afterBytes: 64 * 1024 }],
  ['write fails at once (ENOSPC, disk full)', { op: 'write', errno: 'ENOSPC', afterBytes: 0 }],
  ['commit fails (ENOSPC, disk full at fsync/rename)', { op: 'commit', errno: 'ENOSPC' }],
  ['opening the writer fails (EACCES)', { op: 'writer', errno: 'EACCES' }],
];

for (const backend of backends) {
  describe(`storage faults over the ${backend.name} driver`, () => {
    for (const [what, fault] of putLayerFaults) {
      test(`PUT layer: ${what} → 503, nothing committed, retry completes`, async () => {
        const r = rig(backend);
        const id = newId();
        const json = await putJson(r.app, id);
        r.faulty.inject(fault);
        const res = await r.app.req('PUT', `/v1/images/${id}/layer`, { body: LAYER });
        await expectError(res, 503, STORAGE_503);
        expect(r.faulty.fired[fault.op]).toBe(1);
        await expectNothingCommitted(r, id);
        await stillServing(r.app);
        await retryCompletes(r, id, json);
        outcomes.push(`${backend.name} PUT layer, ${what}: 503 ${STORAGE_503}; in progress, no key; retry 200`);
        r.app.close();
      });
    }

    test('PUT layer re-upload: a failing second upload keeps the first one recorded', async () => {
      const r = rig(backend);
      const id = newId();
      const json = await putJson(r.app, id);
      const first = new Uint8Array([1, 2, 3, 4]);
      expect((await r.app.req('PUT', `/v1/images/${id}/layer`, { body: first })).status).toBe(200);
      const before = await r.app.meta.getImage(id);
      r.faulty.inject({ op: 'write', errno: 'ENOSPC', afterBytes: 1024 });
      await expectError(await r.app.req('PUT', `/v1/images/${id}/layer`, { body: LAYER }), 503, STORAGE_503);
      const after = await r.app.meta.getImage(id);
      expect(after?.layerKey).toBe(before!.layerKey);
      expect(after?.layerSize).toBe(4);
      expect(await allKeys(r.inner)).toEqual([before!.layerKey!]);
      expect(r.files().filter((f) => f.startsWith('.tmp/'))).toEqual([]);
      r.faulty.clear();
      const sum = await r.app.req('PUT', `/v1/images/${id}/checksum`, { headers: { 'X-Docker-Checksum-Payload': sha256Payload(json, first) } });
      expect(sum.status).toBe(200);
      outcomes.push(`${backend.name} PUT layer re-upload, ENOSPC: 503; first upload still recorded and completable`);
      r.app.close();
    });

    test('PUT layer: deleting the superseded upload fails → still 200, new layer recorded', async () => {
      const r = rig(backend);
      const id = newId();
      const json = await putJson(r.app, id);
      expect((await r.app.req('PUT', `/v1/images/${id}/layer`, { body: 'old' })).status).toBe(200);
      r.faulty.inject({ op: 'delete', errno: 'EIO' });
      expect((await r.app.req('PUT', `/v1/images/${id}/layer`, { body: LAYER })).status).toBe(200);
      r.faulty.clear();
      const sum = await r.app.req('PUT', `/v1/images/${id}/checksum`, { headers: { 'X-Docker-Checksum-Payload': sha256Payload(json, LAYER) } });
      expect(sum.status).toBe(200);
      const get = await r.app.req('GET', `/v1/images/${id}/layer`);
      expect(new Uint8Array(await get.arrayBuffer())).toEqual(LAYER);
      outcomes.push(`${backend.name} PUT layer, delete of superseded upload fails (EIO): 200 (garbage left, logged-free)`);
      r.app.close();
    });

    test('GET layer: blob fails (EIO) → 503, then 200 once cleared', async () => {
      const r = rig(backend);
      const id = newId();
      await upload(r.app, id, null, LAYER);
      r.faulty.inject({ op: 'blob', errno: 'EIO' });
      await expectError(await r.app.req('GET', `/v1/images/${id}/layer`), 503, STORAGE_503);
      const head = await r.app.req('HEAD', `/v1/images/${id}/layer`);
      expect(head.status).toBe(503);
      await stillServing(r.app);
      // metadata needs no storage: json and ancestry still answer
      expect((await r.app.req('GET', `/v1/images/${id}/json`)).status).toBe(200);
      expect((await r.app.req('GET', `/v1/images/${id}/ancestry`)).status).toBe(200);
      r.faulty.clear();
      const get = await r.app.req('GET', `/v1/images/${id}/layer`);
      expect(get.status).toBe(200);
      expect(new Uint8Array(await get.arrayBuffer())).toEqual(LAYER);
      outcomes.push(`${backend.name} GET layer, blob EIO: 503; json/ancestry 200 meanwhile; 200 after`);
      r.app.close();
    });

    const tar = () => buildTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/hosts', body: 'x'.repeat(5000) }]);

    for (const [what, fault] of [
      ['read fails (EIO)', { op: 'read', errno: 'EIO' }],
      ['read stream breaks after 600 bytes (EIO)', { op: 'read', errno: 'EIO', midStream: true, afterBytes: 600 }],
    ] as [string, Fault][]) {
      test(`GET files: ${what} → 503, nothing cached, 200 once cleared`, async () => {
        const r = rig(backend);
        const id = newId();
        await upload(r.app, id, null, await tar());
        r.faulty.inject(fault);
        await expectError(await r.app.req('GET', `/v1/images/${id}/files`), 503, STORAGE_503);
        expect(await r.app.meta.getImageCache(id, 'files')).toBeNull();
        await stillServing(r.app);
        r.faulty.clear();
        const res = await r.app.req('GET', `/v1/images/${id}/files`);
        expect(res.status).toBe(200);
        const rows = (await res.json()) as unknown[][];
        expect(rows.map((row) => row[0])).toEqual(['/etc', '/etc/hosts']);
        outcomes.push(`${backend.name} GET files, ${what}: 503; no cache written; 200 after`);
        r.app.close();
      });

      test(`GET diff: ${what} → 503, nothing cached, 200 once cleared`, async () => {
        const r = rig(backend);
        const parent = newId();
        const child = newId();
        await upload(r.app, parent, null, await tar());
        await upload(r.app, child, parent, await buildTar([{ name: 'etc/hosts', body: 'y' }]));
        r.faulty.inject(fault);
        await expectError(await r.app.req('GET', `/v1/images/${child}/diff`), 503, STORAGE_503);
        expect(await r.app.meta.getImageCache(child, 'diff')).toBeNull();
        r.faulty.clear();
        const res = await r.app.req('GET', `/v1/images/${child}/diff`);
        expect(res.status).toBe(200);
        outcomes.push(`${backend.name} GET diff, ${what}: 503; no cache written; 200 after`);
        r.app.close();
      });

      test(`PUT checksum (tarsum): ${what} → 503, image stays in progress, retry completes`, async () => {
        const r = rig(backend);
        const id = newId();
        const layer = await tar();
        await putJson(r.app, id);
        expect((await r.app.req('PUT', `/v1/images/${id}/layer`, { body: layer })).status).toBe(200);
        // the tarsum a client would send, computed over the same json and layer
        const sum = await tarsum((await r.app.meta.getImage(id))!.json, new Blob([layer]).stream());
        r.faulty.inject(fault);
        const res = await r.app.req('PUT', `/v1/images/${id}/checksum`, { headers: { 'X-Docker-Checksum': sum } });
        await expectError(res, 503, STORAGE_503);
        expect((await r.app.meta.getImage(id))?.state).toBe('uploading');
        await expectError(await r.app.req('GET', `/v1/images/${id}/json`), 400, catalogue.IMAGE_UPLOADING.message);
        await stillServing(r.app);
        r.faulty.clear();
        expect((await r.app.req('PUT', `/v1/images/${id}/checksum`, { headers: { 'X-Docker-Checksum': sum } })).status).toBe(200);
        expect((await r.app.req('GET', `/v1/images/${id}/json`)).status).toBe(200);
        outcomes.push(`${backend.name} PUT checksum tarsum, ${what}: 503; stays in progress; retry 200`);
        r.app.close();
      });
    }
  });
}
