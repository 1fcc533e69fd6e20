/**
 * Purging abandoned V2 upload sessions (services/blobs.ts purgeStaleUploads, run by every worker
 * through `hotRoutesOf(app).purgeUploads` at boot and every `upload_purge_interval`):
 *  - in process, the app over fs storage: sessions started (POST, then PATCH chunks, or none) and
 *    left answer 404 BLOB_UPLOAD_UNKNOWN to GET/PATCH/PUT once purged and their chunk folders
 *    `uploads/<id>` are gone; a session still receiving chunks is kept and completes; a chunk
 *    folder no session owns is removed once older than the age, kept while younger;
 *  - over S3 (fauxqs): a session being completed (its row claimed, its chunks not yet placed)
 *    whose first chunk is older than the age but whose last one is fresh is not an orphan;
 *  - the real supervisor with REGISTRY_UPLOAD_PURGE_INTERVAL=1: the same through its periodic
 *    purge. `upload_purge_age` cannot go below 60 s (config/schema.ts), so the test ages the
 *    abandoned sessions instead: their `updated_at` in the SQLite database and the mtime of their
 *    folders and chunks are moved two days back, as if the clients had left two days ago.
 */
import { Database } from 'bun:sqlite';
import { describe, expect, test } from 'bun:test';
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hotRoutesOf } from '../../src/app/app.ts';
import { FsDriver } from '../../src/storage/fs.ts';
import { S3Driver } from '../../src/storage/s3/driver.ts';
import { startFauxqs } from '../../dev/s3.ts';
import { makeApp } from '../helpers/app.ts';
import { useSupervisors, waitFor } from '../helpers/supervisor.ts';
import { hex, randomBytes } from '../helpers/v1-push.ts';
import { expectV2Error, sha256 } from '../helpers/v2.ts';
import { useTempDirs } from '../helpers/temp-dirs.ts';

const supervisors = useSupervisors();

const tempDir = useTempDirs('registry-v2-purge-');
const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000);

type Call = (method: string, path: string, init?: { body?: Uint8Array; headers?: Record<string, string> }) => Promise<Response>;

const NAME = 'team/purge';

/** POST: a new session of NAME; its id. */
async function start(call: Call): Promise<string> {
  const r = await call('POST', `/v2/${NAME}/blobs/uploads/`);
  expect(r.status).toBe(202);
  await r.arrayBuffer();
  const id = r.headers.get('docker-upload-uuid')!;
  expect(id).toMatch(/^[0-9a-f]{32}$/);
  return id;
}

