/**
 * Races between requests on one V2 upload session, made deterministic: request bodies are gated
 * ReadableStreams, and spies on driver methods run the other request at the exact step. Whatever
 * the interleaving, no blob is published whose bytes are not its digest's, a PATCH that lost the
 * race cannot destroy or replace the chunk of the one that won, and the answers are 4xx, not 5xx.
 * The S3 cases run against fauxqs (on S3 each PATCH is an object of its own).
 */
import { describe, expect, spyOn, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hotRoutesOf } from '../../../src/app/app.ts';
import type { StorageDriver } from '../../../src/storage/driver.ts';
import { FsDriver } from '../../../src/storage/fs.ts';
import { randomBytes } from '../../../dev/ids.ts';
import { makeApp, type TestApp } from '../../helpers/app.ts';
import { s3AppsPerFile } from '../../helpers/s3-app.ts';
import { expectV2Error, sha256 } from '../../helpers/v2.ts';

const NAME = 'acme/races';

async function start(app: TestApp): Promise<string> {
  const r = await app.req('POST', `/v2/${NAME}/blobs/uploads/`);
  expect(r.status).toBe(202);
  return r.headers.get('location')!;
}

const patch = (app: TestApp, location: string, body: Uint8Array | ReadableStream<Uint8Array>, start: number, length: number) =>
  app.req('PATCH', location, { body: body instanceof Uint8Array ? body.slice() : body, headers: { 'content-range': `${start}-${start + length - 1}`, 'content-type': 'application/octet-stream' } });

/** A body that sends `first`, then waits for `release()` before sending `rest` and ending. */
function gatedBody(first: Uint8Array, rest: Uint8Array = new Uint8Array(0)) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(first.slice());
      await gate;
      if (rest.byteLength > 0) controller.enqueue(rest.slice());
      controller.close();
    },
  });
  return { stream, release };
}

const concat = (...parts: Uint8Array[]): Uint8Array<ArrayBuffer> => new Uint8Array(Buffer.concat(parts));

/** The blob under `digest` is exactly `bytes`, or it is not there at all. */
async function expectBlobIsItsDigest(app: TestApp, digest: string): Promise<void> {
  const r = await app.req('GET', `/v2/${NAME}/blobs/${digest}`);
  if (r.status === 404) return;
  expect(r.status).toBe(200);
  expect(sha256(new Uint8Array(await r.arrayBuffer()))).toBe(digest);
}

const s3App = s3AppsPerFile();

