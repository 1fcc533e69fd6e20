/** V2 blobs and uploads through the app: every way of pushing, pulling with ranges, deleting, and bad input. */
import { describe, expect, spyOn, test } from 'bun:test';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../src/config/load.ts';
import { createApp } from '../../../src/app/app.ts';
import { createFetch } from '../../../src/app/fetch.ts';
import { SqliteMetaStore } from '../../../src/db/sqlite/store.ts';
import type { StorageDriver } from '../../../src/storage/driver.ts';
import { FsDriver } from '../../../src/storage/fs.ts';
import { MAX_UPLOAD_CHUNKS } from '../../../src/services/blobs.ts';
import { FaultyDriver } from '../../helpers/faulty-driver.ts';
import { randomBytes } from '../../../dev/ids.ts';
import { makeApp, withApp, type TestApp } from '../../helpers/app.ts';
import { expectV2Error, pushBlob, sha256 } from '../../helpers/v2.ts';

const NAME = 'acme/tools/app';

async function start(app: TestApp, name = NAME): Promise<string> {
  const r = await app.req('POST', `/v2/${name}/blobs/uploads/`);
  expect(r.status).toBe(202);
  expect(r.headers.get('range')).toBe('0-0');
  const location = r.headers.get('location')!;
  expect(location).toStartWith(`/v2/${name}/blobs/uploads/`);
  expect(r.headers.get('docker-upload-uuid')).toBe(location.split('/').pop()!);
  return location;
}

const patch = (app: TestApp, location: string, bytes: Uint8Array, range?: string) =>
  app.req('PATCH', location, { body: bytes, headers: range ? { 'content-range': range, 'content-type': 'application/octet-stream' } : {} });

