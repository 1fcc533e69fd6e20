import { describe, expect, test } from 'bun:test';
import {
  chmodSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistryError } from '../../src/errors.ts';
import { layerPath, listLayerFiles } from '../../src/layers/files.ts';
import type { FileEntry } from '../../src/layers/files.ts';
import { buildTar, gzip, paxData, rawHeader, rawTar, streamOf, expectLayerFormat, gnuTar } from '../helpers/tar.ts';

const list = (bytes: Uint8Array, chunkSize?: number) => listLayerFiles(streamOf(bytes, chunkSize));

describe('listLayerFiles: serialisation (§7 item 44)', () => {
  test('a regular file', async () => {
    const tar = await buildTar([{ name: 'x', body: new Uint8Array(512), mode: 0o644, mtime: 0 }]);
    expect(await list(tar)).toEqual([['/x', 'f', false, 512, 0, 420, 0, 0]]);
  });

  test('all fields come from the header', async () => {
    const tar = await buildTar([
      { name: 'usr/bin/tool', body: 'abc', mode: 0o4755, uid: 1000, gid: 50, mtime: 1_400_000_000 },
    ]);
    expect(await list(tar)).toEqual([
      ['/usr/bin/tool', 'f', false, 3, 1_400_000_000, 0o4755, 1000, 50],
    ]);
  });

  test('"." and "./" become "/"', async () => {
    const tar = rawTar([
      { name: '.', typeflag: '5', mode: 0o755 },
      { name: './', typeflag: '5', mode: 0o755 },
    ]);
    expect(await list(tar)).toEqual([
      ['/', 'd', false, 0, 0, 493, 0, 0],
      ['/', 'd', false, 0, 0, 493, 0, 0],
    ]);
  });

  test('"./ab" becomes "/ab"; relative and absolute names are made absolute', async () => {
    const tar = rawTar([
      { name: './ab' },
      { name: 'cd' },
      { name: '/ef' },
      { name: './dir/', typeflag: '5' },
    ]);
    expect((await list(tar)).map((e) => e[0])).toEqual(['/ab', '/cd', '/ef', '/dir']);
  });

  test('"./.wh..wh." metadata is dropped, with the aufs metadata directories', async () => {
    const tar = rawTar([
      { name: './.wh..wh.' },
      { name: './.wh..wh..opq' },
      { name: './.wh..wh.plnk/', typeflag: '5' },
      { name: './.wh..wh.plnk/1234.5678' },
      { name: './etc/.wh..wh..opq' },
      { name: './kept' },
    ]);
    expect(await list(tar)).toEqual([['/kept', 'f', false, 0, 0, 420, 0, 0]]);
  });

  test('"./.wh." and "/.wh." become "/" marked deleted', async () => {
    const tar = rawTar([{ name: './.wh.' }, { name: '/.wh.' }]);
    expect(await list(tar)).toEqual([
      ['/', 'f', true, 0, 0, 420, 0, 0],
      ['/', 'f', true, 0, 0, 420, 0, 0],
    ]);
  });

  test('whiteouts at the root and in subdirectories', async () => {
    const tar = rawTar([
      { name: './.wh.gone' },
      { name: 'etc/.wh.passwd' },
      { name: './usr/bin/.wh.ls' },
    ]);
    expect(await list(tar)).toEqual([
      ['/gone', 'f', true, 0, 0, 420, 0, 0],
      ['/etc/passwd', 'f', true, 0, 0, 420, 0, 0],
      ['/usr/bin/ls', 'f', true, 0, 0, 420, 0, 0],
    ]);
  });

  test('layerPath', () => {
    expect(layerPath('.')).toEqual({ path: '/', deleted: false });
    expect(layerPath('./')).toEqual({ path: '/', deleted: false });
    expect(layerPath('/')).toEqual({ path: '/', deleted: false });
    expect(layerPath('./a/b/')).toEqual({ path: '/a/b', deleted: false });
    expect(layerPath('a/.wh.')).toEqual({ path: '/a', deleted: true });
    expect(layerPath('./a/.wh..wh..opq')).toBeNull();
    expect(layerPath('.wh.x')).toEqual({ path: '/x', deleted: true });
  });

  test('mtime is integer seconds and mode the stored number', async () => {
    const tar = rawTar([{ name: 'go-style', mode: 0o100644, mtime: 1_700_000_000 }]);
    expect(await list(tar)).toEqual([['/go-style', 'f', false, 0, 1_700_000_000, 33188, 0, 0]]);
  });

  test('pax records override uid, gid, size and floor mtime; xattrs are ignored', async () => {
    const tar = rawTar([
      {
        name: 'PaxHeaders/x',
        typeflag: 'x',
        body: paxData({
          path: 'really/long/path/name',
          uid: '70000',
          gid: '80000',
          mtime: '1400000000.987654321',
          'SCHILY.xattr.user.k': 'v',
        }),
      },
      { name: 'short', body: 'data' },
    ]);
    expect(await list(tar)).toEqual([
      ['/really/long/path/name', 'f', false, 4, 1_400_000_000, 420, 70_000, 80_000],
    ]);
  });
});

