/**
 * The S3 driver against a real, strict S3 server: a throwaway Ceph RADOS Gateway. It checks
 * signatures and presign expiry, which fauxqs (s3.test.ts) does not. Installing and starting
 * Ceph takes about 40 s on a fresh machine (15 s once installed), so this file runs only with
 * REGISTRY_TEST_RGW=1.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { PathNotFoundError, StorageError } from '../../src/storage/driver.ts';
import { S3Driver } from '../../src/storage/s3/driver.ts';
import { startRadosGateway, type S3TestServer } from '../../dev/s3.ts';
import { patternBytes, runDriverSuite, S3_CANNOT_CONTINUE } from './driver.suite.ts';

const MiB = 1024 * 1024;
const enabled = process.env.REGISTRY_TEST_RGW === '1';
const group = enabled ? describe : describe.skip;
const title = enabled
  ? 'Ceph RADOS Gateway'
  : 'Ceph RADOS Gateway (skipped: set REGISTRY_TEST_RGW=1 to install and start Ceph, about 40 s)';

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}

/** Polls until `list()` is empty (Bun aborts a cancelled upload just after cancel() returns). */
async function settledEmpty(list: () => Promise<string[] | null>, ms = 5000): Promise<string[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = (await list()) ?? [];
    if (left.length === 0 || Date.now() > deadline) return left;
    await Bun.sleep(50);
  }
}