/** PATCH one chunk at `offset`. */
async function patch(call: Call, id: string, offset: number, chunk: Uint8Array): Promise<void> {
  const r = await call('PATCH', `/v2/${NAME}/blobs/uploads/${id}`, {
    body: chunk,
    headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + chunk.byteLength - 1}` },
  });
  expect(r.status).toBe(202);
  await r.arrayBuffer();
}

/** The session is gone: status, another chunk and completion all answer BLOB_UPLOAD_UNKNOWN. */
async function expectGone(call: Call, id: string): Promise<void> {
  await expectV2Error(await call('GET', `/v2/${NAME}/blobs/uploads/${id}`), 404, 'BLOB_UPLOAD_UNKNOWN');
  await expectV2Error(
    await call('PATCH', `/v2/${NAME}/blobs/uploads/${id}`, { body: new Uint8Array([1]), headers: { 'content-type': 'application/octet-stream' } }),
    404,
    'BLOB_UPLOAD_UNKNOWN',
  );
  await expectV2Error(await call('PUT', `/v2/${NAME}/blobs/uploads/${id}?digest=${sha256('x')}`, { body: new Uint8Array(0) }), 404, 'BLOB_UPLOAD_UNKNOWN');
}

/** The kept session still stands at `bytes`, and completes into a blob of exactly those bytes. */
async function expectCompletes(call: Call, id: string, bytes: Uint8Array): Promise<void> {
  let r = await call('GET', `/v2/${NAME}/blobs/uploads/${id}`);
  expect(r.status).toBe(204);
  expect(r.headers.get('range')).toBe(`0-${bytes.byteLength - 1}`);
  const digest = sha256(bytes);
  r = await call('PUT', `/v2/${NAME}/blobs/uploads/${id}?digest=${digest}`, { body: new Uint8Array(0) });
  expect(r.status).toBe(201);
  r = await call('GET', `/v2/${NAME}/blobs/${digest}`);
  expect(r.status).toBe(200);
  expect(Buffer.from(await r.arrayBuffer()).equals(Buffer.from(bytes))).toBe(true);
}

/** A chunk folder no session row owns, as a process that died mid-PATCH leaves it. */
function orphanFolder(root: string): string {
  const id = hex(32);
  mkdirSync(join(root, 'uploads', id), { recursive: true });
  writeFileSync(join(root, 'uploads', id, '0'), randomBytes(1000));
  return id;
}

const uploadFolders = (root: string): string[] => (existsSync(join(root, 'uploads')) ? readdirSync(join(root, 'uploads')).sort() : []);

describe('V2 upload purge in process (hotRoutesOf(app).purgeUploads over fs storage)', () => {
  test('abandoned sessions and old orphan folders go; an active session and a young orphan stay', async () => {
    const root = tempDir();
    const app = makeApp({}, new FsDriver(root));
    try {
      const call: Call = (method, path, init) => app.req(method, path, init);
      const purge = hotRoutesOf(app.app).purgeUploads;
      // three left behind: two chunks, one chunk, none (a POST and nothing else)
      const twoChunks = await start(call);
      await patch(call, twoChunks, 0, randomBytes(3000));
      await patch(call, twoChunks, 3000, randomBytes(5000));
      const oneChunk = await start(call);
      await patch(call, oneChunk, 0, randomBytes(4096));
      const empty = await start(call);
      // one still being uploaded: a chunk now, another after the others are stale
      const active = await start(call);
      const first = randomBytes(2000);
      await patch(call, active, 0, first);
      const oldOrphan = orphanFolder(root);
      // on disk a session's one data object exists from its POST on (storage.canContinue)
      expect(uploadFolders(root)).toEqual([twoChunks, oneChunk, empty, active, oldOrphan].sort());

      // ages far apart (2.5 s against less than one), so a slow machine cannot blur them
      await Bun.sleep(2500);
      const second = randomBytes(3000);
      await patch(call, active, first.byteLength, second);
      const youngOrphan = orphanFolder(root);
      // nothing is old enough for a 60 s age
      expect(await purge(60_000)).toBe(0);
      expect(uploadFolders(root)).toHaveLength(6);

      // 3 sessions + 1 orphan folder
      expect(await purge(2000)).toBe(4);
      for (const id of [twoChunks, oneChunk, empty]) await expectGone(call, id);
      expect(uploadFolders(root)).toEqual([active, youngOrphan].sort());
      // nothing left for a second run
      expect(await purge(2000)).toBe(0);
      await expectCompletes(call, active, Buffer.concat([first, second]));
      // completed: its folder went with its row; the young orphan is kept until it is old
      expect(uploadFolders(root)).toEqual([youngOrphan]);
      await Bun.sleep(2500);
      expect(await purge(2000)).toBe(1);
      expect(uploadFolders(root)).toEqual([]);
    } finally {
      app.close();
    }
  }, 30_000);
});

describe('V2 upload purge by the real supervisor (REGISTRY_UPLOAD_PURGE_INTERVAL=1)', () => {
  test('sessions left two days ago and an old orphan folder are purged within seconds; an active session is kept', async () => {
    const s = await supervisors.start({ STORAGE: 'fs', REGISTRY_WORKERS: '2', REGISTRY_UPLOAD_PURGE_AGE: '60', REGISTRY_UPLOAD_PURGE_INTERVAL: '1' });
    const root = join(s.dir, 'data');
    const call: Call = (method, path, init) => fetch(`${s.url}${path}`, { method, body: init?.body, headers: init?.headers });
    const left = [await start(call), await start(call), await start(call)];
    await patch(call, left[0]!, 0, randomBytes(64 * 1024));
    await patch(call, left[0]!, 64 * 1024, randomBytes(10_000));
    await patch(call, left[1]!, 0, randomBytes(1234));
    // left[2]: POST only (on disk its empty data object goes with its row)
    const active = await start(call);
    const bytes = randomBytes(70_000);
    await patch(call, active, 0, bytes.subarray(0, 30_000));
    const orphan = orphanFolder(root);
    const youngOrphan = orphanFolder(root);

    // the clients left two days ago: the rows' updated_at and the folders' mtime say so
    const db = new Database(join(root, 'registry.db'));
    try {
      db.exec('PRAGMA busy_timeout = 5000');
      const then = daysAgo(2).getTime();
      const aged = db.prepare('UPDATE upload_sessions SET updated_at = ?, created_at = ? WHERE id IN (?, ?, ?)').run(then, then, ...(left as [string, string, string]));
      expect(aged.changes).toBe(3);
    } finally {
      db.close();
    }
    for (const id of [left[0]!, left[1]!, orphan]) {
      const folder = join(root, 'uploads', id);
      for (const chunk of readdirSync(folder)) utimesSync(join(folder, chunk), daysAgo(2), daysAgo(2));
      utimesSync(folder, daysAgo(2), daysAgo(2));
    }

    await waitFor('the abandoned uploads purged', () => uploadFolders(root).join() === [active, youngOrphan].sort().join(), 5000);
    for (const id of left) await expectGone(call, id);
    await waitFor('the purge logged', () => [...s.log().matchAll(/Purged (\d+) abandoned uploads/g)].length > 0, 3000);
    expect(s.log()).not.toContain('Purge of abandoned uploads failed');
    // the active session carries on through any worker and completes
    await patch(call, active, 30_000, bytes.subarray(30_000));
    await expectCompletes(call, active, bytes);
    // a few more purges pass: the young orphan (minutes from its age) stays
    await Bun.sleep(1500);
    expect(uploadFolders(root)).toEqual([youngOrphan]);
  }, 60_000);
});

describe('V2 upload purge over S3 (fauxqs)', () => {
  test('a session being completed is not an orphan while its newest chunk is younger than the age', async () => {
    const server = await startFauxqs();
    try {
      const storage = new S3Driver(server.driverOptions());
      const app = makeApp({}, storage);
      try {
        const call: Call = (method, path, init) => app.req(method, path, init);
        const purge = hotRoutesOf(app.app).purgeUploads;
        const id = await start(call);
        const first = randomBytes(1000);
        await patch(call, id, 0, first);
        await Bun.sleep(3500);
        const second = randomBytes(2000);
        await patch(call, id, first.byteLength, second);
        // the PUT that completes it has claimed the session (its row is gone) and is reading the
        // chunks: a purge on another worker meanwhile must leave them
        expect(await app.meta.deleteUpload(id)).toBe(true);
        expect(await purge(2500)).toBe(0);
        // each PATCH's object has a name of its own: `<n>-<16 hex digits>`
        expect(await storage.list(`uploads/${id}`)).toEqual([expect.stringMatching(new RegExp(`^uploads/${id}/0-[0-9a-f]{16}$`)), expect.stringMatching(new RegExp(`^uploads/${id}/1-[0-9a-f]{16}$`))]);
        // left for longer than the age after its last chunk: an orphan, removed
        await Bun.sleep(3000);
        expect(await purge(2500)).toBe(1);
        expect(await storage.list('uploads').catch(() => [])).toEqual([]);
      } finally {
        app.close();
      }
    } finally {
      await server.stop();
    }
  }, 30_000);
});