describe('listLayerFiles: type letters', () => {
  test('every type tar-stream pack() can write', async () => {
    const tar = await buildTar([
      { name: 'file', body: 'f' },
      { name: 'dir', type: 'directory' },
      { name: 'symlink', type: 'symlink', linkname: 'file' },
      { name: 'hardlink', type: 'link', linkname: 'file' },
      { name: 'chr', type: 'character-device', devmajor: 1, devminor: 3 },
      { name: 'blk', type: 'block-device', devmajor: 8, devminor: 0 },
      { name: 'fifo', type: 'fifo' },
      { name: 'contiguous', type: 'contiguous-file', body: 'c' },
    ]);
    expect((await list(tar)).map((e) => [e[0], e[1]])).toEqual([
      ['/file', 'f'],
      ['/dir', 'd'],
      ['/symlink', 's'],
      ['/hardlink', 'l'],
      ['/chr', 'c'],
      ['/blk', 'b'],
      ['/fifo', 'i'],
      ['/contiguous', 't'],
    ]);
  });

  test("old '\\0' files, '\\0' directories, sparse 'S' and unknown types", async () => {
    const tar = rawTar([
      { name: 'v7file', typeflag: '\0', format: 'v7', body: 'old' },
      { name: 'v7dir/', typeflag: '\0', format: 'v7' },
      { name: 'sparse', typeflag: 'S', format: 'gnu', body: 'sparse data' },
      { name: 'volume', typeflag: 'V', format: 'gnu' },
      { name: 'after', body: 'still parsed' },
    ]);
    expect((await list(tar)).map((e) => [e[0], e[1], e[3]])).toEqual([
      ['/v7file', 'f', 3],
      ['/v7dir', 'd', 0],
      ['/sparse', 'S', 11],
      ['/volume', 'u', 0],
      ['/after', 'f', 12],
    ]);
  });

  test('GNU long names (L) and long links (K) are consumed, not listed', async () => {
    const longName = `${'n'.repeat(150)}/file`;
    const tar = rawTar([
      { name: '././@LongLink', typeflag: 'L', body: `${longName}\0`, format: 'gnu' },
      { name: longName.slice(0, 100), body: 'x', format: 'gnu' },
      { name: '././@LongLink', typeflag: 'K', body: `${'t'.repeat(200)}\0`, format: 'gnu' },
      { name: 'link', typeflag: '2', format: 'gnu' },
    ]);
    expect((await list(tar)).map((e) => [e[0], e[1]])).toEqual([
      [`/${longName}`, 'f'],
      ['/link', 's'],
    ]);
  });
});

describe('listLayerFiles: formats and streaming', () => {
  const members = [
    { name: 'etc', type: 'directory' as const, mtime: 10 },
    { name: 'etc/hosts', body: '127.0.0.1 localhost\n', mtime: 11 },
    { name: 'big', body: crypto.getRandomValues(new Uint8Array(300_000)), mtime: 12 },
  ];
  const expected: FileEntry[] = [
    ['/etc', 'd', false, 0, 10, 493, 0, 0],
    ['/etc/hosts', 'f', false, 20, 11, 420, 0, 0],
    ['/big', 'f', false, 300_000, 12, 420, 0, 0],
  ];

  test('plain tar in chunks of any size', async () => {
    const tar = await buildTar(members);
    for (const size of [1, 100, 512, 4097, 1 << 20]) {
      expect(await list(tar, size)).toEqual(expected);
    }
  });

  test('gzip layer', async () => {
    const tar = await buildTar(members);
    expect(await list(gzip(tar))).toEqual(expected);
    expect(await list(gzip(tar), 3)).toEqual(expected);
    expect(await listLayerFiles(gzip(tar))).toEqual(expected);
  });

  test('an empty layer lists as []', async () => {
    expect(await listLayerFiles(streamOf(new Uint8Array(0)))).toEqual([]);
    const closed = new ReadableStream<Uint8Array>({ start: (c) => c.close() });
    expect(await listLayerFiles(closed)).toEqual([]);
    expect(await listLayerFiles(new Uint8Array(0))).toEqual([]);
  });

  test('a tar with no members, plain or gzip, lists as []', async () => {
    expect(await list(rawTar([]))).toEqual([]);
    expect(await list(new Uint8Array(10_240))).toEqual([]);
    expect(await list(gzip(new Uint8Array(0)))).toEqual([]);
    expect(await list(gzip(rawTar([])))).toEqual([]);
  });

  test('a large member is streamed, not buffered', async () => {
    const size = 256 * 1024 * 1024;
    const header = rawHeader({ name: 'huge', size });
    const zeros = new Uint8Array(1 << 16);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 0) controller.enqueue(header);
        if (sent < size) {
          controller.enqueue(zeros);
          sent += zeros.byteLength;
          return;
        }
        controller.enqueue(new Uint8Array(1024));
        controller.close();
      },
    });
    Bun.gc(true);
    const before = process.memoryUsage().rss;
    expect(await listLayerFiles(stream)).toEqual([['/huge', 'f', false, size, 0, 420, 0, 0]]);
    const grown = process.memoryUsage().rss - before;
    expect(grown).toBeLessThan(size / 4);
  });
});

