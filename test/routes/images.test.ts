/**
 * Image routes E3–E10 (v1-api.md §1), the original's tests/test_images.py (§7 items 1, 3, 4, 5),
 * the upload state machine (§3, §4), files/diff (E9, E10, §5) and our HTTP-standard fixes of the
 * original's quirks (ranges, If-Modified-Since, HEAD, trailing slashes, 4xx instead of 500).
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tarsum } from '../../src/checksum/tarsum.ts';
import { FsDriver } from '../../src/storage/fs.ts';
import { MemoryDriver } from '../../src/storage/memory.ts';
import type { StorageDriver } from '../../src/storage/driver.ts';
import { makeApp, randomHex, sha256Payload, type TestApp } from '../helpers/app.ts';
import {
  bytes,
  expectCacheHeaders,
  expectError,
  expectNoCacheHeaders,
  newId,
  putJson,
  putJsonAndLayer,
  upload,
} from '../helpers/layers.ts';
import { randomBytes } from '../../dev/ids.ts';
import { buildTar, gzip, type TarEntry } from '../helpers/tar.ts';

const UPLOADING = 'Image is being uploaded, retry later';
const CHECKSUM_NOT_SET =
  'X-Docker-Checksum-Payload not set.  If you are using the Docker daemon, you should upgrade to version 0.10 or later';
const TOO_OLD = 'This endpoint does not support Docker daemons older than 0.10';

/** Runs `fn` with a fresh app; always closes it. */
async function withApp<T>(fn: (app: TestApp) => Promise<T>, overrides = {}, storage?: StorageDriver): Promise<T> {
  const app = makeApp(overrides, storage);
  try {
    return await fn(app);
  } finally {
    app.close();
  }
}

const tempDirs: string[] = [];
afterAll(async () => {
  await Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** The two drivers layer GETs go through: in-memory Blob and on-disk BunFile (sendfile). */
const drivers: [string, () => Promise<StorageDriver>][] = [
  ['memory', async () => new MemoryDriver()],
  [
    'fs',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'routes-images-'));
      tempDirs.push(dir);
      return new FsDriver(join(dir, 'root'));
    },
  ],
];

const body = async (r: Response) => new Uint8Array(await r.arrayBuffer());

// -------------------------------------------------------------------------------------------------
// tests/test_images.py (§7)
// -------------------------------------------------------------------------------------------------

describe('test_images.py (§7)', () => {
  test('1. test_unset_nginx_accel_redirect_layer: GET layer returns the exact bytes', async () => {
    await withApp(async (app) => {
      const id = newId();
      const layer = randomBytes(1024);
      await upload(app, id, null, layer);
      const r = await app.req('GET', `/v1/images/${id}/layer`);
      expect(r.status).toBe(200);
      expect(r.headers.get('x-accel-redirect')).toBeNull();
      expect(await body(r)).toEqual(layer);
    });
  });

  test('3. test_simple: child ancestry is [child, parent]', async () => {
    await withApp(async (app) => {
      const parent = newId();
      const child = newId();
      await upload(app, parent, null, randomBytes(64));
      await upload(app, child, parent, randomBytes(64));
      const r = await app.req('GET', `/v1/images/${child}/ancestry`);
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual([child, parent]);
    });
  });

  test('4. test_notfound: GET json of a random non-hex id is 404', async () => {
    await withApp(async (app) => {
      const r = await app.req('GET', `/v1/images/${randomHex(16).replace(/[0-9a-f]/, 'z')}/json`);
      await expectError(r, 404, 'Invalid image ID');
      const r2 = await app.req('GET', `/v1/images/${newId()}/json`);
      await expectError(r2, 404, 'Image not found');
    });
  });

  test('5. test_bytes_range: bytes=A-B returns exactly layer[A..B] with 206', async () => {
    await withApp(async (app) => {
      const id = newId();
      const layer = randomBytes(1000);
      await upload(app, id, null, layer);
      for (let i = 0; i < 5; i++) {
        const a = Math.floor(Math.random() * 998);
        const b = a + 1 + Math.floor(Math.random() * (999 - a));
        const r = await app.req('GET', `/v1/images/${id}/layer`, { headers: { Range: `bytes=${a}-${b}` } });
        expect(r.status).toBe(206);
        expect(await body(r)).toEqual(layer.slice(a, b + 1));
      }
    });
  });
});

// -------------------------------------------------------------------------------------------------
// E3 GET layer
// -------------------------------------------------------------------------------------------------

