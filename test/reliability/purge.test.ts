/**
 * Purging abandoned temp uploads by age: at worker boot and every upload_purge_interval (real
 * processes), and never an upload that is still receiving data (the fs driver in process, where
 * the age can be far below the 60 s minimum of the setting).
 */
import { describe, expect, test } from 'bun:test';
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StorageError } from '../../src/storage/driver.ts';
import { FsDriver } from '../../src/storage/fs.ts';
import { useSupervisors, waitFor } from '../helpers/supervisor.ts';
import { client, hex, imageJson, payload, randomBytes, tempFiles } from '../helpers/v1-push.ts';
import { useTempDirs } from '../helpers/temp-dirs.ts';

const supervisors = useSupervisors();

const tempDir = useTempDirs('registry-purge-');
const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000);
/** Sum of N over every `Purged N abandoned uploads` line (each worker logs its own). */
const purgedInLog = (log: string) => [...log.matchAll(/Purged (\d+) abandoned uploads/g)].reduce((n, m) => n + Number(m[1]), 0);

describe('purge of abandoned uploads', () => {
  test('at startup: old temp files (and a stale directory) go, fresh ones stay, the log says so', async () => {
    const data = join(tempDir(), 'data');
    const tmp = join(data, '.tmp');
    mkdirSync(join(tmp, 'stale-dir'), { recursive: true });
    writeFileSync(join(tmp, 'old-1.part'), 'x'.repeat(1000));
    writeFileSync(join(tmp, 'old-2.part'), 'y');
    writeFileSync(join(tmp, 'fresh.part'), 'z');
    writeFileSync(join(tmp, 'almost.part'), 'a');
    for (const name of ['old-1.part', 'old-2.part', 'stale-dir']) utimesSync(join(tmp, name), daysAgo(2), daysAgo(2));
    // 23 h old: younger than the default age (24 h)
    const almost = new Date(Date.now() - 23 * 3_600_000);
    utimesSync(join(tmp, 'almost.part'), almost, almost);

    const s = await supervisors.start({ REGISTRY_WORKERS: '2', STORAGE_PATH: data });
    await waitFor('the old uploads purged', () => tempFiles(data).length === 2, 5000);
    await waitFor('the purge logged', () => purgedInLog(s.log()) === 3, 2000);
    expect(tempFiles(data).map((f) => f.name).sort()).toEqual(['almost.part', 'fresh.part']);
    // both workers purged at boot; each file was removed (and counted) exactly once
    await Bun.sleep(300);
    expect(purgedInLog(s.log())).toBe(3);
    expect(s.log()).not.toContain('Purge of abandoned uploads failed');
  }, 20_000);

  test('periodically: an upload that stalls is purged once older than the age; the service answers 503 on commit', async () => {
    const s = await supervisors.start({ REGISTRY_WORKERS: '1', REGISTRY_UPLOAD_PURGE_AGE: '60', REGISTRY_UPLOAD_PURGE_INTERVAL: '1' });
    const data = join(s.dir, 'data');
    const call = client(s.url);
    const id = hex(64);
    const json = imageJson(id);
    const layer = randomBytes(512 * 1024);
    expect((await call('PUT', `/v1/images/${id}/json`, { body: json })).status).toBe(200);
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        if (sent === layer.byteLength) return c.close();
        if (sent > 0) await released;
        c.enqueue(layer.slice(sent, sent + 256 * 1024));
        sent += 256 * 1024;
      },
    });
    // settled either way, so a failure below cannot leave an unhandled rejection behind
    const upload = call('PUT', `/v1/images/${id}/layer`, { body }).then(
      (r) => r,
      (e: unknown) => e as Error,
    );
    await waitFor('half the layer in the temp file', () => tempFiles(data).some((f) => f.size === 256 * 1024));
    const [part] = tempFiles(data);
    // the upload stalls "for two days": the next purge (within 1 s) takes its temp file
    utimesSync(join(data, '.tmp', part!.name), daysAgo(2), daysAgo(2));
    await waitFor('the stalled upload purged', () => tempFiles(data).length === 0, 3000);
    // the worker logs after removing the file; its stderr reaches us a moment later
    await waitFor('the purge logged', () => s.log().includes('Purged 1 abandoned uploads'), 3000);
    // the client wakes up and finishes: the commit finds its temp file gone and nothing lands
    release();
    const settled = await upload;
    if (settled instanceof Error) throw settled;
    let r = settled;
    expect(r.status).toBe(503);
    expect(existsSync(join(data, 'images', id))).toBe(false); // no empty directory left either
    r = await call('PUT', `/v1/images/${id}/checksum`, { headers: { 'x-docker-checksum-payload': payload(json, layer) } });
    expect(r.status).toBe(400);
  }, 20_000);
});

describe('FsDriver.purgeStaleUploads and live uploads', () => {
  test('an upload writing every 50 ms survives purges every 100 ms with a 1 s age, over 2.5 s', async () => {
    const d = new FsDriver(tempDir());
    const w = await d.writer('images/a/layer-1');
    let purged = 0;
    let purging = true;
    const purger = (async () => {
      while (purging) {
        purged += await d.purgeStaleUploads(1000);
        await Bun.sleep(100);
      }
    })();
    const chunks: Uint8Array[] = [];
    const started = performance.now();
    for (let i = 0; i < 50; i++) {
      const chunk = randomBytes(1024);
      chunks.push(chunk);
      await w.write(chunk);
      await Bun.sleep(50);
    }
    expect(performance.now() - started).toBeGreaterThan(2400); // far longer than the age
    await w.commit();
    purging = false;
    await purger;
    expect(purged).toBe(0);
    expect(Buffer.compare(await d.getContent('images/a/layer-1'), Buffer.concat(chunks))).toBe(0);
  });

  test('an upload idle for longer than the age is purged, and its commit then fails', async () => {
    const d = new FsDriver(tempDir());
    const live = await d.writer('images/b/layer-1');
    const idle = await d.writer('images/c/layer-1');
    await idle.write(new Uint8Array([1, 2, 3]));
    for (let i = 0; i < 8; i++) {
      await live.write(new Uint8Array([i]));
      await Bun.sleep(50);
    }
    // idle for ~400 ms, live wrote 50 ms ago
    expect(await d.purgeStaleUploads(250)).toBe(1);
    await live.commit();
    await idle.write(new Uint8Array([4]));
    await expect(idle.commit()).rejects.toBeInstanceOf(StorageError);
    expect(await d.list('images')).toEqual(['images/b']);
    expect(await d.getContent('images/b/layer-1')).toEqual(new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7]));
  });
});