describe('V2 upload races on S3 (fauxqs)', () => {
  test('two PATCHes from one session snapshot: the loser neither replaces nor deletes the winner\'s chunk', async () => {
    const { app, storage } = await s3App();
    try {
      const location = await start(app);
      const a = randomBytes(20_000);
      const b = randomBytes(20_000);
      // A's body is held back; B, sent meanwhile from the same snapshot (offset 0, no chunk), wins
      const slow = gatedBody(a.subarray(0, 10_000), a.subarray(10_000));
      const first = patch(app, location, slow.stream, 0, a.byteLength);
      await Bun.sleep(50);
      expect((await patch(app, location, b, 0, b.byteLength)).status).toBe(202);
      // when the loser cleans up after its refused chunk, the client completes with the winner's digest
      const realDelete = storage.delete.bind(storage);
      let put: Response | null = null;
      const del = spyOn(storage, 'delete').mockImplementation(async (key) => {
        if (put === null && !key.endsWith(location.split('/').pop()!)) put = await app.req('PUT', `${location}?digest=${sha256(b)}`);
        return realDelete(key);
      });
      slow.release();
      const loser = await first;
      del.mockRestore();
      await expectV2Error(loser, loser.status === 404 ? 404 : 416, loser.status === 404 ? 'BLOB_UPLOAD_UNKNOWN' : 'BLOB_UPLOAD_INVALID');
      if (put === null) put = await app.req('PUT', `${location}?digest=${sha256(b)}`);
      // the winner's chunk is the session's: the PUT publishes exactly it
      expect(put!.status).toBe(201);
      const r = await app.req('GET', `/v2/${NAME}/blobs/${sha256(b)}`);
      expect(new Uint8Array(await r.arrayBuffer())).toEqual(b);
      expect(await storage.list('uploads').catch(() => [])).toEqual([]);
    } finally {
      app.close();
    }
  }, 30_000);

  test('two PATCHes at once in one process do not share the session\'s running hash', async () => {
    const { app } = await s3App();
    try {
      const location = await start(app);
      const head = randomBytes(10_000);
      expect((await patch(app, location, head, 0, head.byteLength)).status).toBe(202);
      const a = randomBytes(10_000);
      const b = randomBytes(10_000);
      // A has hashed its bytes and waits; B (same offset) is received whole and recorded
      const slow = gatedBody(a);
      const first = patch(app, location, slow.stream, head.byteLength, a.byteLength);
      await Bun.sleep(50);
      expect((await patch(app, location, b, head.byteLength, b.byteLength)).status).toBe(202);
      // the session holds head + b; a client claiming head + a + b must not get that digest published
      const forged = sha256(concat(head, a, b));
      const put = await app.req('PUT', `${location}?digest=${forged}`);
      slow.release();
      expect((await first).status).toBeGreaterThanOrEqual(400);
      expect(put.status).toBeLessThan(500);
      expect(put.status).not.toBe(201);
      await expectBlobIsItsDigest(app, forged);
    } finally {
      app.close();
    }
  }, 30_000);

  test('the winner of two same-offset PATCHes in one process completes with its own digest', async () => {
    const { app } = await s3App();
    try {
      const location = await start(app);
      const head = randomBytes(10_000);
      expect((await patch(app, location, head, 0, head.byteLength)).status).toBe(202);
      const a = randomBytes(10_000);
      const b = randomBytes(10_000);
      const slow = gatedBody(a);
      const first = patch(app, location, slow.stream, head.byteLength, a.byteLength);
      await Bun.sleep(50);
      expect((await patch(app, location, b, head.byteLength, b.byteLength)).status).toBe(202);
      slow.release();
      expect((await first).status).toBeGreaterThanOrEqual(400);
      const digest = sha256(concat(head, b));
      expect((await app.req('PUT', `${location}?digest=${digest}`)).status).toBe(201);
      const r = await app.req('GET', `/v2/${NAME}/blobs/${digest}`);
      expect(new Uint8Array(await r.arrayBuffer())).toEqual(concat(head, b));
    } finally {
      app.close();
    }
  }, 30_000);

  test('a session from before chunk names (objects `0`, `1`, …) continues and completes', async () => {
    const { app, storage } = await s3App();
    try {
      const location = await start(app);
      const id = location.split('/').pop()!;
      const old = [randomBytes(3000), randomBytes(4000)];
      // as the previous release left it: chunk objects named by their number, no names recorded
      await storage.putContent(`uploads/${id}/0`, old[0]!);
      await storage.putContent(`uploads/${id}/1`, old[1]!);
      await app.meta.appendUpload(id, { offset: 0, chunks: 0 }, 3000);
      await app.meta.appendUpload(id, { offset: 3000, chunks: 1 }, 4000);
      const last = randomBytes(5000);
      expect((await patch(app, location, last, 7000, last.byteLength)).status).toBe(202);
      const bytes = concat(old[0]!, old[1]!, last);
      expect((await app.req('PUT', `${location}?digest=${sha256(bytes)}`)).status).toBe(201);
      const r = await app.req('GET', `/v2/${NAME}/blobs/${sha256(bytes)}`);
      expect(new Uint8Array(await r.arrayBuffer())).toEqual(bytes);
      expect(await storage.list('uploads').catch(() => [])).toEqual([]);
    } finally {
      app.close();
    }
  }, 30_000);
});