describe('listLayerFiles: unreadable layers reject with LAYER_FORMAT', () => {
  test('bzip2, xz and zstd magic', async () => {
    const bzip2 = new TextEncoder().encode('BZh91AY&SY\x01\x02\x03 rest of a bzip2 stream');
    await expectLayerFormat(list(bzip2));
    await expectLayerFormat(list(new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2, 3])));
    await expectLayerFormat(list(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0])));
  });

  test('real bzip2 and xz output, when the tools exist', async () => {
    const tar = await buildTar([{ name: 'x', body: 'x' }]);
    for (const tool of ['bzip2', 'xz']) {
      const path = Bun.which(tool);
      if (path === null) continue;
      const compressed = Bun.spawnSync([path, '-c'], { stdin: tar }).stdout;
      await expectLayerFormat(list(new Uint8Array(compressed)));
    }
  });

  test('random bytes', async () => {
    for (const length of [1, 100, 511, 512, 513, 4096, 100_000]) {
      const random = crypto.getRandomValues(new Uint8Array(length));
      random[0] = 0x41; // not a gzip/bzip2/xz/zstd magic
      await expectLayerFormat(list(random, 1000));
    }
  });

  test('a truncated tar', async () => {
    const tar = await buildTar([
      { name: 'a', body: 'a'.repeat(2000) },
      { name: 'b', body: 'b' },
    ]);
    for (const cut of [100, 511, 700, 1500, 2560 + 100]) {
      await expectLayerFormat(list(tar.subarray(0, cut)));
    }
  });

  test('a corrupt header checksum', async () => {
    const tar = await buildTar([{ name: 'a', body: 'a' }]);
    tar[0] = 'z'.charCodeAt(0);
    await expectLayerFormat(list(tar));
  });

  test('a header with a non-numeric size', async () => {
    const header = rawHeader({ name: 'bad' });
    header.set(new TextEncoder().encode('zzzzzzzzzzz\0'), 124);
    header.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of header) sum += b;
    header.set(new TextEncoder().encode(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
    await expectLayerFormat(list(new Uint8Array([...header, ...new Uint8Array(1024)])));
  });

  test('truncated or corrupt gzip', async () => {
    const compressed = gzip(await buildTar([{ name: 'a', body: 'x'.repeat(10_000) }]));
    await expectLayerFormat(list(compressed.subarray(0, 2)));
    await expectLayerFormat(list(compressed.subarray(0, compressed.byteLength - 6)));
    const corrupt = compressed.slice();
    corrupt[12] = (corrupt[12] ?? 0) ^ 0xff;
    corrupt[13] = (corrupt[13] ?? 0) ^ 0xff;
    await expectLayerFormat(list(corrupt));
    await expectLayerFormat(list(gzip(crypto.getRandomValues(new Uint8Array(5000)))));
  });
});