describe('E3 GET /v1/images/{id}/layer', () => {
  test('invalid id → 404 Invalid image ID', async () => {
    await withApp(async (app) => {
      for (const bad of ['ABCDEF0123456789', '0123456789abcde', '0123456789abcdef0', 'zzzzzzzzzzzzzzzz']) {
        await expectError(await app.req('GET', `/v1/images/${bad}/layer`), 404, 'Invalid image ID');
      }
    });
  });

  test('unknown image → 404 Image not found', async () => {
    await withApp(async (app) => {
      await expectError(await app.req('GET', `/v1/images/${newId()}/layer`), 404, 'Image not found');
      await expectError(await app.req('GET', `/v1/images/${randomHex(64)}/layer`), 404, 'Image not found');
    });
  });

  test('in progress (json only, and json + layer) → 400 being uploaded', async () => {
    await withApp(async (app) => {
      const a = newId();
      await putJson(app, a);
      await expectError(await app.req('GET', `/v1/images/${a}/layer`), 400, UPLOADING);
      const b = newId();
      await putJsonAndLayer(app, b, 'layer bytes');
      await expectError(await app.req('GET', `/v1/images/${b}/layer`), 400, UPLOADING);
    });
  });

  for (const [driverName, makeDriver] of drivers) {
    describe(`(${driverName} driver)`, () => {
      const layer = randomBytes(4096);
      const N = layer.byteLength;
      const withLayer = async (fn: (app: TestApp, id: string) => Promise<void>) =>
        withApp(
          async (app) => {
            const id = newId();
            await upload(app, id, null, layer);
            await fn(app, id);
          },
          {},
          await makeDriver(),
        );
      const get = (app: TestApp, id: string, range?: string) =>
        app.req('GET', `/v1/images/${id}/layer`, range === undefined ? {} : { headers: { Range: range } });

      /** headers every layer reply carries */
      const expectLayerHeaders = (r: Response) => {
        expect(r.headers.get('accept-ranges')).toBe('bytes');
        const cd = r.headers.get('content-disposition');
        expect(cd === null || !/filename/i.test(cd)).toBe(true);
        expect(cd).toBe('attachment');
      };

      test('200 whole layer: octet-stream, Content-Length, cache headers, Accept-Ranges', async () => {
        await withLayer(async (app, id) => {
          const r = await get(app, id);
          expect(r.status).toBe(200);
          expect(r.headers.get('content-type')).toBe('application/octet-stream');
          expect(r.headers.get('content-length')).toBe(String(N));
          expect(r.headers.get('content-range')).toBeNull();
          expectLayerHeaders(r);
          expectCacheHeaders(r);
          expect(await body(r)).toEqual(layer);
        });
      });

      const partials: [string, number, number][] = [
        ['bytes=10-99', 10, 99],
        ['bytes=0-0', 0, 0],
        ['bytes=5-5', 5, 5],
        [`bytes=${N - 1}-${N - 1}`, N - 1, N - 1],
        ['bytes=100-', 100, N - 1],
        ['bytes=0-', 0, N - 1],
        ['bytes=-10', N - 10, N - 1],
        [`bytes=-${N + 50}`, 0, N - 1],
        [`bytes=4000-${N + 1000}`, 4000, N - 1],
        ['bytes=0-999999999', 0, N - 1],
      ];
      for (const [range, a, b] of partials) {
        test(`Range ${range} → 206 bytes ${a}-${b}/${N}`, async () => {
          await withLayer(async (app, id) => {
            const r = await get(app, id, range);
            expect(r.status).toBe(206);
            expect(r.headers.get('content-range')).toBe(`bytes ${a}-${b}/${N}`);
            expect(r.headers.get('content-length')).toBe(String(b - a + 1));
            expect(r.headers.get('content-type')).toBe('application/octet-stream');
            expectLayerHeaders(r);
            expectCacheHeaders(r);
            expect(await body(r)).toEqual(layer.slice(a, b + 1));
          });
        });
      }

      for (const range of [`bytes=${N}-`, `bytes=${N}-${N + 10}`, 'bytes=999999-', 'bytes=-0']) {
        test(`Range ${range} → 416 with Content-Range bytes */${N} and a JSON error`, async () => {
          await withLayer(async (app, id) => {
            const r = await get(app, id, range);
            expect(r.headers.get('content-range')).toBe(`bytes */${N}`);
            await expectError(r, 416);
          });
        });
      }

      for (const range of ['bytes=abc', 'items=0-1', 'bytes=0-1,3-4', 'bytes=20-10', 'bytes=-', 'bytes=1-2-3', 'bytes 0-1']) {
        test(`Range ${JSON.stringify(range)} (malformed, multi or reversed) → 200 whole body`, async () => {
          await withLayer(async (app, id) => {
            const r = await get(app, id, range);
            expect(r.status).toBe(200);
            expect(r.headers.get('content-range')).toBeNull();
            expect(r.headers.get('content-length')).toBe(String(N));
            expectLayerHeaders(r);
            expect(await body(r)).toEqual(layer);
          });
        });
      }

      test('0-byte layer: 200 empty body; any Range → 416 bytes */0', async () => {
        await withApp(
          async (app) => {
            const id = newId();
            await upload(app, id, null, new Uint8Array(0));
            const r = await app.req('GET', `/v1/images/${id}/layer`);
            expect(r.status).toBe(200);
            expect(r.headers.get('content-length')).toBe('0');
            expect(r.headers.get('accept-ranges')).toBe('bytes');
            expect((await body(r)).byteLength).toBe(0);
            for (const range of ['bytes=0-0', 'bytes=0-', 'bytes=-1']) {
              const rr = await app.req('GET', `/v1/images/${id}/layer`, { headers: { Range: range } });
              expect(rr.headers.get('content-range')).toBe('bytes */0');
              await expectError(rr, 416);
            }
          },
          {},
          await makeDriver(),
        );
      });

      test('HEAD layer: same status and headers as GET, empty body (also with a Range)', async () => {
        await withLayer(async (app, id) => {
          for (const range of [undefined, 'bytes=1-10']) {
            const headers = range ? { Range: range } : undefined;
            const g = await app.req('GET', `/v1/images/${id}/layer`, { headers });
            const h = await app.req('HEAD', `/v1/images/${id}/layer`, { headers });
            expect(h.status).toBe(g.status);
            for (const name of ['content-type', 'content-length', 'content-range', 'accept-ranges', 'cache-control', 'last-modified']) {
              expect(`${name}: ${h.headers.get(name)}`).toBe(`${name}: ${g.headers.get(name)}`);
            }
            expect((await body(h)).byteLength).toBe(0);
            await g.arrayBuffer();
          }
        });
      });
    });
  }
});

// -------------------------------------------------------------------------------------------------
// If-Modified-Since on the cacheable GETs
// -------------------------------------------------------------------------------------------------

