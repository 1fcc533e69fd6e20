/**
 * The V2 pull-through mirror's blobs (stub upstream, test/helpers/upstream-stub.ts): streamed to
 * the client while stored, verified before they are kept, fetched once per digest however many
 * clients ask at once; a copy that fails cuts the client's transfer and leaves nothing stored;
 * HEAD asks upstream without fetching; ranges are served from the stored copy.
 */
import { describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../../src/app/app.ts';
import { createFetch } from '../../../src/app/fetch.ts';
import { loadConfig } from '../../../src/config/load.ts';
import { SqliteMetaStore } from '../../../src/db/sqlite/store.ts';
import { PathNotFoundError } from '../../../src/storage/driver.ts';
import { MemoryDriver } from '../../../src/storage/memory.ts';
import { closedPort, mirrorsPerTest, serveMirror, stubUpstream, type MirrorServer } from '../../helpers/upstream-stub.ts';
import { expectV2Error, sha256 } from '../../helpers/v2.ts';

const REF = { namespace: 'team', name: 'app' };
const { start, track } = mirrorsPerTest();

/** 300 KiB of varied bytes: several chunks on the wire. */
const BIG = new Uint8Array(300 * 1024).map((_, i) => (i * 31 + (i >> 10)) % 251);
/** The key its row names (each write of a blob has a key of its own, `blobs/sha256/<hex>-<n>`). */
async function keyOf(mirror: MirrorServer, digest: string): Promise<string> {
  const blob = await mirror.t.meta.getBlob(digest);
  expect(blob).not.toBeNull();
  return blob!.key;
}

/** Nothing of the blob is kept: no row, no object of its digest in storage. */
async function expectNothingStored(mirror: MirrorServer, digest: string): Promise<void> {
  expect(await mirror.t.meta.getBlob(digest)).toBeNull();
  const hex = digest.slice('sha256:'.length);
  const objects = await mirror.t.storage.list('blobs/sha256').catch((e) => (e instanceof PathNotFoundError ? [] : Promise.reject(e)));
  expect(objects.filter((k) => k.startsWith(`blobs/sha256/${hex}`))).toEqual([]);
}

/** A body sent slowly: `parts` chunks of `bytes`, `gapMs` apart (then, with `stall`, silence). */
function slowBody(bytes: Uint8Array, parts: number, gapMs: number, stall = false): ReadableStream<Uint8Array> {
  const size = Math.ceil(bytes.byteLength / parts);
  let i = 0;
  return new ReadableStream({
    async pull(c) {
      if (i > 0) await Bun.sleep(stall ? 5000 : gapMs);
      if (i * size >= bytes.byteLength) return c.close();
      c.enqueue(bytes.subarray(i * size, ++i * size));
    },
  });
}

/** A GET's body; the error when the transfer was cut (before or after the headers). */
async function transfer(reply: Promise<Response>): Promise<Uint8Array | Error> {
  return reply
    .then((r) => r.arrayBuffer())
    .then(
      (b) => new Uint8Array(b),
      (e: unknown) => e as Error,
    );
}

/** The transfer did not hand the client a complete-looking body. */
const cut = (body: Uint8Array | Error) => body instanceof Error || body.byteLength < BIG.byteLength;

describe('blobs through the mirror', () => {
  test('a blob not held here: streamed from upstream, stored under its digest and linked; the next GET is local', async () => {
    const { up, m } = start();
    const digest = up.putBlob(BIG);
    let r = await m.get(`/v2/team/app/blobs/${digest}`);
    expect(r.status).toBe(200);
    expect(r.headers.get('docker-content-digest')).toBe(digest);
    // Bun.serve sends a stream chunked, whatever Content-Length it is given (oven-sh/bun#10507)
    expect(r.headers.get('content-length') ?? r.headers.get('transfer-encoding')).toMatch(new RegExp(`^(${BIG.byteLength}|chunked)$`));
    expect(Buffer.compare(new Uint8Array(await r.arrayBuffer()), BIG)).toBe(0);
    await Bun.sleep(20);
    expect((await m.t.meta.getLinkedBlob(REF, digest))?.size).toBe(BIG.byteLength);
    expect(Buffer.compare(await m.t.storage.getContent(await keyOf(m, digest)), BIG)).toBe(0);
    r = await m.get(`/v2/team/app/blobs/${digest}`);
    expect(Buffer.compare(new Uint8Array(await r.arrayBuffer()), BIG)).toBe(0);
    expect(up.count(`GET /v2/team/app/blobs/${digest}`)).toBe(1);
  });

  test('concurrent GETs of one blob: one upstream fetch, every client gets every byte', async () => {
    const { up, m } = start();
    const digest = up.putBlob(BIG);
    up.override = (q, url) => (url.pathname.endsWith(digest) && q.method === 'GET' ? new Response(slowBody(BIG, 6, 40), { headers: { 'content-length': String(BIG.byteLength) } }) : undefined);
    const replies = await Promise.all(Array.from({ length: 6 }, () => m.get(`/v2/team/app/blobs/${digest}`)));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    const bodies = await Promise.all(replies.map((r) => transfer(Promise.resolve(r))));
    for (const body of bodies) expect(body instanceof Uint8Array && Buffer.compare(body, BIG) === 0).toBe(true);
    expect(up.count(`GET /v2/team/app/blobs/${digest}`)).toBe(1);
  });

  test('two processes over one store (two apps, one SQLite file, one storage): one upstream fetch between them', async () => {
    const up = track(stubUpstream());
    const digest = up.putBlob(BIG);
    up.override = (q, url) => (url.pathname.endsWith(digest) && q.method === 'GET' ? new Response(slowBody(BIG, 6, 40), { headers: { 'content-length': String(BIG.byteLength) } }) : undefined);
    const dir = mkdtempSync(join(tmpdir(), 'mirror-two-'));
    const storage = new MemoryDriver();
    const config = loadConfig({ env: {}, overrides: { 'mirroring.source': up.url, 'mirroring.timeout': 5 } });
    const stores = [SqliteMetaStore.open(join(dir, 'registry.db'), { migrate: true }), SqliteMetaStore.open(join(dir, 'registry.db'), { migrate: false })];
    try {
      const fetches = stores.map((meta) => createFetch(createApp({ config, meta, storage, log: () => {} })));
      const replies = await Promise.all([0, 1, 0, 1].map((i) => transfer(Promise.resolve(fetches[i]!(new Request(`http://localhost/v2/team/app/blobs/${digest}`))))));
      for (const body of replies) expect(body instanceof Uint8Array && Buffer.compare(body, BIG) === 0).toBe(true);
      expect(up.count(`GET /v2/team/app/blobs/${digest}`)).toBe(1);
    } finally {
      for (const s of stores) s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('another repository asking for a stored blob: linked once upstream confirms it (HEAD), no second download', async () => {
    const { up, m } = start();
    const digest = up.putBlob('shared base layer');
    await (await m.get(`/v2/team/app/blobs/${digest}`)).arrayBuffer();
    await Bun.sleep(20);
    const r = await m.get(`/v2/team/other/blobs/${digest}`);
    expect(await r.text()).toBe('shared base layer');
    expect(up.seen.filter((s) => s.includes(digest))).toEqual([`GET /v2/team/app/blobs/${digest}`, `HEAD /v2/team/other/blobs/${digest}`]);
    expect(await m.t.meta.getLinkedBlob({ namespace: 'team', name: 'other' }, digest)).not.toBeNull();
  });

  test('a ranged GET of a blob not held here: fetched whole, the range served from the stored copy', async () => {
    const { up, m } = start();
    const digest = up.putBlob(BIG);
    const r = await m.get(`/v2/team/app/blobs/${digest}`, { headers: { range: 'bytes=1000-1999' } });
    expect(r.status).toBe(206);
    expect(r.headers.get('content-range')).toBe(`bytes 1000-1999/${BIG.byteLength}`);
    expect(Buffer.compare(new Uint8Array(await r.arrayBuffer()), BIG.subarray(1000, 2000))).toBe(0);
    expect(await m.t.meta.getLinkedBlob(REF, digest)).not.toBeNull();
  });

  test('HEAD of a blob not held here: asked upstream with a HEAD, nothing fetched; 404 when upstream has none', async () => {
    const { up, m } = start();
    const digest = up.putBlob(BIG);
    const r = await m.get(`/v2/team/app/blobs/${digest}`, { method: 'HEAD' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-length')).toBe(String(BIG.byteLength));
    expect(r.headers.get('docker-content-digest')).toBe(digest);
    expect(up.seen).toEqual([`HEAD /v2/team/app/blobs/${digest}`]);
    await expectNothingStored(m, digest);
    expect((await m.get(`/v2/team/app/blobs/${sha256('none')}`, { method: 'HEAD' })).status).toBe(404);
    await expectV2Error(await m.get(`/v2/team/app/blobs/${sha256('none')}`), 404, 'BLOB_UNKNOWN');
  });
});

describe('upstream failures on a blob miss', () => {
  test('bytes that fail the digest: the transfer is cut before its last bytes, nothing stored; the next GET fetches again', async () => {
    const { up, m } = start();
    const digest = sha256(BIG);
    const wrong = BIG.slice();
    wrong[wrong.length - 1]! ^= 1;
    up.override = () => new Response(wrong, { headers: { 'content-length': String(wrong.byteLength) } });
    expect(cut(await transfer(m.get(`/v2/team/app/blobs/${digest}`)))).toBe(true);
    await Bun.sleep(20);
    await expectNothingStored(m, digest);
    up.override = () => new Response(BIG);
    expect(Buffer.compare(new Uint8Array(await (await m.get(`/v2/team/app/blobs/${digest}`)).arrayBuffer()), BIG)).toBe(0);
  });

  test('a body that stalls: cut once mirroring.timeout has passed, nothing stored', async () => {
    const { up, m } = start();
    const digest = sha256(BIG);
    up.override = () => new Response(slowBody(BIG, 4, 0, true), { headers: { 'content-length': String(BIG.byteLength) } });
    const started = performance.now();
    expect(cut(await transfer(m.get(`/v2/team/app/blobs/${digest}`)))).toBe(true);
    expect(performance.now() - started).toBeLessThan(3000);
    await Bun.sleep(20);
    await expectNothingStored(m, digest);
  });

  test('a 500, a blob over max_body_size, slow headers, a refused port: 502, 502, 504, 503 with V2 bodies', async () => {
    const { up, m } = start({ max_body_size: 100 * 1024 });
    const digest = up.putBlob(BIG);
    up.override = () => new Response('oops', { status: 500 });
    await expectV2Error(await m.get(`/v2/team/app/blobs/${digest}`), 502, 'UNKNOWN');
    up.override = null;
    await expectV2Error(await m.get(`/v2/team/app/blobs/${digest}`), 502, 'UNKNOWN');
    up.override = async () => {
      await Bun.sleep(2500);
      return new Response(BIG);
    };
    await expectV2Error(await m.get(`/v2/team/app/blobs/${digest}`), 504, 'UNKNOWN');
    await expectNothingStored(m, digest);
    const down = serveMirror(`http://127.0.0.1:${closedPort()}`);
    try {
      await expectV2Error(await down.get(`/v2/team/app/blobs/${digest}`), 503, 'UNAVAILABLE');
      // a HEAD carries no body to explain a 503: a pushing client's HEAD gets 404 and uploads
      expect((await down.get(`/v2/team/app/blobs/${digest}`, { method: 'HEAD' })).status).toBe(404);
    } finally {
      down.stop();
    }
  });
});