/** The app over the fs driver in a fresh directory, removed after `fn`. */
async function withFsApp(fn: (app: TestApp, storage: FsDriver) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'v2-races-'));
  const storage = new FsDriver(dir);
  const app = makeApp({}, storage);
  try {
    await fn(app, storage);
  } finally {
    app.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('V2 upload races on disk (one object every PATCH continues)', () => {
  test.each([0, 10_000])('a PATCH that read the session (at %d bytes) before another PATCH was recorded cannot overwrite that PATCH\'s bytes', async (at) => {
    await withFsApp(async (app, storage) => {
      const location = await start(app);
      const head = randomBytes(at);
      if (at > 0) expect((await patch(app, location, head, 0, head.byteLength)).status).toBe(202);
      const a = randomBytes(10_000);
      const b = randomBytes(10_000);
      // A has read the session (offset 10 000); before it takes the object, B (same offset) is received and recorded
      const realWriterAt = storage.writerAt.bind(storage);
      let bStatus = 0;
      const writerAt = spyOn(storage, 'writerAt').mockImplementation(async (key, offset) => {
        if (bStatus === 0) {
          bStatus = -1;
          bStatus = (await patch(app, location, b, head.byteLength, b.byteLength)).status;
        }
        return realWriterAt(key, offset);
      });
      const stale = await patch(app, location, a, head.byteLength, a.byteLength);
      writerAt.mockRestore();
      expect(bStatus).toBe(202);
      await expectV2Error(stale, 416, 'BLOB_UPLOAD_INVALID');
      // the session is head + b: completing it publishes exactly those bytes
      const digest = sha256(concat(head, b));
      expect((await app.req('PUT', `${location}?digest=${digest}`)).status).toBe(201);
      const r = await app.req('GET', `/v2/${NAME}/blobs/${digest}`);
      expect(new Uint8Array(await r.arrayBuffer())).toEqual(concat(head, b));
    });
  }, 30_000);
});

describe('V2 upload purge racing a PATCH (fs)', () => {
  test('a session a PATCH moved on after the purge listed it as idle is kept, and completes', async () => {
    await withFsApp(async (app) => {
      const location = await start(app);
      const head = randomBytes(5000);
      expect((await patch(app, location, head, 0, head.byteLength)).status).toBe(202);
      await Bun.sleep(20);
      // the purge (age: 10 ms) lists the session as idle; a PATCH lands before it deletes the row
      const tail = randomBytes(5000);
      const realStale = app.meta.staleUploads.bind(app.meta);
      let patched = 0;
      const stale = spyOn(app.meta, 'staleUploads').mockImplementation(async (before, limit) => {
        const found = await realStale(before, limit);
        await Bun.sleep(5);
        patched = (await patch(app, location, tail, head.byteLength, tail.byteLength)).status;
        return found;
      });
      await hotRoutesOf(app.app).purgeUploads(10);
      stale.mockRestore();
      expect(patched).toBe(202);
      // the client was told its chunk is in: the session must still complete
      const digest = sha256(concat(head, tail));
      expect((await app.req('PUT', `${location}?digest=${digest}`)).status).toBe(201);
      expect(new Uint8Array(await (await app.req('GET', `/v2/${NAME}/blobs/${digest}`)).arrayBuffer())).toEqual(concat(head, tail));
    });
  }, 30_000);
});

describe('V2 upload completion reading the bytes back (a new boot id) racing a late PATCH (fs)', () => {
  /** The fs driver, its boot id settable. */
  class RebootableFs extends FsDriver {
    boot = 'boot-1';
    override get volatileEpoch(): string {
      return this.boot;
    }
  }

  test.each(['holds the object while the PUT reads', 'puts the object back, longer, just before the PUT reads'])('a late PATCH that %s: a 4xx, nothing published', async (when) => {
    const dir = mkdtempSync(join(tmpdir(), 'v2-races-reboot-'));
    const storage = new RebootableFs(dir);
    const app = makeApp({}, storage);
    try {
      const location = await start(app);
      const bytes = randomBytes(20_000);
      expect((await patch(app, location, bytes, 0, bytes.byteLength)).status).toBe(202);
      storage.boot = 'boot-2';
      const slow = gatedBody(randomBytes(5000), randomBytes(5000));
      const late = patch(app, location, slow.stream, bytes.byteLength, 10_000);
      await Bun.sleep(50);
      const realRead = storage.read.bind(storage);
      const read = spyOn(storage, 'read').mockImplementation(async (key, range) => {
        if (when.startsWith('puts')) {
          slow.release();
          await late;
        }
        return realRead(key, range);
      });
      const put = await app.req('PUT', `${location}?digest=${sha256(bytes)}`);
      read.mockRestore();
      slow.release();
      expect((await late).status).toBeGreaterThanOrEqual(400);
      expect(put.status).toBeGreaterThanOrEqual(400);
      expect(put.status).toBeLessThan(500);
      if (when.startsWith('puts')) await expectV2Error(put, 400, 'BLOB_UPLOAD_INVALID');
      else await expectV2Error(put, 404, 'BLOB_UPLOAD_UNKNOWN');
      expect((await app.req('HEAD', `/v2/${NAME}/blobs/${sha256(bytes)}`)).status).toBe(404);
    } finally {
      app.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

/** The app over each driver that stores uploads differently: one continued object (fs), an object per PATCH (S3). */
const drivers: [string, () => Promise<{ app: TestApp; storage: StorageDriver; done: () => void }>][] = [
  ['fs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'v2-races-'));
    const storage = new FsDriver(dir);
    const app = makeApp({}, storage);
    return { app, storage, done: () => (app.close(), rmSync(dir, { recursive: true, force: true })) };
  }],
  ['s3', async () => {
    const { app, storage } = await s3App();
    return { app, storage, done: () => app.close() };
  }],
];

describe.each(drivers)('V2 upload session ends racing (%s)', (_, open) => {
  /** A session holding one chunk. */
  async function oneChunk(app: TestApp) {
    const location = await start(app);
    const bytes = randomBytes(20_000);
    expect((await patch(app, location, bytes, 0, bytes.byteLength)).status).toBe(202);
    return { location, bytes, digest: sha256(bytes) };
  }

  test('PUT vs PUT and vs DELETE after its claim: the others are BLOB_UPLOAD_UNKNOWN, the first completes', async () => {
    const { app, storage, done } = await open();
    try {
      const { location, bytes, digest } = await oneChunk(app);
      // the first PUT has claimed the session and is putting its bytes in place
      const realMove = storage.move.bind(storage);
      const others: Response[] = [];
      const move = spyOn(storage, 'move').mockImplementation(async (from, to) => {
        if (others.length === 0) others.push(await app.req('PUT', `${location}?digest=${digest}`), await app.req('DELETE', location));
        return realMove(from, to);
      });
      const put = await app.req('PUT', `${location}?digest=${digest}`);
      move.mockRestore();
      expect(put.status).toBe(201);
      for (const r of others) await expectV2Error(r, 404, 'BLOB_UPLOAD_UNKNOWN');
      expect(new Uint8Array(await (await app.req('GET', `/v2/${NAME}/blobs/${digest}`)).arrayBuffer())).toEqual(bytes);
      expect(await storage.list('uploads').catch(() => [])).toEqual([]);
    } finally {
      done();
    }
  }, 30_000);

  test('DELETE between a PUT\'s read of the session and its claim: the PUT is BLOB_UPLOAD_UNKNOWN, nothing published or left', async () => {
    const { app, storage, done } = await open();
    try {
      const { location, digest } = await oneChunk(app);
      const realDelete = app.meta.deleteUpload.bind(app.meta);
      let cancelled: Response | null = null;
      const claim = spyOn(app.meta, 'deleteUpload').mockImplementation(async (id) => {
        if (cancelled === null) {
          cancelled = new Response();
          cancelled = await app.req('DELETE', location);
        }
        return realDelete(id);
      });
      const put = await app.req('PUT', `${location}?digest=${digest}`);
      claim.mockRestore();
      expect(cancelled!.status).toBe(204);
      await expectV2Error(put, 404, 'BLOB_UPLOAD_UNKNOWN');
      expect((await app.req('HEAD', `/v2/${NAME}/blobs/${digest}`)).status).toBe(404);
      expect(await storage.list('uploads').catch(() => [])).toEqual([]);
    } finally {
      done();
    }
  }, 30_000);

  test('DELETE while a PATCH body arrives: the PATCH is BLOB_UPLOAD_UNKNOWN, and what it left goes with the purge', async () => {
    const { app, storage, done } = await open();
    try {
      const { location, bytes } = await oneChunk(app);
      const slow = gatedBody(randomBytes(5000), randomBytes(5000));
      const late = patch(app, location, slow.stream, bytes.byteLength, 10_000);
      await Bun.sleep(50);
      expect((await app.req('DELETE', location)).status).toBe(204);
      slow.release();
      await expectV2Error(await late, 404, 'BLOB_UPLOAD_UNKNOWN');
      await expectV2Error(await app.req('PUT', `${location}?digest=${sha256(bytes)}`), 404, 'BLOB_UPLOAD_UNKNOWN');
      await hotRoutesOf(app.app).purgeUploads(0);
      expect(await storage.list('uploads').catch(() => [])).toEqual([]);
    } finally {
      done();
    }
  }, 30_000);
});