describe('V2 blobs', () => {
  test('API version check', async () => {
    await withApp(async (app) => {
      const r = await app.req('GET', '/v2/');
      expect(r.status).toBe(200);
      expect(r.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
      expect(await r.json()).toEqual({});
    });
  });

  test('monolithic POST with digest: stored once, then GET, HEAD and ranges', async () => {
    await withApp(async (app) => {
      const bytes = randomBytes(100_000);
      const digest = await pushBlob(app, NAME, bytes);
      let r = await app.req('GET', `/v2/${NAME}/blobs/${digest}`);
      expect(r.status).toBe(200);
      expect(r.headers.get('docker-content-digest')).toBe(digest);
      expect(r.headers.get('content-length')).toBe('100000');
      expect(new Uint8Array(await r.arrayBuffer())).toEqual(bytes);
      r = await app.req('HEAD', `/v2/${NAME}/blobs/${digest}`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-length')).toBe('100000');
      r = await app.req('GET', `/v2/${NAME}/blobs/${digest}`, { headers: { range: 'bytes=10-19' } });
      expect(r.status).toBe(206);
      expect(r.headers.get('content-range')).toBe('bytes 10-19/100000');
      expect(new Uint8Array(await r.arrayBuffer())).toEqual(bytes.subarray(10, 20));
      r = await app.req('GET', `/v2/${NAME}/blobs/${digest}`, { headers: { range: 'bytes=200000-' } });
      expect(r.status).toBe(416);
      // another repository does not have it
      await expectV2Error(await app.req('GET', `/v2/other/repo/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
    });
  });

  test('POST then PUT with the whole body', async () => {
    await withApp(async (app) => {
      const bytes = randomBytes(5000);
      const location = await start(app);
      const r = await app.req('PUT', `${location}?digest=${sha256(bytes)}`, { body: bytes });
      expect(r.status).toBe(201);
      expect(r.headers.get('location')).toBe(`/v2/${NAME}/blobs/${sha256(bytes)}`);
      expect(r.headers.get('docker-content-digest')).toBe(sha256(bytes));
      expect((await app.req('GET', `/v2/${NAME}/blobs/${sha256(bytes)}`)).status).toBe(200);
      await expectV2Error(await app.req('GET', location), 404, 'BLOB_UPLOAD_UNKNOWN');
    });
  });

  test('chunked: in order with Content-Range, out of order refused with 416, status, then PUT with the digest', async () => {
    await withApp(async (app) => {
      const bytes = randomBytes(30_000);
      const location = await start(app);
      let r = await patch(app, location, bytes.subarray(0, 10_000), '0-9999');
      expect(r.status).toBe(202);
      expect(r.headers.get('range')).toBe('0-9999');
      // a retry of the same chunk, and a chunk past the end, are out of order
      await expectV2Error(await patch(app, location, bytes.subarray(0, 10_000), '0-9999'), 416, 'BLOB_UPLOAD_INVALID');
      await expectV2Error(await patch(app, location, bytes.subarray(20_000), '20000-29999'), 416, 'BLOB_UPLOAD_INVALID');
      r = await app.req('GET', location);
      expect(r.status).toBe(204);
      expect(r.headers.get('range')).toBe('0-9999');
      r = await patch(app, location, bytes.subarray(10_000, 20_000), '10000-19999');
      expect(r.status).toBe(202);
      // the last chunk comes with the PUT
      r = await app.req('PUT', `${location}?digest=${sha256(bytes)}`, { body: bytes.subarray(20_000) });
      expect(r.status).toBe(201);
      r = await app.req('GET', `/v2/${NAME}/blobs/${sha256(bytes)}`);
      expect(new Uint8Array(await r.arrayBuffer())).toEqual(bytes);
      // nothing of the session is left in storage
      expect(await app.storage.list('uploads').catch(() => [])).toEqual([]);
    });
  });

  test('a chunk whose body does not fill its Content-Range is refused and not counted', async () => {
    await withApp(async (app) => {
      const location = await start(app);
      await expectV2Error(await patch(app, location, randomBytes(10), '0-19'), 400, 'SIZE_INVALID');
      expect((await app.req('GET', location)).headers.get('range')).toBe('0-0');
    });
  });

  test(`an upload takes at most ${MAX_UPLOAD_CHUNKS} chunks: the next is refused, and the session still completes`, async () => {
    await withApp(async (app) => {
      const location = await start(app);
      const bytes = randomBytes(MAX_UPLOAD_CHUNKS);
      for (let i = 0; i < MAX_UPLOAD_CHUNKS; i++) {
        const r = await patch(app, location, bytes.subarray(i, i + 1), `${i}-${i}`);
        if (r.status !== 202) throw new Error(`chunk ${i}: ${r.status} ${await r.text()}`);
      }
      const extra = randomBytes(1);
      await expectV2Error(await patch(app, location, extra, `${MAX_UPLOAD_CHUNKS}-${MAX_UPLOAD_CHUNKS}`), 400, 'BLOB_UPLOAD_INVALID');
      // nor can a PUT bring one more
      await expectV2Error(await app.req('PUT', `${location}?digest=${sha256(new Uint8Array([...bytes, ...extra]))}`, { body: extra }), 400, 'BLOB_UPLOAD_INVALID');
      const status = await app.req('GET', location);
      expect(status.headers.get('range')).toBe(`0-${MAX_UPLOAD_CHUNKS - 1}`);
      expect((await app.req('PUT', `${location}?digest=${sha256(bytes)}`)).status).toBe(201);
      expect(new Uint8Array(await (await app.req('GET', `/v2/${NAME}/blobs/${sha256(bytes)}`)).arrayBuffer())).toEqual(bytes);
    });
  }, 60_000);

  test('a wrong digest is refused and nothing becomes visible', async () => {
    await withApp(async (app) => {
      const bytes = randomBytes(1000);
      const wrong = sha256('something else');
      let r = await app.req('POST', `/v2/${NAME}/blobs/uploads/?digest=${wrong}`, { body: bytes });
      await expectV2Error(r, 400, 'DIGEST_INVALID');
      await expectV2Error(await app.req('GET', `/v2/${NAME}/blobs/${wrong}`), 404, 'BLOB_UNKNOWN');
      expect((await app.req('HEAD', `/v2/${NAME}/blobs/${wrong}`)).status).toBe(404);
      const location = await start(app);
      expect((await patch(app, location, bytes)).status).toBe(202);
      r = await app.req('PUT', `${location}?digest=${wrong}`);
      await expectV2Error(r, 400, 'DIGEST_INVALID');
      await expectV2Error(await app.req('GET', `/v2/${NAME}/blobs/${sha256(bytes)}`), 404, 'BLOB_UNKNOWN');
      for (const bad of ['sha256:xyz', 'md5:abc', '']) {
        const s = await start(app);
        await expectV2Error(await app.req('PUT', `${s}?digest=${encodeURIComponent(bad)}`, { body: bytes }), 400, 'DIGEST_INVALID');
      }
    });
  });

  test('unknown, cancelled and other repositories\' sessions are BLOB_UPLOAD_UNKNOWN', async () => {
    await withApp(async (app) => {
      await expectV2Error(await app.req('GET', `/v2/${NAME}/blobs/uploads/${'0'.repeat(32)}`), 404, 'BLOB_UPLOAD_UNKNOWN');
      await expectV2Error(await app.req('PATCH', `/v2/${NAME}/blobs/uploads/not-a-session`, { body: 'x' }), 404, 'BLOB_UPLOAD_UNKNOWN');
      const location = await start(app);
      const id = location.split('/').pop()!;
      await expectV2Error(await app.req('GET', `/v2/someone/else/blobs/uploads/${id}`), 404, 'BLOB_UPLOAD_UNKNOWN');
      expect((await patch(app, location, randomBytes(10))).status).toBe(202);
      expect((await app.req('DELETE', location)).status).toBe(204);
      await expectV2Error(await app.req('GET', location), 404, 'BLOB_UPLOAD_UNKNOWN');
      await expectV2Error(await app.req('DELETE', location), 404, 'BLOB_UPLOAD_UNKNOWN');
      expect(await app.storage.list('uploads').catch(() => [])).toEqual([]);
    });
  });

  test('cross-repository mount: 201 when the source has it, an upload session otherwise', async () => {
    await withApp(async (app) => {
      const digest = await pushBlob(app, 'src/repo', randomBytes(64));
      let r = await app.req('POST', `/v2/dst/repo/blobs/uploads/?mount=${digest}&from=src/repo`);
      expect(r.status).toBe(201);
      expect(r.headers.get('location')).toBe(`/v2/dst/repo/blobs/${digest}`);
      expect((await app.req('GET', `/v2/dst/repo/blobs/${digest}`)).status).toBe(200);
      r = await app.req('POST', `/v2/dst/repo/blobs/uploads/?mount=${sha256('nope')}&from=src/repo`);
      expect(r.status).toBe(202);
      r = await app.req('POST', `/v2/dst/repo/blobs/uploads/?mount=${digest}`);
      expect(r.status).toBe(202);
    });
  });

  test('DELETE unlinks a blob from one repository only', async () => {
    await withApp(async (app) => {
      const bytes = randomBytes(64);
      const digest = await pushBlob(app, 'a/one', bytes);
      await pushBlob(app, 'a/two', bytes);
      expect((await app.req('DELETE', `/v2/a/one/blobs/${digest}`)).status).toBe(202);
      await expectV2Error(await app.req('GET', `/v2/a/one/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
      expect((await app.req('GET', `/v2/a/two/blobs/${digest}`)).status).toBe(200);
      await expectV2Error(await app.req('DELETE', `/v2/a/one/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
    });
  });

  test('names outside the grammar are NAME_INVALID; one-part names are library/<name>', async () => {
    await withApp(async (app) => {
      for (const bad of ['UPPER', 'a..b', 'a_-b']) await expectV2Error(await app.req('POST', `/v2/${bad}/blobs/uploads/`), 400, 'NAME_INVALID');
      const digest = await pushBlob(app, 'busybox', 'x');
      expect((await app.req('GET', `/v2/library/busybox/blobs/${digest}`)).status).toBe(200);
    });
  });

  test('on disk a chunked upload is one object: PATCHes continue it, a concurrent PATCH is refused, the PUT renames it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'v2-continue-'));
    try {
      const storage = new FsDriver(dir);
      const app = makeApp({}, storage);
      const bytes = randomBytes(300_000);
      const location = await start(app);
      expect((await patch(app, location, bytes.subarray(0, 100_000), '0-99999')).status).toBe(202);
      // a PATCH whose body is still arriving holds the object: one sent meanwhile is refused
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const slow = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(bytes.subarray(100_000, 150_000));
          await gate;
          controller.enqueue(bytes.subarray(150_000, 200_000));
          controller.close();
        },
      });
      const first = app.req('PATCH', location, { body: slow, headers: { 'content-range': '100000-199999' } });
      await Bun.sleep(50);
      await expectV2Error(await patch(app, location, bytes.subarray(100_000, 200_000), '100000-199999'), 416, 'BLOB_UPLOAD_INVALID');
      release();
      expect((await first).status).toBe(202);
      expect((await patch(app, location, bytes.subarray(200_000), '200000-299999')).status).toBe(202);
      expect(await storage.list(`uploads/${location.split('/').pop()}`)).toHaveLength(1);
      const writer = spyOn(storage, 'writer');
      expect((await app.req('PUT', `${location}?digest=${sha256(bytes)}`)).status).toBe(201);
      // completed by a rename: no byte written again
      expect(writer).not.toHaveBeenCalled();
      writer.mockRestore();
      const r = await app.req('GET', `/v2/${NAME}/blobs/${sha256(bytes)}`);
      expect(new Uint8Array(await r.arrayBuffer())).toEqual(bytes);
      app.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a PATCH that lands between the PUT\'s claim and its move cannot add bytes to the blob', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'v2-late-patch-'));
    try {
      const storage = new FsDriver(dir);
      const app = makeApp({}, storage);
      const bytes = randomBytes(100_000);
      const location = await start(app);
      expect((await patch(app, location, bytes, '0-99999')).status).toBe(202);
      // a second PATCH (valid: it continues at the session's offset) holds the object while its body arrives
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const slow = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(randomBytes(30_000));
          await gate;
          controller.enqueue(randomBytes(20_000));
          controller.close();
        },
      });
      const late = app.req('PATCH', location, { body: slow, headers: { 'content-range': '100000-149999' } });
      await Bun.sleep(50);
      // the PUT claims the session; just before its move the late PATCH finishes and puts the object back, longer
      const realMove = storage.move.bind(storage);
      let lateStatus = 0;
      const move = spyOn(storage, 'move').mockImplementation(async (from, to) => {
        release();
        lateStatus = (await late).status;
        return realMove(from, to);
      });
      const put = await app.req('PUT', `${location}?digest=${sha256(bytes)}`);
      move.mockRestore();
      // the late PATCH is refused (its session was claimed); the PUT either completes with exactly the
      // session's bytes or fails, and never publishes a blob with bytes that are not its digest's
      expect(lateStatus).toBeGreaterThanOrEqual(400);
      if (put.status === 201) {
        const r = await app.req('GET', `/v2/${NAME}/blobs/${sha256(bytes)}`);
        expect(r.headers.get('content-length')).toBe('100000');
        expect(new Uint8Array(await r.arrayBuffer())).toEqual(bytes);
      } else {
        await expectV2Error(put, 400, 'BLOB_UPLOAD_INVALID');
        expect((await app.req('HEAD', `/v2/${NAME}/blobs/${sha256(bytes)}`)).status).toBe(404);
      }
      app.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the usual single PATCH completes through another process without reading the chunk back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'v2-session-'));
    try {
      const open = (storage: StorageDriver) => {
        const meta = SqliteMetaStore.open(join(dir, 'registry.db'));
        const app = createApp({ config: loadConfig({ env: {}, overrides: {} }), meta, storage });
        const fetch = createFetch(app);
        return { meta, req: (method: string, path: string, body?: Uint8Array) => fetch(new Request(`http://localhost${path}`, { method, body })) };
      };
      const bytes = randomBytes(50_000);
      const one = open(new FsDriver(join(dir, 'data')));
      const location = (await one.req('POST', `/v2/${NAME}/blobs/uploads/`)).headers.get('location')!;
      expect((await one.req('PATCH', location, bytes)).status).toBe(202);
      // the second process cannot read a byte: it must complete from the recorded digest
      const unreadable = new FaultyDriver(new FsDriver(join(dir, 'data'))).inject({ op: 'read' });
      const two = open(unreadable);
      expect((await two.req('PUT', `${location}?digest=${sha256(bytes)}`)).status).toBe(201);
      expect(unreadable.fired.read ?? 0).toBe(0);
      const r = await two.req('GET', `/v2/${NAME}/blobs/${sha256(bytes)}`);
      expect(new Uint8Array(await r.arrayBuffer())).toEqual(bytes);
      one.meta.close();
      two.meta.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('after a restart of the machine (a new boot id) the recorded digest is not trusted: the bytes are read back, and lost ones fail the upload', async () => {
    /** The fs driver, its boot id settable: "rebooting" it is what an OS restart looks like to the service. */
    class RebootableFs extends FsDriver {
      boot = 'boot-1';
      override get volatileEpoch(): string {
        return this.boot;
      }
    }
    const dir = mkdtempSync(join(tmpdir(), 'v2-reboot-'));
    try {
      const storage = new RebootableFs(dir);
      const app = makeApp({}, storage);
      const upload = async (bytes: Uint8Array) => {
        const location = await start(app);
        expect((await patch(app, location, bytes, `0-${bytes.byteLength - 1}`)).status).toBe(202);
        return { location, object: storage.pathOf(`uploads/${location.split('/').pop()}/0`) };
      };
      const read = spyOn(storage, 'read');
      // the bytes survived: read back, hashed, stored
      const intact = randomBytes(40_000);
      let u = await upload(intact);
      storage.boot = 'boot-2';
      expect((await app.req('PUT', `${u.location}?digest=${sha256(intact)}`)).status).toBe(201);
      expect(read).toHaveBeenCalledTimes(1);
      expect(new Uint8Array(await (await app.req('GET', `/v2/${NAME}/blobs/${sha256(intact)}`)).arrayBuffer())).toEqual(intact);
      // the same boot: the recorded digest is trusted, nothing read
      const fresh = randomBytes(40_000);
      u = await upload(fresh);
      expect((await app.req('PUT', `${u.location}?digest=${sha256(fresh)}`)).status).toBe(201);
      expect(read).toHaveBeenCalledTimes(1);
      // the tail was lost with the page cache: the upload fails, nothing is visible
      const cut = randomBytes(40_000);
      u = await upload(cut);
      storage.boot = 'boot-3';
      truncateSync(u.object, 10_000);
      await expectV2Error(await app.req('PUT', `${u.location}?digest=${sha256(cut)}`), 400, 'BLOB_UPLOAD_INVALID');
      expect((await app.req('HEAD', `/v2/${NAME}/blobs/${sha256(cut)}`)).status).toBe(404);
      // the bytes were torn (zeros where data was): the digest does not match, nothing is visible
      const torn = randomBytes(40_000);
      u = await upload(torn);
      storage.boot = 'boot-4';
      writeFileSync(u.object, new Uint8Array(40_000));
      await expectV2Error(await app.req('PUT', `${u.location}?digest=${sha256(torn)}`), 400, 'DIGEST_INVALID');
      expect((await app.req('HEAD', `/v2/${NAME}/blobs/${sha256(torn)}`)).status).toBe(404);
      read.mockRestore();
      app.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an upload session survives the process: another app on the same database and disk finishes it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'v2-session-'));
    try {
      const open = () => {
        const meta = SqliteMetaStore.open(join(dir, 'registry.db'));
        const app = createApp({ config: loadConfig({ env: {}, overrides: {} }), meta, storage: new FsDriver(join(dir, 'data')) });
        const fetch = createFetch(app);
        return { meta, req: (method: string, path: string, body?: Uint8Array) => fetch(new Request(`http://localhost${path}`, { method, body })) };
      };
      const bytes = randomBytes(50_000);
      const one = open();
      const location = (await one.req('POST', `/v2/${NAME}/blobs/uploads/`)).headers.get('location')!;
      expect((await one.req('PATCH', location, bytes.subarray(0, 20_000))).status).toBe(202);
      one.meta.close();
      const two = open();
      expect((await two.req('PATCH', location, bytes.subarray(20_000))).status).toBe(202);
      expect((await two.req('PUT', `${location}?digest=${sha256(bytes)}`)).status).toBe(201);
      const r = await two.req('GET', `/v2/${NAME}/blobs/${sha256(bytes)}`);
      expect(new Uint8Array(await r.arrayBuffer())).toEqual(bytes);
      two.meta.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
