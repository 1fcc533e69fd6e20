import { describe, expect, spyOn, test } from 'bun:test';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { InvalidKeyError, StorageError } from '../../src/storage/driver.ts';
import { FsDriver } from '../../src/storage/fs.ts';
import { runDriverSuite } from './driver.suite.ts';

/** A fresh base dir holding the driver root at `<base>/root`, so tests can put files beside it. */
async function makeFs(): Promise<{ base: string; root: string; driver: FsDriver }> {
  const base = await mkdtemp(join(tmpdir(), 'fs-driver-'));
  const root = join(base, 'root');
  return { base, root, driver: new FsDriver(root) };
}

async function tempNames(root: string): Promise<string[]> {
  try {
    return await readdir(join(root, '.tmp'));
  } catch {
    return [];
  }
}

runDriverSuite('fs', async () => {
  const { base, root, driver } = await makeFs();
  return {
    driver,
    cleanup: () => rm(base, { recursive: true, force: true }),
    tempEntries: () => tempNames(root),
  };
});

describe('fs driver specifics', () => {
  test("volatileEpoch is the kernel's boot id; writerAt and a non-durable putContent skip the fsyncs, writer and move make them", async () => {
    const { base, driver } = await makeFs();
    // every fsync and fdatasync goes through a FileHandle (fs-writer.ts): count them
    const probe = await open(join(base, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { sync: () => Promise<void>; datasync: () => Promise<void> };
    await probe.close();
    const syncs = spyOn(proto, 'sync');
    const datasyncs = spyOn(proto, 'datasync');
    const count = async (fn: () => Promise<unknown>) => {
      syncs.mockClear();
      datasyncs.mockClear();
      await fn();
      return syncs.mock.calls.length + datasyncs.mock.calls.length;
    };
    try {
      expect(driver.volatileEpoch).toBe(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
      expect(await count(() => driver.putContent('uploads/s/0', new Uint8Array(0), { durable: false }))).toBe(0);
      expect(
        await count(async () => {
          const w = await driver.writerAt('uploads/s/0', 0);
          await w.write(new Uint8Array(100_000).fill(7));
          await w.commit();
        }),
      ).toBe(0);
      // the file, then its new directories and the one it lands in
      expect(await count(() => driver.move('uploads/s/0', 'blobs/sha256/ab'))).toBeGreaterThanOrEqual(2);
      expect((await readFile(driver.pathOf('blobs/sha256/ab'))).byteLength).toBe(100_000);
      expect(await count(() => driver.putContent('small/a', 'x'))).toBeGreaterThanOrEqual(2);
    } finally {
      syncs.mockRestore();
      datasyncs.mockRestore();
      await rm(base, { recursive: true, force: true });
    }
  });

  test('a continued object whose background flush failed is dropped, not put back (bytes before it may be lost)', async () => {
    const { base, driver } = await makeFs();
    const probe = await open(join(base, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
    await probe.close();
    const failing = spyOn(proto, 'datasync').mockImplementation(() => Promise.reject(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' })));
    try {
      await driver.putContent('uploads/s/0', new Uint8Array(1000), { durable: false });
      const w = await driver.writerAt('uploads/s/0', 1000);
      // past the non-durable writer's flush threshold (8 MiB): a background fdatasync starts, and fails
      for (let i = 0; i < 9; i++) await w.write(new Uint8Array(1024 * 1024));
      expect(await w.commit().then(() => null, (e: unknown) => e)).toBeInstanceOf(StorageError);
      expect(failing).toHaveBeenCalled();
      expect(await driver.stat('uploads/s/0').then(() => 'there', () => 'gone')).toBe('gone');
    } finally {
      failing.mockRestore();
      await rm(base, { recursive: true, force: true });
    }
  });

  test('a partially written upload is never at the final path', async () => {
    const { base, root, driver } = await makeFs();
    try {
      const final = driver.pathOf('images/0123456789abcdef/layer');
      const w = await driver.writer('images/0123456789abcdef/layer');
      await w.write(new Uint8Array(1000).fill(1));
      expect(existsSync(final)).toBe(false);
      const temps = await tempNames(root);
      expect(temps).toHaveLength(1);
      expect((await stat(join(root, '.tmp', temps[0]!))).size).toBe(1000);
      await w.write(new Uint8Array(24).fill(2));
      expect(existsSync(final)).toBe(false);
      await w.commit();
      expect(existsSync(final)).toBe(true);
      expect((await readFile(final)).byteLength).toBe(1024);
      expect(await tempNames(root)).toEqual([]);
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });

  test('the resolved path of every valid key is inside root', async () => {
    const { base, root, driver } = await makeFs();
    try {
      const alphabet = 'abz09_.-';
      const keys = ['a', 'a..b', 'x.y/z..', '_/_-', '0/a-b/c_d.e', 'images/0123456789abcdef/layer'];
      let seed = 7;
      for (let n = 0; n < 500; n++) {
        const segments: string[] = [];
        const count = 1 + (n % 4);
        for (let s = 0; s < count; s++) {
          let seg = 'a';
          const len = (seed = (seed * 1103515245 + 12345) >>> 0) % 6;
          for (let i = 0; i < len; i++) {
            seed = (seed * 1103515245 + 12345) >>> 0;
            seg += alphabet[seed % alphabet.length];
          }
          segments.push(seg);
        }
        keys.push(segments.join('/'));
      }
      for (const key of keys) {
        const path = driver.pathOf(key);
        expect(path.startsWith(root + sep)).toBe(true);
        expect(relative(root, path).split(sep).join('/')).toBe(key);
      }
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });

  test('keys cannot reach a file outside root', async () => {
    const { base, root, driver } = await makeFs();
    try {
      await mkdir(join(base, 'outside'));
      const secret = join(base, 'outside', 'secret');
      await writeFile(secret, 'do not touch');
      await driver.putContent('inside', 'ok');
      const escapes = [
        '../outside/secret',
        '..',
        'inside/../../outside/secret',
        '%2e%2e/outside/secret',
        '..%2foutside%2fsecret',
        `${base}/outside/secret`,
        'a\\..\\..\\outside',
        '.tmp',
        '.tmp/x',
      ];
      for (const key of escapes) {
        expect(() => driver.pathOf(key)).toThrow(InvalidKeyError);
        for (const call of [
          () => driver.getContent(key),
          () => driver.putContent(key, 'overwritten'),
          () => driver.delete(key),
          () => driver.list(key),
        ]) {
          await expect(call()).rejects.toBeInstanceOf(InvalidKeyError);
        }
      }
      expect(await readFile(secret, 'utf8')).toBe('do not touch');
      expect(await readdir(join(base, 'outside'))).toEqual(['secret']);
      expect(await driver.list('')).toEqual(['inside']);
      expect(existsSync(join(root, 'stolen'))).toBe(false);
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });

  test('list hides .tmp and names no key can address', async () => {
    const { base, root, driver } = await makeFs();
    try {
      const w = await driver.writer('pending');
      await w.write(new Uint8Array([1]));
      await writeFile(join(root, 'UPPER'), 'x');
      await writeFile(join(root, '.dotfile'), 'x');
      await driver.putContent('visible', 'x');
      expect(await driver.list('')).toEqual(['visible']);
      await w.cancel();
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });

  test('a missing root lists as empty and is created by the first write', async () => {
    const { base, root, driver } = await makeFs();
    try {
      expect(existsSync(root)).toBe(false);
      expect(await driver.list('')).toEqual([]);
      await driver.putContent('first/key', 'x');
      expect(await readFile(join(root, 'first', 'key'), 'utf8')).toBe('x');
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });

  test('blob() is a BunFile of the final path (sendfile-capable)', async () => {
    const { base, driver } = await makeFs();
    try {
      await driver.putContent('layer', 'abc');
      const blob = await driver.blob('layer');
      expect((blob as ReturnType<typeof Bun.file>).name).toBe(driver.pathOf('layer'));
      await driver.putContent('layer', 'abcdef');
      expect((await driver.blob('layer')).size).toBe(6);
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });

  test('purgeStaleUploads removes old temp files and keeps fresh ones', async () => {
    const { base, root, driver } = await makeFs();
    try {
      expect(await driver.purgeStaleUploads(0)).toBe(0); // no .tmp yet
      const stale1 = await driver.writer('stale/one');
      const stale2 = await driver.writer('stale/two');
      await stale1.write(new Uint8Array([1]));
      await stale2.write(new Uint8Array([2]));
      const old = new Date(Date.now() - 2 * 3600_000);
      for (const name of await tempNames(root)) await utimes(join(root, '.tmp', name), old, old);
      const fresh = await driver.writer('fresh/one');
      await fresh.write(new Uint8Array([3]));

      expect(await driver.purgeStaleUploads(3600_000)).toBe(2);
      expect(await tempNames(root)).toHaveLength(1);

      // The surviving upload still commits; a purged one fails instead of landing.
      await fresh.commit();
      expect(await driver.getContent('fresh/one')).toEqual(new Uint8Array([3]));
      await expect(stale1.commit()).rejects.toBeInstanceOf(StorageError);
      await stale2.cancel();
      await expect(driver.stat('stale/one')).rejects.toBeInstanceOf(StorageError);
      expect(await tempNames(root)).toEqual([]);
      expect(await driver.purgeStaleUploads(0)).toBe(0);
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });

  test('deleting the last object of a prefix races safely with a commit into it', async () => {
    const { base, driver } = await makeFs();
    try {
      for (let i = 0; i < 100; i++) {
        await driver.putContent('race/a/x', 'x');
        await Promise.all([driver.delete('race/a/x'), driver.putContent('race/a/y', `${i}`)]);
        expect(await driver.getContent('race/a/y')).toEqual(new TextEncoder().encode(`${i}`));
        await driver.delete('race');
      }
      expect(await driver.list('')).toEqual([]);
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });
});
