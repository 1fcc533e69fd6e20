/**
 * The StorageDriver contract, run against every driver (test/storage/<driver>.test.ts pass a
 * constructor). Modelled on distribution's DriverSuite (registry/storage/driver/testsuites) and
 * the original docker-registry driver tests. Deliberately not a *.test.ts file: it only registers
 * cases when a driver test calls `runDriverSuite`.
 *
 * A driver that cannot honour a case passes `opts.skip[caseTitle] = reason`; the reason is shown
 * in the skipped test's title, and an unknown title in the skip list fails the suite.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import { InvalidKeyError, PathNotFoundError, StorageError } from '../../src/storage/driver.ts';
import type { FileWriter, StorageDriver } from '../../src/storage/driver.ts';

/** What `make` hands the suite for one test case. */
export interface DriverHarness {
  driver: StorageDriver;
  cleanup: () => Promise<void>;
  /** Driver-private temp entries left over (fs: names in `.tmp`); checked after each case. */
  tempEntries?: () => Promise<string[]>;
}

export interface DriverSuiteOptions {
  /** Case title -> reason the driver cannot honour it. */
  skip?: Record<string, string>;
  /**
   * Whether `concat` composes objects on the storage's side where S3's part rules allow (s3 with
   * credentials); false (fs, memory): it always answers false and the caller streams.
   */
  composes?: boolean;
}

const MiB = 1024 * 1024;

/** Why the s3 driver skips the writerAt cases. */
export const S3_CANNOT_CONTINUE = 'an S3 object cannot grow in place (canContinue is false; V2 uploads keep one object per chunk there)';

/** Deterministic pseudo-random bytes (xorshift32), so failures are reproducible. */
export function patternBytes(size: number, seed = 1): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 0x9e3779b9;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

function allByteValues(): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(256);
  for (let i = 0; i < 256; i++) out[i] = i;
  return out;
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function blobBytes(blob: Blob): Promise<Uint8Array> {
  return new Uint8Array(await blob.arrayBuffer());
}

/** Compares bytes without dumping megabytes into the failure message. */
function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.byteLength).toBe(expected.byteLength);
  let mismatch = -1;
  for (let i = 0; i < expected.byteLength; i++) {
    if (actual[i] !== expected[i]) {
      mismatch = i;
      break;
    }
  }
  expect(mismatch).toBe(-1);
}