group(title, () => {
  let server: S3TestServer;
  let cases = 0;

  beforeAll(async () => {
    const t0 = performance.now();
    server = await startRadosGateway();
    console.log(`RGW ready in ${Math.round(performance.now() - t0)} ms at ${server.endpoint}`);
  }, 300_000);

  afterAll(async () => {
    await server?.stop();
  }, 60_000);

  // One bucket; every case gets its own key prefix inside it, so the prefix option is exercised
  // on a strict server too. Unfinished multipart uploads count as left-over temp entries.
  runDriverSuite('s3 (Ceph RGW)', async () => {
    cases += 1;
    const prefix = `case-${cases}`;
    const driver = new S3Driver(server.driverOptions({ prefix }));
    return {
      driver,
      tempEntries: () => settledEmpty(() => server.pendingUploads(server.bucket, `${prefix}/`)),
      cleanup: async () => {
        for (const key of await driver.list('')) await driver.delete(key);
      },
    };
  }, {
    skip: {
      'writerAt continues an object at its end': S3_CANNOT_CONTINUE,
      'writerAt takes the object while it writes: invisible, a second writerAt refused, cancel puts it back': S3_CANNOT_CONTINUE,
      'writerAt of a missing object, or anywhere but at its end, is PathNotFoundError and changes nothing': S3_CANNOT_CONTINUE,
      'non-durable writes (writerAt, putContent with durable: false) are visible at once, and move puts them in place whole': S3_CANNOT_CONTINUE,
    },
    composes: true,
  });

  describe('s3 driver on RGW', () => {
    test('a 12 MiB multipart upload round-trips byte-exact; cancel leaves no multipart upload', async () => {
      const d = new S3Driver(server.driverOptions({ prefix: 'multipart' }));
      const data = patternBytes(12 * MiB + 77, 31);
      const w = await d.writer('images/x/layer');
      for (let off = 0; off < data.byteLength; off += MiB) await w.write(data.subarray(off, off + MiB));
      await w.commit();
      expect((await d.stat('images/x/layer')).size).toBe(data.byteLength);
      expect(sameBytes(await d.getContent('images/x/layer'), data)).toBe(true);
      const across = await new Response(await d.read('images/x/layer', { start: 10 * MiB - 5, end: 10 * MiB + 4 })).bytes();
      expect(sameBytes(across, data.subarray(10 * MiB - 5, 10 * MiB + 5))).toBe(true);

      const c = await d.writer('images/y/layer');
      for (let off = 0; off < 12 * MiB; off += MiB) await c.write(data.subarray(off, off + MiB));
      await Bun.sleep(300);
      expect(await server.pendingUploads(server.bucket, 'multipart/')).toEqual(['multipart/images/y/layer']);
      await c.cancel();
      expect(await settledEmpty(() => server.pendingUploads(server.bucket, 'multipart/'))).toEqual([]);
      expect(await d.list('images')).toEqual(['images/x']);
      await d.delete('images');
    });

    test('presigned URLs: whole and ranged (206) GETs; an expired URL is refused', async () => {
      const d = new S3Driver(server.driverOptions({ prefix: 'presign' }));
      const data = patternBytes(200_000, 32);
      await d.putContent('images/p/layer', data);
      const url = (await d.redirectUrl('images/p/layer'))!;
      const whole = await fetch(url);
      expect(whole.status).toBe(200);
      expect(sameBytes(new Uint8Array(await whole.arrayBuffer()), data)).toBe(true);
      const part = await fetch(url, { headers: { range: 'bytes=100000-100099' } });
      expect(part.status).toBe(206);
      expect(sameBytes(new Uint8Array(await part.arrayBuffer()), data.subarray(100_000, 100_100))).toBe(true);

      const brief = new S3Driver(server.driverOptions({ prefix: 'presign', presignExpiry: 1 }));
      const soon = (await brief.redirectUrl('images/p/layer'))!;
      await Bun.sleep(2100);
      expect((await fetch(soon)).status).toBe(403);
      await d.delete('images');
    });

    test('wrong credentials are a StorageError on every call, never PathNotFoundError', async () => {
      const good = new S3Driver(server.driverOptions({ prefix: 'creds' }));
      await good.putContent('a/b', 'x');
      const bad = new S3Driver(server.driverOptions({ prefix: 'creds', secretAccessKey: 'not-the-secret' }));
      const calls: [string, () => Promise<unknown>][] = [
        ['stat', () => bad.stat('a/b')],
        ['stat missing', () => bad.stat('a/zz')],
        ['blob', () => bad.blob('a/b')],
        ['read', () => bad.read('a/b')],
        ['getContent', () => bad.getContent('a/b')],
        ['putContent', () => bad.putContent('a/c', 'x')],
        ['list', () => bad.list('a')],
        ['delete', () => bad.delete('a')],
        [
          'writer',
          async () => {
            const w = await bad.writer('a/d');
            await w.write(new Uint8Array(10));
            await w.commit();
          },
        ],
      ];
      const wrong: string[] = [];
      for (const [name, call] of calls) {
        try {
          await call();
          wrong.push(`${name}: succeeded`);
        } catch (err) {
          if (!(err instanceof StorageError) || err instanceof PathNotFoundError) wrong.push(`${name}: ${String(err)}`);
        }
      }
      expect(wrong).toEqual([]);
      expect((await fetch((await bad.redirectUrl('a/b'))!)).status).toBe(403);
      expect(await good.list('a')).toEqual(['a/b']);
      await good.delete('a');
    });

    test('blob() streams through a real Bun.serve without a redirect', async () => {
      const d = new S3Driver(server.driverOptions({ prefix: 'serve' }));
      const data = patternBytes(7 * MiB + 1, 33);
      await d.putContent('layer', data);
      const http = Bun.serve({
        hostname: '127.0.0.1',
        port: 0,
        async fetch(req) {
          const blob = await d.blob('layer');
          if (!req.headers.has('range')) return new Response(blob, { status: 200 });
          return new Response(blob.slice(MiB, 2 * MiB), { status: 206 });
        },
      });
      try {
        const r = await fetch(`http://127.0.0.1:${http.port}/`, { redirect: 'manual' });
        expect(r.status).toBe(200);
        expect(sameBytes(new Uint8Array(await r.arrayBuffer()), data)).toBe(true);
        const p = await fetch(`http://127.0.0.1:${http.port}/`, { redirect: 'manual', headers: { range: 'x' } });
        expect(p.status).toBe(206);
        expect(sameBytes(new Uint8Array(await p.arrayBuffer()), data.subarray(MiB, 2 * MiB))).toBe(true);
      } finally {
        http.stop(true);
      }
      await d.delete('layer');
    });
  });
});