describe('If-Modified-Since (layer, json, ancestry, files, diff)', () => {
  const routes = ['layer', 'json', 'ancestry', 'files', 'diff'] as const;
  for (const route of routes) {
    test(`${route}: 304 when Last-Modified ≤ date; 200 before it or unparsable; 404 missing; 400 in progress`, async () => {
      await withApp(async (app) => {
        const id = newId();
        await upload(app, id, null, await buildTar([{ name: 'a.txt', body: 'A' }]));
        const first = await app.req('GET', `/v1/images/${id}/${route}`);
        expect(first.status).toBe(200);
        const lastModified = first.headers.get('last-modified')!;
        expect(lastModified).not.toBeNull();
        const lm = Date.parse(lastModified);

        for (const date of [lastModified, new Date(lm + 3600_000).toUTCString(), new Date(Date.now() + 86400_000).toUTCString()]) {
          const r = await app.req('GET', `/v1/images/${id}/${route}`, { headers: { 'If-Modified-Since': date } });
          expect(r.status).toBe(304);
          expect(await r.text()).toBe('');
          expect(r.headers.get('last-modified')).toBe(lastModified);
          expect(r.headers.get('cache-control')).toBe('public, max-age=31536000');
        }
        for (const date of [new Date(lm - 1000).toUTCString(), 'Thu, 01 Jan 1970 00:00:00 GMT', 'not a date', '']) {
          const r = await app.req('GET', `/v1/images/${id}/${route}`, { headers: { 'If-Modified-Since': date } });
          expect(`${date}: ${r.status}`).toBe(`${date}: 200`);
          expect((await r.arrayBuffer()).byteLength).toBeGreaterThan(0);
        }

        const future = new Date(Date.now() + 86400_000).toUTCString();
        await expectError(
          await app.req('GET', `/v1/images/${newId()}/${route}`, { headers: { 'If-Modified-Since': future } }),
          404,
          'Image not found',
        );
        await expectError(
          await app.req('GET', `/v1/images/NOT-AN-ID/${route}`, { headers: { 'If-Modified-Since': future } }),
          404,
          'Invalid image ID',
        );
        const pending = newId();
        await putJsonAndLayer(app, pending, 'x');
        await expectError(
          await app.req('GET', `/v1/images/${pending}/${route}`, { headers: { 'If-Modified-Since': future } }),
          400,
          UPLOADING,
        );
      });
    });
  }
});

// -------------------------------------------------------------------------------------------------
// E4 PUT layer
// -------------------------------------------------------------------------------------------------

describe('E4 PUT /v1/images/{id}/layer', () => {
  test('invalid id → 404 Invalid image ID (checked before the client version)', async () => {
    await withApp(async (app) => {
      await expectError(await app.req('PUT', '/v1/images/nothex/layer', { body: 'x' }), 404, 'Invalid image ID');
      await expectError(
        await app.req('PUT', '/v1/images/nothex/layer', { body: 'x', headers: { 'user-agent': 'docker/0.9.1 go/go1.2' } }),
        404,
        'Invalid image ID',
      );
    });
  });

  test('User-Agent docker/0.9.1 → 412; docker/1.0.0 and a UA without docker/ are fine', async () => {
    await withApp(async (app) => {
      const id = newId();
      const json = await putJson(app, id);
      for (const ua of ['docker/0.9.1 go/go1.2.1 os/linux arch/amd64', 'docker/0.9.0-dev', 'docker/0.6.7']) {
        const r = await app.req('PUT', `/v1/images/${id}/layer`, { body: 'abc', headers: { 'user-agent': ua } });
        await expectError(r, 412, TOO_OLD);
      }
      // the refused attempts stored nothing
      await expectError(
        await app.req('PUT', `/v1/images/${id}/checksum`, { headers: { 'X-Docker-Checksum-Payload': sha256Payload(json, 'abc') } }),
        400,
      );
      for (const ua of ['docker/1.0.0 go/go1.2.1 os/linux arch/amd64', 'docker/0.10.0', 'node-docker-registry-client/3.0']) {
        const r = await app.req('PUT', `/v1/images/${id}/layer`, { body: 'abc', headers: { 'user-agent': ua } });
        expect(`${ua}: ${r.status}`).toBe(`${ua}: 200`);
        expect(await r.json()).toBe(true);
      }
    });
  });

  test('no image json → 404 Image not found', async () => {
    await withApp(async (app) => {
      await expectError(await app.req('PUT', `/v1/images/${newId()}/layer`, { body: 'abc' }), 404, 'Image not found');
    });
  });

  test('completed image → 409 Image already exists; the layer is unchanged', async () => {
    await withApp(async (app) => {
      const id = newId();
      await upload(app, id, null, 'original');
      await expectError(await app.req('PUT', `/v1/images/${id}/layer`, { body: 'replacement' }), 409, 'Image already exists');
      const r = await app.req('GET', `/v1/images/${id}/layer`);
      expect(await r.text()).toBe('original');
    });
  });

  test('200 true with JSON headers; re-PUT during the upload replaces the layer and its checksum', async () => {
    await withApp(async (app) => {
      const id = newId();
      const json = await putJson(app, id);
      let r = await app.req('PUT', `/v1/images/${id}/layer`, { body: 'first' });
      expect(r.status).toBe(200);
      expectNoCacheHeaders(r);
      expect(await r.text()).toBe('true');
      r = await app.req('PUT', `/v1/images/${id}/layer`, { body: 'second layer' });
      expect(r.status).toBe(200);
      await expectError(
        await app.req('PUT', `/v1/images/${id}/checksum`, { headers: { 'X-Docker-Checksum-Payload': sha256Payload(json, 'first') } }),
        400,
        'Checksum mismatch',
      );
      r = await app.req('PUT', `/v1/images/${id}/checksum`, { headers: { 'X-Docker-Checksum-Payload': sha256Payload(json, 'second layer') } });
      expect(r.status).toBe(200);
      r = await app.req('GET', `/v1/images/${id}/layer`);
      expect(await r.text()).toBe('second layer');
      r = await app.req('GET', `/v1/images/${id}/json`);
      expect(r.headers.get('x-docker-size')).toBe('12');
    });
  });

  test('a chunked/streamed body is stored whole', async () => {
    await withApp(async (app) => {
      const id = newId();
      const json = await putJson(app, id);
      const layer = randomBytes(300_000);
      let offset = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(c) {
          if (offset >= layer.byteLength) return c.close();
          c.enqueue(layer.slice(offset, offset + 65536));
          offset += 65536;
        },
      });
      let r = await app.req('PUT', `/v1/images/${id}/layer`, { body: stream });
      expect(r.status).toBe(200);
      r = await app.req('PUT', `/v1/images/${id}/checksum`, { headers: { 'X-Docker-Checksum-Payload': sha256Payload(json, layer) } });
      expect(r.status).toBe(200);
      r = await app.req('GET', `/v1/images/${id}/layer`);
      expect(await body(r)).toEqual(layer);
    });
  });

  test('a body stream that errors mid-way → 4xx; image stays in progress with no layer recorded', async () => {
    await withApp(async (app) => {
      const id = newId();
      const json = await putJson(app, id);
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(c) {
          if (sent++ === 0) {
            c.enqueue(bytes('first chunk of the layer'));
            return;
          }
          throw new Error('client went away');
        },
      });
      const r = await app.req('PUT', `/v1/images/${id}/layer`, { body: stream });
      const msg = await expectError(r, 400);
      expect(msg.length).toBeGreaterThan(0);
      // still in progress
      await expectError(await app.req('GET', `/v1/images/${id}/json`), 400, UPLOADING);
      await expectError(await app.req('GET', `/v1/images/${id}/layer`), 400, UPLOADING);
      // no layer recorded: even the checksum of the partial bytes cannot complete it
      await expectError(
        await app.req('PUT', `/v1/images/${id}/checksum`, {
          headers: { 'X-Docker-Checksum-Payload': sha256Payload(json, 'first chunk of the layer') },
        }),
        400,
      );
      await expectError(await app.req('GET', `/v1/images/${id}/json`), 400, UPLOADING);
      // and a retry of the layer then completes
      const ok = await app.req('PUT', `/v1/images/${id}/layer`, { body: 'full layer' });
      expect(ok.status).toBe(200);
      const done = await app.req('PUT', `/v1/images/${id}/checksum`, {
        headers: { 'X-Docker-Checksum-Payload': sha256Payload(json, 'full layer') },
      });
      expect(done.status).toBe(200);
    });
  });
});