describe('listLayerFiles: input stream errors', () => {
  test('an error from the input stream is rethrown unchanged', async () => {
    const boom = new Error('storage read failed');
    const tar = await buildTar([{ name: 'a', body: 'a'.repeat(5000) }]);
    let step = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (step++ === 0) controller.enqueue(tar.subarray(0, 1024));
        else controller.error(boom);
      },
    });
    await expect(listLayerFiles(stream)).rejects.toBe(boom);
  });

  test('an error from the input stream of a gzip layer is rethrown unchanged', async () => {
    const boom = new RegistryError('STORAGE_FAILURE');
    const body = crypto.getRandomValues(new Uint8Array(50_000));
    const compressed = gzip(await buildTar([{ name: 'a', body }]));
    let step = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (step++ === 0) controller.enqueue(compressed.subarray(0, 20_000));
        else controller.error(boom);
      },
    });
    await expect(listLayerFiles(stream)).rejects.toBe(boom);
  });

  test('an error before the first byte is rethrown unchanged', async () => {
    const boom = new RegistryError('STORAGE_FAILURE');
    const stream = new ReadableStream<Uint8Array>({ pull: (c) => c.error(boom) });
    await expect(listLayerFiles(stream)).rejects.toBe(boom);
  });

  test('the input is cancelled when the layer is rejected', async () => {
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(crypto.getRandomValues(new Uint8Array(4096)).fill(0x41, 0, 1));
      },
      cancel() {
        cancelled = true;
      },
    });
    await expectLayerFormat(listLayerFiles(stream));
    expect(cancelled).toBe(true);
  });
});

// --- optional cross-check with GNU tar --------------------------------------------------------


/** One `tar -tv --numeric-owner --full-time` line: kind, perms, uid, gid, size, time, name. */
const LINE = /^(\S)(\S{9}) (\d+)\/(\d+)\s+(\d+) (\S+ \S+) (.*?)(?: link to .*| -> .*)?$/;

describe.skipIf(gnuTar === null)('listLayerFiles vs GNU tar --list --verbose', () => {
  test('types, sizes, modes, owners and times agree', async () => {
    const root = mkdtempSync(join(tmpdir(), 'files-'));
    try {
      const tree = join(root, 'tree');
      mkdirSync(join(tree, 'etc/sub'), { recursive: true });
      writeFileSync(join(tree, 'etc/hosts'), 'hosts\n');
      writeFileSync(join(tree, 'etc/sub/.wh.removed'), '');
      writeFileSync(join(tree, 'run.sh'), '#!/bin/sh\n');
      chmodSync(join(tree, 'run.sh'), 0o750);
      symlinkSync('hosts', join(tree, 'etc/link'));
      linkSync(join(tree, 'etc/hosts'), join(tree, 'etc/hard'));
      Bun.spawnSync(['mkfifo', join(tree, 'pipe')]);
      const when = new Date('2015-06-08T12:00:00Z');
      for (const p of ['etc/hosts', 'run.sh', 'etc/sub/.wh.removed', 'etc/sub', 'etc', '.']) {
        utimesSync(join(tree, p), when, when);
      }
      const created = Bun.spawnSync([gnuTar!, '-c', '-f', '-', '-C', tree, '.']);
      const archive = new Uint8Array(created.stdout);
      const verbose = Bun.spawnSync(
        [gnuTar!, '--list', '--verbose', '--numeric-owner', '--full-time', '-f', '-'],
        { stdin: archive, env: { ...process.env, TZ: 'UTC' } },
      ).stdout.toString();
      const letters: Record<string, string> = {
        '-': 'f',
        d: 'd',
        l: 's',
        h: 'l',
        p: 'i',
        c: 'c',
        b: 'b',
      };
      const expected = verbose
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => {
          const m = LINE.exec(line);
          if (m === null) throw new Error(`unparsed: ${line}`);
          const [, kind, perms, uid, gid, size, time, name] = m as unknown as string[];
          const mode = [...perms!].reduce(
            (acc, ch, i) => (ch === '-' ? acc : acc | (1 << (8 - i))),
            0,
          );
          const where = layerPath(name!)!;
          return {
            path: where.path,
            deleted: where.deleted,
            type: letters[kind!]!,
            size: Number(size),
            mtime: Math.floor(Date.parse(`${time!.replace(' ', 'T').slice(0, 19)}Z`) / 1000),
            mode,
            uid: Number(uid),
            gid: Number(gid),
          };
        });
      const actual = (await listLayerFiles(streamOf(gzip(archive), 777))).map(
        ([path, type, deleted, size, mtime, mode, uid, gid]) => {
          return { path, deleted, type, size, mtime, mode, uid, gid };
        },
      );
      expect(actual).toEqual(expected);
      expect(actual.find((e) => e.path === '/etc/sub/removed')?.deleted).toBe(true);
      expect(actual.find((e) => e.path === '/run.sh')?.mode).toBe(0o750);
      expect(actual.find((e) => e.path === '/etc/hosts')?.mtime).toBe(when.getTime() / 1000);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