/** The error `fn` throws or rejects with; fails when it succeeds. */
async function caught(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

async function writeChunks(w: FileWriter, data: Uint8Array, chunkSize: number): Promise<void> {
  for (let off = 0; off < data.byteLength; off += chunkSize) {
    await w.write(data.subarray(off, Math.min(off + chunkSize, data.byteLength)));
  }
}

/** Keys every driver must reject; `''` is excluded for `list`, where it names the root. */
const INVALID_KEYS: readonly string[] = [
  '../x',
  '/abs',
  'a//b',
  '.hidden',
  'a/../b',
  'A',
  '',
  'a\u0000b',
  '%2e%2e',
  'a/',
  'a/./b',
];

export function runDriverSuite(
  name: string,
  make: () => Promise<DriverHarness>,
  opts: DriverSuiteOptions = {},
): void {
  const skip = opts.skip ?? {};
  const composes = opts.composes ?? false;
  const titles = new Set<string>();

  describe(`${name} driver contract`, () => {
    let h: DriverHarness;
    let d: StorageDriver;

    beforeEach(async () => {
      h = await make();
      d = h.driver;
    });

    afterEach(async () => {
      try {
        if (h.tempEntries) expect(await h.tempEntries()).toEqual([]);
      } finally {
        await h.cleanup();
      }
    });

    const expectNoTemp = async (): Promise<void> => {
      if (h.tempEntries) expect(await h.tempEntries()).toEqual([]);
    };

    const it = (title: string, fn: () => Promise<void>, timeoutMs?: number): void => {
      titles.add(title);
      const reason = skip[title];
      if (reason !== undefined) test.skip(`${title} (skipped: ${reason})`, fn);
      else test(title, fn, timeoutMs);
    };

    // ---- missing keys -------------------------------------------------------------------------

    it('stat of a missing key throws PathNotFoundError', async () => {
      expect(await caught(() => d.stat('missing/key'))).toBeInstanceOf(PathNotFoundError);
    });

    it('read of a missing key throws PathNotFoundError (with and without range)', async () => {
      expect(await caught(() => d.read('missing'))).toBeInstanceOf(PathNotFoundError);
      expect(await caught(() => d.read('missing', { start: 0, end: 0 }))).toBeInstanceOf(
        PathNotFoundError,
      );
    });

    it('blob and getContent of a missing key throw PathNotFoundError', async () => {
      expect(await caught(() => d.blob('missing'))).toBeInstanceOf(PathNotFoundError);
      expect(await caught(() => d.getContent('missing'))).toBeInstanceOf(PathNotFoundError);
    });

    it('delete and list of a missing key throw PathNotFoundError', async () => {
      expect(await caught(() => d.delete('missing'))).toBeInstanceOf(PathNotFoundError);
      expect(await caught(() => d.list('missing'))).toBeInstanceOf(PathNotFoundError);
      expect(await caught(() => d.stat('other'))).toBeInstanceOf(PathNotFoundError);
    });

    it('a missing key under an existing object is not found', async () => {
      await d.putContent('obj', 'x');
      expect(await caught(() => d.stat('obj/child'))).toBeInstanceOf(PathNotFoundError);
      expect(await caught(() => d.getContent('obj/child'))).toBeInstanceOf(PathNotFoundError);
    });

    it('read-type methods on a prefix throw PathNotFoundError', async () => {
      await d.putContent('dir/file', 'x');
      expect(await caught(() => d.getContent('dir'))).toBeInstanceOf(PathNotFoundError);
      expect(await caught(() => d.read('dir'))).toBeInstanceOf(PathNotFoundError);
      expect(await caught(() => d.blob('dir'))).toBeInstanceOf(PathNotFoundError);
    });

    it('list of the empty root returns no keys', async () => {
      expect(await d.list('')).toEqual([]);
    });

    // ---- round trips --------------------------------------------------------------------------

    it('empty object round trip', async () => {
      const w = await d.writer('empty');
      expect(w.size).toBe(0);
      await w.commit();
      const st = await d.stat('empty');
      expect(st.size).toBe(0);
      expect(st.isDir).toBe(false);
      expect((await d.getContent('empty')).byteLength).toBe(0);
      expect((await drain(await d.read('empty'))).byteLength).toBe(0);
      expect((await d.blob('empty')).size).toBe(0);
      await d.putContent('empty2', new Uint8Array(0));
      expect((await d.stat('empty2')).size).toBe(0);
      await expectNoTemp();
    });

    it('single byte round trip', async () => {
      const w = await d.writer('one/byte');
      await w.write(new Uint8Array([0x2a]));
      await w.commit();
      expectBytes(await d.getContent('one/byte'), new Uint8Array([0x2a]));
      expectBytes(await drain(await d.read('one/byte')), new Uint8Array([0x2a]));
      expect((await d.stat('one/byte')).size).toBe(1);
    });

    it('binary round trip with all 256 byte values', async () => {
      const data = allByteValues();
      const w = await d.writer('bin/writer');
      await writeChunks(w, data, 7);
      await w.commit();
      await d.putContent('bin/put', data);
      for (const key of ['bin/writer', 'bin/put']) {
        expectBytes(await d.getContent(key), data);
        expectBytes(await drain(await d.read(key)), data);
        expectBytes(await blobBytes(await d.blob(key)), data);
      }
    });

    it(
      '5 MiB round trip through the writer in uneven chunks',
      async () => {
        const data = patternBytes(5 * MiB, 5);
        const w = await d.writer('big/object');
        await writeChunks(w, data, 64 * 1024 + 3);
        expect(w.size).toBe(data.byteLength);
        await w.commit();
        expect((await d.stat('big/object')).size).toBe(data.byteLength);
        expectBytes(await drain(await d.read('big/object')), data);
        expectBytes(await blobBytes(await d.blob('big/object')), data);
        await expectNoTemp();
      },
      30_000,
    );

    it('unicode text via putContent', async () => {
      const text = 'héllo wörld ✓ 日本語 🐳\n\u0000end';
      await d.putContent('text/unicode', text);
      const bytes = await d.getContent('text/unicode');
      expect(new TextDecoder().decode(bytes)).toBe(text);
      expect((await d.stat('text/unicode')).size).toBe(new TextEncoder().encode(text).byteLength);
    });

    it('many small writes keep their order', async () => {
      const data = patternBytes(3000, 9);
      const w = await d.writer('small/writes');
      await writeChunks(w, data, 3);
      await w.commit();
      expectBytes(await d.getContent('small/writes'), data);
    });

    it('writes issued without awaiting land in order', async () => {
      const data = patternBytes(64 * 1024, 11);
      const w = await d.writer('unawaited');
      const pending: Promise<void>[] = [];
      for (let off = 0; off < data.byteLength; off += 1000) {
        pending.push(w.write(data.subarray(off, Math.min(off + 1000, data.byteLength))));
      }
      await Promise.all(pending);
      await w.commit();
      expectBytes(await d.getContent('unawaited'), data);
    });

    it('stored data does not alias caller buffers', async () => {
      const chunk = new Uint8Array([1, 2, 3]);
      const w = await d.writer('alias/writer');
      await w.write(chunk);
      chunk.fill(9);
      await w.commit();
      expectBytes(await d.getContent('alias/writer'), new Uint8Array([1, 2, 3]));

      const put = new Uint8Array([4, 5, 6]);
      await d.putContent('alias/put', put);
      put.fill(0);
      const got = await d.getContent('alias/put');
      expectBytes(got, new Uint8Array([4, 5, 6]));
      got.fill(7);
      expectBytes(await d.getContent('alias/put'), new Uint8Array([4, 5, 6]));
    });

    it('stat reports size, modTime and isDir', async () => {
      const before = Date.now() - 2000;
      await d.putContent('st/file', 'abc');
      const file = await d.stat('st/file');
      expect(file).toMatchObject({ size: 3, isDir: false });
      expect(file.modTime).toBeInstanceOf(Date);
      expect(file.modTime.getTime()).toBeGreaterThanOrEqual(before);
      expect(file.modTime.getTime()).toBeLessThanOrEqual(Date.now() + 2000);
      const dir = await d.stat('st');
      expect(dir.isDir).toBe(true);
    });

    // ---- overwrite and visibility -------------------------------------------------------------

    it('overwrite replaces the whole object atomically', async () => {
      await d.putContent('ow', 'a much longer original value');
      await d.putContent('ow', 'short');
      expect(new TextDecoder().decode(await d.getContent('ow'))).toBe('short');

      const w = await d.writer('ow');
      await w.write(new TextEncoder().encode('replacement in progress'));
      // The old value stays fully readable until commit.
      expect(new TextDecoder().decode(await d.getContent('ow'))).toBe('short');
      expect((await d.stat('ow')).size).toBe(5);
      await w.commit();
      expect(new TextDecoder().decode(await d.getContent('ow'))).toBe('replacement in progress');
      await expectNoTemp();
    });

    it('a writer is not visible before commit', async () => {
      await d.putContent('vis/other', 'x');
      const w = await d.writer('vis/pending');
      await w.write(patternBytes(1000));
      expect(await caught(() => d.stat('vis/pending'))).toBeInstanceOf(PathNotFoundError);
      expect(await caught(() => d.getContent('vis/pending'))).toBeInstanceOf(PathNotFoundError);
      expect(await d.list('vis')).toEqual(['vis/other']);
      expect(await d.list('')).toEqual(['vis']);
      const w2 = await d.writer('hidden/deep/pending');
      await w2.write(new Uint8Array([1]));
      expect(await d.list('')).toEqual(['vis']);
      expect(await caught(() => d.stat('hidden'))).toBeInstanceOf(PathNotFoundError);
      await w.commit();
      await w2.cancel();
      expect(await d.list('vis')).toEqual(['vis/other', 'vis/pending']);
    });

    it('cancel leaves nothing behind', async () => {
      const w = await d.writer('cancelled/key');
      await w.cancel();
      expect(await caught(() => d.stat('cancelled/key'))).toBeInstanceOf(PathNotFoundError);
      expect(await d.list('')).toEqual([]);
      await expectNoTemp();
    });

    it('cancel after partial writes discards them; cancel twice is harmless', async () => {
      const w = await d.writer('partial/key');
      await w.write(patternBytes(4096, 2));
      await w.write(patternBytes(4096, 3));
      await w.cancel();
      await w.cancel();
      expect(await caught(() => d.stat('partial/key'))).toBeInstanceOf(PathNotFoundError);
      expect(await caught(() => d.list('partial'))).toBeInstanceOf(PathNotFoundError);
      expect(await caught(() => w.write(new Uint8Array([1])))).toBeInstanceOf(StorageError);
      await expectNoTemp();
    });

    it('writer size counts bytes written', async () => {
      const w = await d.writer('sized');
      expect(w.size).toBe(0);
      await w.write(new Uint8Array(10));
      expect(w.size).toBe(10);
      await w.write(new Uint8Array(0));
      expect(w.size).toBe(10);
      await w.write(new Uint8Array(4096));
      expect(w.size).toBe(4106);
      await w.commit();
      expect((await d.stat('sized')).size).toBe(4106);
    });

    it('commit twice and cancel after commit are harmless', async () => {
      const w = await d.writer('twice');
      await w.write(new Uint8Array([7, 7]));
      await w.commit();
      await w.commit();
      await w.cancel();
      expectBytes(await d.getContent('twice'), new Uint8Array([7, 7]));
      expect(await caught(() => w.write(new Uint8Array([1])))).toBeInstanceOf(StorageError);
      await expectNoTemp();
    });

    it('commit after cancel throws and stores nothing', async () => {
      const w = await d.writer('late');
      await w.write(new Uint8Array([1]));
      await w.cancel();
      expect(await caught(() => w.commit())).toBeInstanceOf(StorageError);
      expect(await caught(() => d.stat('late'))).toBeInstanceOf(PathNotFoundError);
      await expectNoTemp();
    });

    // ---- ranges and blobs ---------------------------------------------------------------------

    it('ranged reads return exactly the inclusive range', async () => {
      const data = patternBytes(10_000, 4);
      await d.putContent('range/obj', data);
      const cases: [number, number][] = [
        [0, 0],
        [9999, 9999],
        [0, 9999],
        [1234, 5678],
        [4096, 8191],
      ];
      for (const [start, end] of cases) {
        const got = await drain(await d.read('range/obj', { start, end }));
        expectBytes(got, data.subarray(start, end + 1));
      }
    });

    it('a range past the end is clamped; one starting past the end is empty', async () => {
      const data = patternBytes(100, 6);
      await d.putContent('clamp', data);
      const tail = await drain(await d.read('clamp', { start: 90, end: 10_000 }));
      expectBytes(tail, data.subarray(90));
      expectBytes(await drain(await d.read('clamp', { start: 0, end: 100 })), data);
      expect((await drain(await d.read('clamp', { start: 100, end: 200 }))).byteLength).toBe(0);
    });

    it('an invalid range is rejected with StorageError', async () => {
      await d.putContent('badrange', 'abc');
      expect(await caught(() => d.read('badrange', { start: -1, end: 1 }))).toBeInstanceOf(
        StorageError,
      );
      expect(await caught(() => d.read('badrange', { start: 2, end: 1 }))).toBeInstanceOf(
        StorageError,
      );
    });

    it('blob() has the right size and content', async () => {
      const data = patternBytes(70_000, 7);
      await d.putContent('blob/obj', data);
      const blob = await d.blob('blob/obj');
      expect(blob.size).toBe(data.byteLength);
      expectBytes(await blobBytes(blob), data);
      expectBytes(await drain(blob.stream()), data);
    });

    it('blob().slice(a, b) returns bytes [a, b)', async () => {
      const data = patternBytes(70_000, 8);
      await d.putContent('blob/slice', data);
      const blob = await d.blob('blob/slice');
      for (const [a, b] of [
        [0, 1],
        [69_999, 70_000],
        [100, 65_636],
        [0, 70_000],
      ] as const) {
        const part = blob.slice(a, b);
        expect(part.size).toBe(b - a);
        expectBytes(await blobBytes(part), data.subarray(a, b));
      }
    });

    it('redirectUrl returns a URL string or null', async () => {
      await d.putContent('redir', 'x');
      const url = await d.redirectUrl('redir');
      expect(url === null || typeof url === 'string').toBe(true);
    });

    // ---- purge, list, delete ------------------------------------------------------------------

    it('purgeStaleUploads spares live writers and committed objects', async () => {
      await d.putContent('pu/done', 'kept');
      const w = await d.writer('pu/live');
      await w.write(patternBytes(1000, 3));
      const removed = await d.purgeStaleUploads(3600_000);
      expect(Number.isSafeInteger(removed) && removed >= 0).toBe(true);
      await w.commit();
      expectBytes(await d.getContent('pu/live'), patternBytes(1000, 3));
      expect(new TextDecoder().decode(await d.getContent('pu/done'))).toBe('kept');
      await expectNoTemp();
    });

    it('list returns immediate children as sorted full keys, subdirectories included', async () => {
      const keys = ['a/d', 'a/b/c', 'a/e/f/g', 'a/0', 'z', 'ab/x'];
      for (const key of keys) await d.putContent(key, key);
      expect(await d.list('')).toEqual(['a', 'ab', 'z']);
      expect(await d.list('a')).toEqual(['a/0', 'a/b', 'a/d', 'a/e']);
      expect(await d.list('a/b')).toEqual(['a/b/c']);
      expect(await d.list('a/e')).toEqual(['a/e/f']);
      expect(await d.list('a/e/f')).toEqual(['a/e/f/g']);
    });

    it('list of an object key throws PathNotFoundError', async () => {
      await d.putContent('lf/file', 'x');
      expect(await caught(() => d.list('lf/file'))).toBeInstanceOf(PathNotFoundError);
    });

    it('list after delete drops the key and emptied prefixes', async () => {
      await d.putContent('ld/keep', '1');
      await d.putContent('ld/drop', '2');
      await d.putContent('ld/sub/only', '3');
      await d.delete('ld/drop');
      expect(await d.list('ld')).toEqual(['ld/keep', 'ld/sub']);
      await d.delete('ld/sub/only');
      expect(await d.list('ld')).toEqual(['ld/keep']);
      expect(await caught(() => d.list('ld/sub'))).toBeInstanceOf(PathNotFoundError);
      await d.delete('ld/keep');
      expect(await d.list('')).toEqual([]);
    });

    it('delete of a prefix removes everything under it and nothing beside it', async () => {
      for (const key of ['p/1', 'p/q/2', 'p/q/r/3', 'pq/4', 'p2']) await d.putContent(key, key);
      await d.delete('p');
      for (const key of ['p', 'p/1', 'p/q', 'p/q/2', 'p/q/r/3']) {
        expect(await caught(() => d.stat(key))).toBeInstanceOf(PathNotFoundError);
      }
      expect(await d.list('')).toEqual(['p2', 'pq']);
      expect(new TextDecoder().decode(await d.getContent('pq/4'))).toBe('pq/4');
      expect(await caught(() => d.delete('p'))).toBeInstanceOf(PathNotFoundError);
    });

    it('a key cannot be both an object and a prefix', async () => {
      await d.putContent('both/leaf', 'x');
      expect(await caught(() => d.putContent('both', 'y'))).toBeInstanceOf(StorageError);
      expect(await caught(() => d.putContent('both/leaf/child', 'y'))).toBeInstanceOf(
        StorageError,
      );
      expect(new TextDecoder().decode(await d.getContent('both/leaf'))).toBe('x');
      expect(await d.list('both')).toEqual(['both/leaf']);
      await expectNoTemp();
    });

    // ---- key validation -----------------------------------------------------------------------

    it('invalid keys are rejected by every method with InvalidKeyError', async () => {
      await d.putContent('valid', 'x');
      const calls: [string, (k: string) => Promise<unknown>][] = [
        ['stat', (k) => d.stat(k)],
        ['getContent', (k) => d.getContent(k)],
        ['putContent', (k) => d.putContent(k, 'x')],
        ['read', (k) => d.read(k)],
        ['read range', (k) => d.read(k, { start: 0, end: 0 })],
        ['blob', (k) => d.blob(k)],
        ['writer', (k) => d.writer(k)],
        ['delete', (k) => d.delete(k)],
        ['list', (k) => d.list(k)],
        ['redirectUrl', (k) => d.redirectUrl(k)],
      ];
      const failures: string[] = [];
      for (const [method, call] of calls) {
        for (const key of INVALID_KEYS) {
          if (method === 'list' && key === '') continue;
          const err = await caught(() => call(key)).catch((e: unknown) => e);
          if (!(err instanceof InvalidKeyError)) failures.push(`${method}(${JSON.stringify(key)})`);
        }
      }
      expect(failures).toEqual([]);
      expect(await d.list('')).toEqual(['valid']);
    });

    // ---- concurrency --------------------------------------------------------------------------

    it('concurrent writers to one key: last commit wins, content never mixed', async () => {
      const size = 256 * 1024;
      const datas = [1, 2, 3, 4].map((seed) => patternBytes(size, seed * 101));
      const writers = await Promise.all(datas.map(() => d.writer('race/key')));
      // Interleave the writes chunk by chunk.
      for (let off = 0; off < size; off += 16 * 1024) {
        const chunkOf = (i: number) => datas[i]!.subarray(off, off + 16 * 1024);
        await Promise.all(writers.map((w, i) => w.write(chunkOf(i))));
      }
      // Sequential commits: the last one wins.
      await writers[2]!.commit();
      await writers[0]!.commit();
      expectBytes(await d.getContent('race/key'), datas[0]!);
      // Simultaneous commits: one writer's whole data.
      await Promise.all([writers[1]!.commit(), writers[3]!.commit()]);
      const got = await d.getContent('race/key');
      const winner = datas.findIndex((x) => Buffer.compare(Buffer.from(x), Buffer.from(got)) === 0);
      expect([1, 3]).toContain(winner);
      expect((await d.stat('race/key')).size).toBe(size);
      await expectNoTemp();
    });

    it('8 concurrent reads of one key are all correct', async () => {
      const data = patternBytes(MiB + 17, 13);
      await d.putContent('conc/read', data);
      const reads = Array.from({ length: 8 }, async (_, i) => {
        if (i % 3 === 0) return blobBytes(await d.blob('conc/read'));
        if (i % 3 === 1) return drain(await d.read('conc/read'));
        return d.getContent('conc/read');
      });
      for (const got of await Promise.all(reads)) expectBytes(got, data);
      const ranged = await Promise.all(
        Array.from({ length: 8 }, async (_, i) =>
          drain(await d.read('conc/read', { start: i * 1000, end: i * 1000 + 65_535 })),
        ),
      );
      ranged.forEach((got, i) => expectBytes(got, data.subarray(i * 1000, i * 1000 + 65_536)));
    });

    it('concurrent writers to different keys under one prefix all land', async () => {
      const keys = Array.from({ length: 8 }, (_, i) => `many/k${i}`);
      await Promise.all(
        keys.map(async (key, i) => {
          const w = await d.writer(key);
          await writeChunks(w, patternBytes(10_000, i + 1), 999);
          await w.commit();
        }),
      );
      expect(await d.list('many')).toEqual([...keys].sort());
      for (const [i, key] of keys.entries()) {
        expectBytes(await d.getContent(key), patternBytes(10_000, i + 1));
      }
      await expectNoTemp();
    });

    // ---- writerAt (drivers that can continue an object) -----------------------------------------

    it('writerAt continues an object at its end', async () => {
      await d.putContent('cont/a', 'abcdef');
      let w = await d.writerAt('cont/a', 6);
      expect(w.size).toBe(6);
      await w.write(new TextEncoder().encode('ghi'));
      await w.commit();
      expect(new TextDecoder().decode(await d.getContent('cont/a'))).toBe('abcdefghi');
      w = await d.writerAt('cont/a', 9);
      await w.write(new TextEncoder().encode('X'));
      await w.commit();
      expect(new TextDecoder().decode(await d.getContent('cont/a'))).toBe('abcdefghiX');
      await expectNoTemp();
    });

    it('writerAt takes the object while it writes: invisible, a second writerAt refused, cancel puts it back', async () => {
      await d.putContent('cont/b', 'hello');
      const w = await d.writerAt('cont/b', 5);
      await w.write(new TextEncoder().encode(' world'));
      expect(await caught(() => d.stat('cont/b'))).toBeInstanceOf(PathNotFoundError);
      expect(await caught(() => d.writerAt('cont/b', 5))).toBeInstanceOf(PathNotFoundError);
      await w.cancel();
      expect(new TextDecoder().decode(await d.getContent('cont/b'))).toBe('hello');
      await expectNoTemp();
    });

    it('writerAt of a missing object, or anywhere but at its end, is PathNotFoundError and changes nothing', async () => {
      expect(await caught(() => d.writerAt('cont/none', 0))).toBeInstanceOf(PathNotFoundError);
      await d.putContent('cont/short', 'abc');
      expect(await caught(() => d.writerAt('cont/short', 4))).toBeInstanceOf(PathNotFoundError);
      // short of its end: the bytes past the offset are never cut
      expect(await caught(() => d.writerAt('cont/short', 1))).toBeInstanceOf(PathNotFoundError);
      expect(new TextDecoder().decode(await d.getContent('cont/short'))).toBe('abc');
      await expectNoTemp();
    });

    it('non-durable writes (writerAt, putContent with durable: false) are visible at once, and move puts them in place whole', async () => {
      await d.putContent('vol/up', new Uint8Array(0), { durable: false });
      expect((await d.stat('vol/up')).size).toBe(0);
      const data = patternBytes(300_000, 9);
      for (const [start, end] of [[0, 100_000], [100_000, 300_000]] as const) {
        const w = await d.writerAt('vol/up', start);
        await w.write(data.subarray(start, end));
        await w.commit();
        expectBytes(await d.getContent('vol/up'), data.subarray(0, end));
      }
      await d.move('vol/up', 'vol/blob');
      expectBytes(await d.getContent('vol/blob'), data);
      expect(await caught(() => d.stat('vol/up'))).toBeInstanceOf(PathNotFoundError);
      await expectNoTemp();
    });

    // ---- durability ---------------------------------------------------------------------------

    it('volatileEpoch is null (every write durable) or a non-empty string, the same at every read', async () => {
      const epoch = d.volatileEpoch;
      if (epoch !== null) {
        expect(typeof epoch).toBe('string');
        expect(epoch.length).toBeGreaterThan(0);
      }
      await d.putContent('ep/a', 'x', { durable: false });
      expect(d.volatileEpoch).toBe(epoch);
    });

    // ---- move ---------------------------------------------------------------------------------

    it('move puts the bytes under the new key and removes the old one', async () => {
      const data = patternBytes(MiB + 5, 21);
      await d.putContent('mv/src/a', data);
      await d.move('mv/src/a', 'mv/dst/b');
      expectBytes(await d.getContent('mv/dst/b'), data);
      expect(await caught(() => d.stat('mv/src/a'))).toBeInstanceOf(PathNotFoundError);
      expect(await d.list('mv')).toEqual(['mv/dst']);
      await expectNoTemp();
    });

    it('move replaces an existing target whole', async () => {
      await d.putContent('mv/t', patternBytes(300_000, 1));
      await d.putContent('mv/s', patternBytes(1000, 2));
      await d.move('mv/s', 'mv/t');
      expectBytes(await d.getContent('mv/t'), patternBytes(1000, 2));
      expect(await d.list('mv')).toEqual(['mv/t']);
    });

    it('move dates the target by the move, not by when the source was written', async () => {
      await d.putContent('mv/old', 'x');
      const written = (await d.stat('mv/old')).modTime.getTime();
      // past a whole second: S3 dates objects to the second
      await Bun.sleep(1100);
      const moved = Date.now();
      await d.move('mv/old', 'mv/new');
      const dated = (await d.stat('mv/new')).modTime.getTime();
      expect(dated).toBeGreaterThan(written);
      expect(dated).toBeGreaterThanOrEqual(Math.floor(moved / 1000) * 1000);
    });

    it('move of a missing key throws PathNotFoundError and creates nothing', async () => {
      expect(await caught(() => d.move('mv/none', 'mv/target'))).toBeInstanceOf(PathNotFoundError);
      expect(await caught(() => d.stat('mv/target'))).toBeInstanceOf(PathNotFoundError);
    });

    it('move to an invalid key throws InvalidKeyError and keeps the source', async () => {
      await d.putContent('mv/keep', 'x');
      expect(await caught(() => d.move('mv/keep', '../escape'))).toBeInstanceOf(InvalidKeyError);
      expect(new TextDecoder().decode(await d.getContent('mv/keep'))).toBe('x');
    });

    // ---- concat -------------------------------------------------------------------------------

    const concatOf = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

    it(`concat ${composes ? 'composes' : 'answers false for'} 5 MiB parts and a small last one: exactly their bytes in order, the target replaced whole, the sources kept`, async () => {
      const parts = [patternBytes(5 * MiB, 41), patternBytes(5 * MiB, 42), patternBytes(5 * MiB, 43), patternBytes(1000, 44)];
      const sources = parts.map((_, i) => `cat/up/${i}`);
      for (const [i, part] of parts.entries()) await d.putContent(sources[i]!, part);
      const old = patternBytes(3000, 45);
      await d.putContent('cat/blob', old);
      expect(await d.concat(sources, 'cat/blob')).toBe(composes);
      if (composes) {
        const expected = concatOf(...parts);
        expect((await d.stat('cat/blob')).size).toBe(expected.byteLength);
        expectBytes(await drain(await d.read('cat/blob')), expected);
        // a range across the seam of the second and third parts
        expectBytes(await drain(await d.read('cat/blob', { start: 10 * MiB - 7, end: 10 * MiB + 6 })), expected.subarray(10 * MiB - 7, 10 * MiB + 7));
      } else {
        expectBytes(await d.getContent('cat/blob'), old);
      }
      for (const [i, part] of parts.entries()) expectBytes(await d.getContent(sources[i]!), part);
      await expectNoTemp();
    }, 60_000);

    it('concat answers false and changes nothing when a part other than the last is under 5 MiB', async () => {
      const parts = [patternBytes(5 * MiB, 51), patternBytes(5 * MiB - 1, 52), patternBytes(5 * MiB, 53)];
      const sources = parts.map((_, i) => `cat/up/${i}`);
      for (const [i, part] of parts.entries()) await d.putContent(sources[i]!, part);
      expect(await d.concat(sources, 'cat/blob')).toBe(false);
      expect(await caught(() => d.stat('cat/blob'))).toBeInstanceOf(PathNotFoundError);
      expect(await d.list('cat')).toEqual(['cat/up']);
      await expectNoTemp();
    }, 60_000);

    it(`concat of a missing source ${composes ? 'throws PathNotFoundError' : 'answers false'} and creates nothing`, async () => {
      await d.putContent('cat/up/0', patternBytes(5 * MiB, 61));
      const outcome = await d.concat(['cat/up/0', 'cat/up/none'], 'cat/blob').catch((e: unknown) => e);
      if (composes) expect(outcome).toBeInstanceOf(PathNotFoundError);
      else expect(outcome).toBe(false);
      expect(await caught(() => d.stat('cat/blob'))).toBeInstanceOf(PathNotFoundError);
      await expectNoTemp();
    });

    it('concat with an invalid key throws InvalidKeyError', async () => {
      await d.putContent('cat/up/0', 'x');
      expect(await caught(() => d.concat(['cat/up/0', '../x'], 'cat/blob'))).toBeInstanceOf(InvalidKeyError);
      expect(await caught(() => d.concat(['cat/up/0'], '../blob'))).toBeInstanceOf(InvalidKeyError);
    });

    // Guard against stale skip lists: every skipped title must name a real case.
    test('skip list names only existing cases', () => {
      expect(Object.keys(skip).filter((t) => !titles.has(t))).toEqual([]);
    });
  });
}