// -------------------------------------------------------------------------------------------------
// E5 PUT checksum
// -------------------------------------------------------------------------------------------------

describe('E5 PUT /v1/images/{id}/checksum', () => {
  test('invalid id → 404 Invalid image ID (before the header checks)', async () => {
    await withApp(async (app) => {
      await expectError(await app.req('PUT', '/v1/images/xyz/checksum'), 404, 'Invalid image ID');
      await expectError(
        await app.req('PUT', '/v1/images/XYZ/checksum', { headers: { 'X-Docker-Checksum-Payload': 'sha256:00' } }),
        404,
        'Invalid image ID',
      );
    });
  });

  test('X-Docker-Checksum-Payload absent → 412 with the exact message (even for an unknown image)', async () => {
    await withApp(async (app) => {
      const id = newId();
      await putJsonAndLayer(app, id, 'abc');
      const r = await app.req('PUT', `/v1/images/${id}/checksum`);
      expectNoCacheHeaders(r);
      await expectError(r, 412, CHECKSUM_NOT_SET);
      await expectError(await app.req('PUT', `/v1/images/${newId()}/checksum`), 412, CHECKSUM_NOT_SET);
    });
  });

  test("empty header → 400 Missing Image's checksum", async () => {
    await withApp(async (app) => {
      const id = newId();
      await putJsonAndLayer(app, id, 'abc');
      await expectError(
        await app.req('PUT', `/v1/images/${id}/checksum`, { headers: { 'X-Docker-Checksum-Payload': '' } }),
        400,
        "Missing Image's checksum",
      );
    });
  });

  test('unknown image → 404 Image not found', async () => {
    await withApp(async (app) => {
      await expectError(
        await app.req('PUT', `/v1/images/${newId()}/checksum`, { headers: { 'X-Docker-Checksum-Payload': 'sha256:abc' } }),
        404,
        'Image not found',
      );
    });
  });

  test('completed image → 409 Cannot set this image checksum', async () => {
    await withApp(async (app) => {
      const id = newId();
      const sum = await upload(app, id, null, 'abc');
      for (const value of [sum, 'sha256:0000']) {
        await expectError(
          await app.req('PUT', `/v1/images/${id}/checksum`, { headers: { 'X-Docker-Checksum-Payload': value } }),
          409,
          'Cannot set this image checksum',
        );
      }
    });
  });

  test('before any layer → 400 (not 500)', async () => {
    await withApp(async (app) => {
      const id = newId();
      const json = await putJson(app, id);
      await expectError(
        await app.req('PUT', `/v1/images/${id}/checksum`, { headers: { 'X-Docker-Checksum-Payload': sha256Payload(json, '') } }),
        400,
        'Image layer not uploaded yet',
      );
      await expectError(await app.req('GET', `/v1/images/${id}/json`), 400, UPLOADING);
    });
  });

  test('mismatch → 400 Checksum mismatch; image stays in progress; a retry (json, layer, checksum) succeeds', async () => {
    await withApp(async (app) => {
      const id = newId();
      const json = await putJson(app, id);
      await app.req('PUT', `/v1/images/${id}/layer`, { body: 'the layer' });
      for (const wrong of ['sha256:' + '0'.repeat(64), sha256Payload(json, 'the layer').toUpperCase(), ` ${sha256Payload(json, 'the layer')}x`]) {
        await expectError(
          await app.req('PUT', `/v1/images/${id}/checksum`, { headers: { 'X-Docker-Checksum-Payload': wrong } }),
          400,
          'Checksum mismatch',
        );
      }
      for (const route of ['json', 'layer', 'ancestry', 'files', 'diff']) {
        await expectError(await app.req('GET', `/v1/images/${id}/${route}`), 400, UPLOADING);
      }
      // retry
      const r1 = await app.req('PUT', `/v1/images/${id}/json`, { body: json });
      expect(r1.status).toBe(200);
      const r2 = await app.req('PUT', `/v1/images/${id}/layer`, { body: 'the layer' });
      expect(r2.status).toBe(200);
      const r3 = await app.req('PUT', `/v1/images/${id}/checksum`, { headers: { 'X-Docker-Checksum-Payload': sha256Payload(json, 'the layer') } });
      expect(r3.status).toBe(200);
      expect(await r3.json()).toBe(true);
      const g = await app.req('GET', `/v1/images/${id}/json`);
      expect(g.status).toBe(200);
      expect(await g.text()).toBe(json);
    });
  });

  test('re-PUT json after the layer forgets the old checksum (the layer must be sent again)', async () => {
    await withApp(async (app) => {
      const id = newId();
      const sum = await putJsonAndLayer(app, id, 'layer');
      await putJson(app, id);
      const r = await app.req('PUT', `/v1/images/${id}/checksum`, { headers: { 'X-Docker-Checksum-Payload': sum } });
      await expectError(r, 400);
      await expectError(await app.req('GET', `/v1/images/${id}/json`), 400, UPLOADING);
    });
  });

  test('X-Docker-Checksum tarsum without the payload header: verified against the layer', async () => {
    await withApp(async (app) => {
      const entries: TarEntry[] = [
        { name: 'etc/', type: 'directory', mtime: 1400000000 },
        { name: 'etc/hostname', body: 'box\n', mtime: 1400000000 },
        { name: 'bin/sh', type: 'symlink', linkname: 'busybox', mtime: 1400000000 },
      ];
      for (const layer of [await buildTar(entries), gzip(await buildTar(entries))]) {
        const good = newId();
        const json = await putJson(app, good);
        await app.req('PUT', `/v1/images/${good}/layer`, { body: layer });
        const sum = await tarsum(json, layer);
        expect(sum).toMatch(/^tarsum\+sha256:[0-9a-f]{64}$/);
        const r = await app.req('PUT', `/v1/images/${good}/checksum`, { headers: { 'X-Docker-Checksum': sum } });
        expect(r.status).toBe(200);
        expect(await r.json()).toBe(true);
        const g = await app.req('GET', `/v1/images/${good}/json`);
        expect(g.status).toBe(200);

        const bad = newId();
        const json2 = await putJson(app, bad);
        await app.req('PUT', `/v1/images/${bad}/layer`, { body: layer });
        const wrong = await tarsum(`${json2} `, layer);
        await expectError(
          await app.req('PUT', `/v1/images/${bad}/checksum`, { headers: { 'X-Docker-Checksum': wrong } }),
          400,
          'Checksum mismatch',
        );
        await expectError(await app.req('GET', `/v1/images/${bad}/json`), 400, UPLOADING);
        // the right tarsum afterwards completes it
        const ok = await app.req('PUT', `/v1/images/${bad}/checksum`, { headers: { 'X-Docker-Checksum': await tarsum(json2, layer) } });
        expect(ok.status).toBe(200);
      }
    });
  });

  test('tarsum on a layer that is not a tar → 400 Checksum mismatch', async () => {
    await withApp(async (app) => {
      const id = newId();
      const json = await putJson(app, id);
      await app.req('PUT', `/v1/images/${id}/layer`, { body: 'BZh91AY&SY this is not a tar' });
      await expectError(
        await app.req('PUT', `/v1/images/${id}/checksum`, { headers: { 'X-Docker-Checksum': `tarsum+sha256:${'a'.repeat(64)}` } }),
        400,
        'Checksum mismatch',
      );
      void json;
    });
  });

  test('a payload header wins over X-Docker-Checksum', async () => {
    await withApp(async (app) => {
      const id = newId();
      const sum = await putJsonAndLayer(app, id, 'plain bytes');
      const r = await app.req('PUT', `/v1/images/${id}/checksum`, {
        headers: { 'X-Docker-Checksum-Payload': sum, 'X-Docker-Checksum': 'tarsum+sha256:ignored' },
      });
      expect(r.status).toBe(200);
    });
  });
});

// -------------------------------------------------------------------------------------------------
// E6 GET json, E7 ancestry
// -------------------------------------------------------------------------------------------------

describe('E6 GET /v1/images/{id}/json', () => {
  test('200 byte-for-byte with cache headers, X-Docker-Size and X-Docker-Checksum-Payload', async () => {
    await withApp(async (app) => {
      const id = newId();
      const json = `{ "id" : "${id}",\n  "created": "2014-01-01T00:00:00Z", "zzz": [1,2], "aaa": "\u00e9" }`;
      let r = await app.req('PUT', `/v1/images/${id}/json`, { body: json });
      expect(r.status).toBe(200);
      const layer = randomBytes(777);
      r = await app.req('PUT', `/v1/images/${id}/layer`, { body: layer });
      expect(r.status).toBe(200);
      const sum = sha256Payload(json, layer);
      r = await app.req('PUT', `/v1/images/${id}/checksum`, { headers: { 'X-Docker-Checksum-Payload': sum } });
      expect(r.status).toBe(200);
      r = await app.req('GET', `/v1/images/${id}/json`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('application/json');
      expect(r.headers.get('x-docker-size')).toBe('777');
      expect(r.headers.get('x-docker-checksum-payload')).toBe(sum);
      expectCacheHeaders(r);
      expect(await body(r)).toEqual(bytes(json));
    });
  });

  test('invalid id 404, unknown 404, in progress 400', async () => {
    await withApp(async (app) => {
      await expectError(await app.req('GET', '/v1/images/0123/json'), 404, 'Invalid image ID');
      await expectError(await app.req('GET', `/v1/images/${newId()}/json`), 404, 'Image not found');
      const id = newId();
      await putJson(app, id);
      await expectError(await app.req('GET', `/v1/images/${id}/json`), 400, UPLOADING);
    });
  });

  test('64-character ids work', async () => {
    await withApp(async (app) => {
      const id = randomHex(64);
      await upload(app, id, null, 'x');
      const r = await app.req('GET', `/v1/images/${id}/json`);
      expect(r.status).toBe(200);
      expect(JSON.parse(await r.text()).id).toBe(id);
    });
  });
});

describe('E7 GET /v1/images/{id}/ancestry', () => {
  test('three generations, self first; JSON array with ", " separators and cache headers', async () => {
    await withApp(async (app) => {
      const [a, b, c] = [newId(), newId(), newId()];
      await upload(app, a, null, 'a');
      await upload(app, b, a, 'b');
      await upload(app, c, b, 'c');
      const r = await app.req('GET', `/v1/images/${c}/ancestry`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('application/json');
      expectCacheHeaders(r);
      expect(await r.text()).toBe(`["${c}", "${b}", "${a}"]`);
      const root = await app.req('GET', `/v1/images/${a}/ancestry`);
      expect(await root.text()).toBe(`["${a}"]`);
    });
  });

  test('invalid id 404, unknown 404, in progress 400', async () => {
    await withApp(async (app) => {
      await expectError(await app.req('GET', '/v1/images/g123456789abcdef/ancestry'), 404, 'Invalid image ID');
      await expectError(await app.req('GET', `/v1/images/${newId()}/ancestry`), 404, 'Image not found');
      const id = newId();
      await putJsonAndLayer(app, id, 'x');
      await expectError(await app.req('GET', `/v1/images/${id}/ancestry`), 400, UPLOADING);
    });
  });
});

// -------------------------------------------------------------------------------------------------
// E8 PUT json
// -------------------------------------------------------------------------------------------------

describe('E8 PUT /v1/images/{id}/json', () => {
  const put = (app: TestApp, id: string, b: string | Uint8Array, headers?: Record<string, string>) =>
    app.req('PUT', `/v1/images/${id}/json`, { body: b, headers });

  test('invalid id → 404 Invalid image ID (before the body is looked at)', async () => {
    await withApp(async (app) => {
      await expectError(await put(app, 'ABCDEFABCDEFABCD', '{"id": "ABCDEFABCDEFABCD"}'), 404, 'Invalid image ID');
      await expectError(await put(app, 'short', 'not json'), 404, 'Invalid image ID');
    });
  });

  test('1. not a non-empty JSON object → 400 Invalid JSON', async () => {
    await withApp(async (app) => {
      const id = newId();
      const bodies: (string | Uint8Array)[] = [
        '',
        'not json',
        '{',
        '{}',
        '[]',
        `["${id}"]`,
        `"${id}"`,
        '42',
        'null',
        'true',
        new Uint8Array([0x7b, 0x22, 0x69, 0x64, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), // {"id":"\xff\xfe"}
        new Uint8Array([0xc3, 0x28]),
      ];
      for (const b of bodies) {
        const r = await put(app, id, b);
        await expectError(r, 400, 'Invalid JSON');
      }
      await expectError(await app.req('GET', `/v1/images/${id}/json`), 404, 'Image not found');
    });
  });

  test("2. no id → 400 Missing key `id' in JSON (before the parent check)", async () => {
    await withApp(async (app) => {
      const id = newId();
      await expectError(await put(app, id, '{"parent": "0000000000000000"}'), 400, "Missing key `id' in JSON");
      await expectError(await put(app, id, '{"Id": "x"}'), 400, "Missing key `id' in JSON");
    });
  });

  test('3. id differs from the URL → 400 JSON data contains invalid id', async () => {
    await withApp(async (app) => {
      const id = newId();
      for (const other of [newId(), id.toUpperCase(), `${id} `, 42, null]) {
        await expectError(
          await put(app, id, JSON.stringify({ id: other, parent: newId() })),
          400,
          'JSON data contains invalid id',
        );
      }
    });
  });

  test('5. parent not existing → 400 Image depends on a non existing parent', async () => {
    await withApp(async (app) => {
      const id = newId();
      for (const parent of [newId(), randomHex(64), 'not-an-id']) {
        await expectError(await put(app, id, JSON.stringify({ id, parent })), 400, 'Image depends on a non existing parent');
      }
      await expectError(await app.req('GET', `/v1/images/${id}/json`), 404, 'Image not found');
    });
  });

  test('a falsy parent is no parent', async () => {
    await withApp(async (app) => {
      for (const parent of ['', null]) {
        const id = newId();
        const json = JSON.stringify({ id, parent });
        expect((await put(app, id, json)).status).toBe(200);
        await app.req('PUT', `/v1/images/${id}/layer`, { body: 'l' });
        const c = await app.req('PUT', `/v1/images/${id}/checksum`, { headers: { 'X-Docker-Checksum-Payload': sha256Payload(json, 'l') } });
        expect(c.status).toBe(200);
        expect(await (await app.req('GET', `/v1/images/${id}/ancestry`)).json()).toEqual([id]);
      }
    });
  });

  test('the parent may still be in progress; ancestry includes it', async () => {
    await withApp(async (app) => {
      const parent = newId();
      await putJson(app, parent);
      const child = newId();
      const json = JSON.stringify({ id: child, parent });
      const r = await put(app, child, json);
      expect(r.status).toBe(200);
      expect(await r.json()).toBe(true);
      await app.req('PUT', `/v1/images/${child}/layer`, { body: 'c' });
      const c = await app.req('PUT', `/v1/images/${child}/checksum`, { headers: { 'X-Docker-Checksum-Payload': sha256Payload(json, 'c') } });
      expect(c.status).toBe(200);
      expect(await (await app.req('GET', `/v1/images/${child}/ancestry`)).json()).toEqual([child, parent]);
    });
  });

  test('7. completed → 409 Image already exists; re-PUT during the upload is allowed', async () => {
    await withApp(async (app) => {
      const id = newId();
      const first = JSON.stringify({ id, comment: 'first' });
      expect((await put(app, id, first)).status).toBe(200);
      const second = JSON.stringify({ id, comment: 'second' });
      const again = await put(app, id, second);
      expect(again.status).toBe(200);
      expectNoCacheHeaders(again);
      expect(await again.text()).toBe('true');
      await app.req('PUT', `/v1/images/${id}/layer`, { body: 'L' });
      const c = await app.req('PUT', `/v1/images/${id}/checksum`, { headers: { 'X-Docker-Checksum-Payload': sha256Payload(second, 'L') } });
      expect(c.status).toBe(200);
      await expectError(await put(app, id, first), 409, 'Image already exists');
      await expectError(await put(app, id, 'garbage'), 400, 'Invalid JSON');
      expect(await (await app.req('GET', `/v1/images/${id}/json`)).text()).toBe(second);
    });
  });

  test('the body is read whatever its Content-Type (form-urlencoded, none, text/plain)', async () => {
    await withApp(async (app) => {
      for (const ct of ['application/x-www-form-urlencoded', undefined, 'text/plain', 'multipart/form-data; boundary=x', 'application/octet-stream']) {
        const id = newId();
        const json = JSON.stringify({ id });
        const r = await app.req('PUT', `/v1/images/${id}/json`, {
          body: new Blob([json]).stream(),
          headers: ct ? { 'Content-Type': ct } : {},
        });
        expect(`${ct}: ${r.status}`).toBe(`${ct}: 200`);
        await app.req('PUT', `/v1/images/${id}/layer`, { body: 'x', headers: ct ? { 'Content-Type': ct } : {} });
        const c = await app.req('PUT', `/v1/images/${id}/checksum`, { headers: { 'X-Docker-Checksum-Payload': sha256Payload(json, 'x') } });
        expect(c.status).toBe(200);
        expect(await (await app.req('GET', `/v1/images/${id}/json`)).text()).toBe(json);
      }
    });
  });

  test('a body over the JSON limit → 413', async () => {
    await withApp(async (app) => {
      const id = newId();
      const big = JSON.stringify({ id, pad: 'x'.repeat(4 * 1024 * 1024 + 10) });
      await expectError(await put(app, id, big), 413);
      await expectError(await app.req('GET', `/v1/images/${id}/json`), 404, 'Image not found');
    });
  });
});

// -------------------------------------------------------------------------------------------------
// E9 files, E10 diff
// -------------------------------------------------------------------------------------------------

type Row = [string, string, boolean, number, number, number, number, number];

describe('E9 GET /v1/images/{id}/files', () => {
  const T = 1400000000;
  const entries: TarEntry[] = [
    { name: './', type: 'directory', mtime: T },
    { name: './etc/', type: 'directory', mtime: T },
    { name: './etc/hostname', body: 'box\n', mtime: T + 1, uid: 1000, gid: 100 },
    { name: './etc/.wh.shadow', mtime: T },
    { name: './.wh..wh.plnk/', type: 'directory', mtime: T },
    { name: './.wh..wh.plnk/123.456', body: 'x', mtime: T },
    { name: './bin/sh', type: 'symlink', linkname: 'busybox', mtime: T, mode: 0o777 },
    { name: 'usr/lib/x.so', body: new Uint8Array(1500), mtime: T, mode: 0o755 },
  ];
  const expected: Row[] = [
    ['/', 'd', false, 0, T, 0o755, 0, 0],
    ['/etc', 'd', false, 0, T, 0o755, 0, 0],
    ['/etc/hostname', 'f', false, 4, T + 1, 0o644, 1000, 100],
    ['/etc/shadow', 'f', true, 0, T, 0o644, 0, 0],
    ['/bin/sh', 's', false, 0, T, 0o777, 0, 0],
    ['/usr/lib/x.so', 'f', false, 1500, T, 0o755, 0, 0],
  ];

  for (const [kind, make] of [
    ['plain tar', async () => buildTar(entries)],
    ['gzip tar', async () => gzip(await buildTar(entries))],
  ] as const) {
    test(`${kind}: entries per E9 (absolute paths, whiteouts deleted, .wh..wh. dropped), cacheable`, async () => {
      await withApp(async (app) => {
        const id = newId();
        await upload(app, id, null, await make());
        for (let i = 0; i < 2; i++) {
          const r = await app.req('GET', `/v1/images/${id}/files`);
          expect(r.status).toBe(200);
          expect(r.headers.get('content-type')).toBe('application/json');
          expectCacheHeaders(r);
          expect(await r.json()).toEqual(expected);
        }
      });
    });
  }

  test('an empty (0-byte) layer lists as []', async () => {
    await withApp(async (app) => {
      const id = newId();
      await upload(app, id, null, new Uint8Array(0));
      const r = await app.req('GET', `/v1/images/${id}/files`);
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual([]);
    });
  });

  for (const [kind, layer] of [
    ['text', bytes('this is not a tar archive '.repeat(40))],
    ['bzip2 magic', bytes('BZh91AY&SY' + 'z'.repeat(600))],
    ['corrupt gzip', new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9])],
    ['random bytes', crypto.getRandomValues(new Uint8Array(2048))],
  ] as const) {
    test(`non-tar layer (${kind}) → 400 Layer format not supported`, async () => {
      await withApp(async (app) => {
        const id = newId();
        await upload(app, id, null, layer);
        await expectError(await app.req('GET', `/v1/images/${id}/files`), 400, 'Layer format not supported');
        // the image itself is fine
        expect((await app.req('GET', `/v1/images/${id}/json`)).status).toBe(200);
      });
    });
  }

  test('invalid id 404, unknown 404, in progress 400', async () => {
    await withApp(async (app) => {
      await expectError(await app.req('GET', '/v1/images/nothex/files'), 404, 'Invalid image ID');
      await expectError(await app.req('GET', `/v1/images/${newId()}/files`), 404, 'Image not found');
      const id = newId();
      await putJsonAndLayer(app, id, await buildTar([{ name: 'a' }]));
      await expectError(await app.req('GET', `/v1/images/${id}/files`), 400, UPLOADING);
    });
  });
});

describe('E10 GET /v1/images/{id}/diff', () => {
  const T = 1400000000;
  test('child deletes, changes and creates files → the three buckets of §5', async () => {
    await withApp(async (app) => {
      const parent = newId();
      const child = newId();
      await upload(
        app,
        parent,
        null,
        await buildTar([
          { name: 'gone.txt', body: 'old', mtime: T },
          { name: 'edit.txt', body: 'v1', mtime: T },
          { name: 'same.txt', body: 'same', mtime: T },
        ]),
      );
      await upload(
        app,
        child,
        parent,
        gzip(
          await buildTar([
            { name: '.wh.gone.txt', mtime: T + 5 },
            { name: 'edit.txt', body: 'version 2', mtime: T + 5 },
            { name: 'new.txt', body: 'brand new', mtime: T + 5, mode: 0o600 },
          ]),
        ),
      );
      const r = await app.req('GET', `/v1/images/${child}/diff`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('application/json');
      expectCacheHeaders(r);
      expect(await r.json()).toEqual({
        deleted: { '/gone.txt': ['f', true, 0, T + 5, 0o644, 0, 0] },
        changed: { '/edit.txt': ['f', false, 9, T + 5, 0o644, 0, 0] },
        created: { '/new.txt': ['f', false, 9, T + 5, 0o600, 0, 0] },
      });
      // cached: same answer again
      const again = await app.req('GET', `/v1/images/${child}/diff`);
      expect(again.status).toBe(200);
      expect(await again.json()).toEqual({
        deleted: { '/gone.txt': ['f', true, 0, T + 5, 0o644, 0, 0] },
        changed: { '/edit.txt': ['f', false, 9, T + 5, 0o644, 0, 0] },
        created: { '/new.txt': ['f', false, 9, T + 5, 0o600, 0, 0] },
      });
    });
  });

  test('a file deleted in the parent and re-created in the child is created; grandparent files are changed', async () => {
    await withApp(async (app) => {
      const [a, b, c] = [newId(), newId(), newId()];
      await upload(app, a, null, await buildTar([{ name: 'x', body: '1', mtime: T }, { name: 'y', body: '1', mtime: T }]));
      await upload(app, b, a, await buildTar([{ name: '.wh.x', mtime: T }]));
      await upload(app, c, b, await buildTar([{ name: 'x', body: '22', mtime: T }, { name: 'y', body: '22', mtime: T }]));
      const r = await app.req('GET', `/v1/images/${c}/diff`);
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual({
        deleted: {},
        changed: { '/y': ['f', false, 2, T, 0o644, 0, 0] },
        created: { '/x': ['f', false, 2, T, 0o644, 0, 0] },
      });
    });
  });

  test('a root image: everything is created', async () => {
    await withApp(async (app) => {
      const id = newId();
      await upload(app, id, null, await buildTar([{ name: 'a', body: 'A', mtime: T }]));
      const r = await app.req('GET', `/v1/images/${id}/diff`);
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual({ deleted: {}, changed: {}, created: { '/a': ['f', false, 1, T, 0o644, 0, 0] } });
    });
  });

  test('non-tar layer → 400 Layer format not supported; invalid id 404; unknown 404; in progress 400', async () => {
    await withApp(async (app) => {
      const id = newId();
      await upload(app, id, null, 'definitely not a tar file, just some words '.repeat(20));
      await expectError(await app.req('GET', `/v1/images/${id}/diff`), 400, 'Layer format not supported');
      await expectError(await app.req('GET', '/v1/images/nothex/diff'), 404, 'Invalid image ID');
      await expectError(await app.req('GET', `/v1/images/${newId()}/diff`), 404, 'Image not found');
      const p = newId();
      await putJson(app, p);
      await expectError(await app.req('GET', `/v1/images/${p}/diff`), 400, UPLOADING);
    });
  });
});

// -------------------------------------------------------------------------------------------------
// HEAD, trailing slashes, unknown paths
// -------------------------------------------------------------------------------------------------

describe('HEAD, trailing slashes and unknown paths', () => {
  test('HEAD on json, ancestry, files, diff: same status and headers as GET, empty body', async () => {
    await withApp(async (app) => {
      const id = newId();
      await upload(app, id, null, await buildTar([{ name: 'f', body: 'x' }]));
      const pending = newId();
      await putJson(app, pending);
      for (const path of [
        `/v1/images/${id}/json`,
        `/v1/images/${id}/ancestry`,
        `/v1/images/${id}/files`,
        `/v1/images/${id}/diff`,
        `/v1/images/${newId()}/json`,
        `/v1/images/${pending}/ancestry`,
        '/v1/images/BAD/layer',
      ]) {
        const g = await app.req('GET', path);
        const gBody = await g.text();
        const h = await app.req('HEAD', path);
        expect(`${path}: ${h.status}`).toBe(`${path}: ${g.status}`);
        for (const name of ['content-type', 'cache-control', 'last-modified', 'x-docker-size', 'x-docker-checksum-payload', 'pragma']) {
          expect(`${path} ${name}: ${h.headers.get(name)}`).toBe(`${path} ${name}: ${g.headers.get(name)}`);
        }
        const hl = h.headers.get('content-length');
        if (hl !== null) expect(Number(hl)).toBe(bytes(gBody).byteLength);
        expect(await h.text()).toBe('');
      }
    });
  });

  test('a trailing slash works on every image route, without a redirect', async () => {
    await withApp(async (app) => {
      const id = newId();
      const json = JSON.stringify({ id });
      let r = await app.req('PUT', `/v1/images/${id}/json/`, { body: json });
      expect(r.status).toBe(200);
      r = await app.req('PUT', `/v1/images/${id}/layer/`, { body: await buildTar([{ name: 'a', body: 'b' }]) });
      expect(r.status).toBe(200);
      const layer = await buildTar([{ name: 'a', body: 'b' }]);
      r = await app.req('PUT', `/v1/images/${id}/checksum/`, { headers: { 'X-Docker-Checksum-Payload': sha256Payload(json, layer) } });
      expect(r.status).toBe(200);
      for (const route of ['json', 'ancestry', 'layer', 'files', 'diff']) {
        r = await app.req('GET', `/v1/images/${id}/${route}/`);
        expect(`${route}/: ${r.status}`).toBe(`${route}/: 200`);
        await r.arrayBuffer();
      }
    });
  });

  test('unknown image sub-paths and wrong methods → 4xx JSON, never 500', async () => {
    await withApp(async (app) => {
      const id = newId();
      await expectError(await app.req('GET', `/v1/images/${id}/bogus`), 404, 'Not found');
      await expectError(await app.req('GET', `/v1/images/${id}`), 404, 'Not found');
      await expectError(await app.req('GET', '/v1/images'), 404, 'Not found');
      await expectError(await app.req('GET', `/v1/images/${id}/json/extra`), 404, 'Not found');
      for (const [method, route] of [
        ['POST', 'json'],
        ['DELETE', 'layer'],
        ['GET', 'checksum'],
        ['PATCH', 'ancestry'],
      ]) {
        const r = await app.req(method!, `/v1/images/${id}/${route}`);
        expect([404, 405]).toContain(r.status);
        await expectError(r, r.status);
      }
    });
  });
});
