/**
 * TarSum v0 is checked against a reference written here straight from v1-api.md §3: expected sums
 * are built from the member descriptions (for tars written byte by byte with `rawTar`), or from a
 * minimal tar parser below (for archives written by tar-stream's pack() or by GNU tar). Neither
 * reference uses tar-stream or the code under test.
 */
import { describe, expect, test } from 'bun:test';
import { createHash } from 'node:crypto';
import {
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
import { tarsum } from '../../src/checksum/tarsum.ts';
import { buildTar, gzip, paxData, rawTar, streamOf, expectLayerFormat, gnuTar } from '../helpers/tar.ts';
import type { RawMember } from '../helpers/tar.ts';

// --- reference implementation (spec §3) ------------------------------------------------------

interface RefMember {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  /** Bytes hashed after the header (regular members with size > 0). */
  data: Uint8Array;
}

const sha256 = (...parts: (string | Uint8Array)[]) => {
  const h = createHash('sha256');
  for (const part of parts) h.update(part);
  return h.digest('hex');
};

function refMemberHash(m: RefMember): string {
  const name = m.typeflag === '5' && !m.name.endsWith('/') ? `${m.name}/` : m.name;
  const fields: [string, string | number][] = [
    ['name', name],
    ['mode', m.mode],
    ['uid', m.uid],
    ['gid', m.gid],
    ['size', m.size],
    ['mtime', m.mtime],
    ['typeflag', m.typeflag],
    ['linkname', m.linkname],
    ['uname', m.uname],
    ['gname', m.gname],
    ['devmajor', m.devmajor],
    ['devminor', m.devminor],
  ];
  const header = fields.map(([k, v]) => `${k}${v}`).join('');
  return m.size > 0 ? sha256(header, m.data) : sha256(header);
}

function refTarsum(json: string, members: RefMember[]): string {
  const hashes = members.map(refMemberHash).sort();
  return `tarsum+sha256:${sha256(json + hashes.join(''))}`;
}

/** The member a `rawTar` description stands for (defaults as in the helper). */
function ref(m: RawMember): RefMember {
  const data =
    typeof m.body === 'string' ? new TextEncoder().encode(m.body) : (m.body ?? new Uint8Array(0));
  return {
    name: m.name,
    mode: m.mode ?? 0o644,
    uid: m.uid ?? 0,
    gid: m.gid ?? 0,
    size: m.size ?? data.byteLength,
    mtime: m.mtime ?? 0,
    typeflag: m.typeflag ?? '0',
    linkname: m.linkname ?? '',
    uname: m.uname ?? '',
    gname: m.gname ?? '',
    devmajor: m.devmajor ?? 0,
    devminor: m.devminor ?? 0,
    data,
  };
}

/** Minimal independent tar reader: ustar/gnu headers, GNU L/K long names, pax x/g records. */
function refParse(bytes: Uint8Array): RefMember[] {
  const decoder = new TextDecoder();
  const cstr = (b: Uint8Array, off: number, len: number) => {
    const field = b.subarray(off, off + len);
    const nul = field.indexOf(0);
    return decoder.decode(nul === -1 ? field : field.subarray(0, nul));
  };
  const oct = (b: Uint8Array, off: number, len: number) => {
    const s = cstr(b, off, len).trim();
    return s === '' ? 0 : Number.parseInt(s, 8);
  };
  const parsePax = (data: Uint8Array) => {
    const out: Record<string, string> = {};
    let rest = data;
    while (rest.byteLength > 0) {
      const space = rest.indexOf(0x20);
      const length = Number(decoder.decode(rest.subarray(0, space)));
      const record = decoder.decode(rest.subarray(space + 1, length - 1));
      const eq = record.indexOf('=');
      out[record.slice(0, eq)] = record.slice(eq + 1);
      rest = rest.subarray(length);
    }
    return out;
  };
  const members: RefMember[] = [];
  let pos = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Record<string, string> = {};
  let globalPax: Record<string, string> = {};
  while (pos + 512 <= bytes.byteLength) {
    const h = bytes.subarray(pos, pos + 512);
    pos += 512;
    if (h.every((b) => b === 0)) break;
    let name = cstr(h, 0, 100);
    const ustar = decoder.decode(h.subarray(257, 263)) === 'ustar\0';
    if (ustar && h[345] !== 0) name = `${cstr(h, 345, 155)}/${name}`;
    let typeflag = String.fromCharCode(h[156] ?? 0);
    let size = oct(h, 124, 12);
    if (typeflag === 'L' || typeflag === 'K' || typeflag === 'x' || typeflag === 'g') {
      const data = bytes.subarray(pos, pos + size);
      pos += Math.ceil(size / 512) * 512;
      if (typeflag === 'L') longName = cstr(data, 0, data.byteLength);
      if (typeflag === 'K') longLink = cstr(data, 0, data.byteLength);
      if (typeflag === 'x') pax = parsePax(data);
      if (typeflag === 'g') globalPax = parsePax(data);
      continue;
    }
    const p = { ...globalPax, ...pax };
    let linkname = cstr(h, 157, 100);
    let uid = oct(h, 108, 8);
    let gid = oct(h, 116, 8);
    let uname = cstr(h, 265, 32);
    let gname = cstr(h, 297, 32);
    let mtime = oct(h, 136, 12);
    if (longName !== undefined) name = longName;
    if (longLink !== undefined) linkname = longLink;
    if (p.path !== undefined) name = p.path.replace(/\/+$/, '');
    if (p.linkpath !== undefined) linkname = p.linkpath;
    if (p.size !== undefined) size = Number(p.size);
    if (p.uid !== undefined) uid = Number(p.uid);
    if (p.gid !== undefined) gid = Number(p.gid);
    if (p.uname !== undefined) uname = p.uname;
    if (p.gname !== undefined) gname = p.gname;
    if (p.mtime !== undefined) mtime = Math.floor(Number(p.mtime));
    if (typeflag === '\0' && name.endsWith('/')) typeflag = '5';
    if (typeflag === '5') name = name.replace(/\/+$/, '');
    const hasData = !'123456'.includes(typeflag) && typeflag !== '5';
    const data = bytes.subarray(pos, pos + size);
    if (typeflag !== '5') pos += Math.ceil(size / 512) * 512;
    members.push({
      name,
      mode: oct(h, 100, 8),
      uid,
      gid,
      size,
      mtime,
      typeflag,
      linkname,
      uname,
      gname,
      devmajor: oct(h, 329, 8),
      devminor: oct(h, 337, 8),
      data: hasData ? data : new Uint8Array(0),
    });
    longName = longLink = undefined;
    pax = {};
  }
  return members;
}

// --- tests -----------------------------------------------------------------------------------

const JSON_TEXT = '{"id":"7b2e9c1f0a3d4e5f"}';
const text = (s: string) => new TextEncoder().encode(s);

const regular: RawMember[] = [
  {
    name: 'etc/hostname',
    body: 'registry\n',
    mode: 0o644,
    mtime: 1_400_000_000,
    uname: 'root',
    gname: 'root',
  },
  {
    name: 'usr/bin/tool',
    body: crypto.getRandomValues(new Uint8Array(3000)),
    mode: 0o755,
    uid: 1000,
    gid: 100,
    mtime: 1_400_000_123,
  },
];

describe('tarsum (reference from §3)', () => {
  test('regular files', async () => {
    expect(await tarsum(JSON_TEXT, rawTar(regular))).toBe(refTarsum(JSON_TEXT, regular.map(ref)));
  });

  test('a directory gets one trailing slash, with or without one stored', async () => {
    const members: RawMember[] = [
      { name: 'etc/', typeflag: '5', mode: 0o755, mtime: 1_400_000_000 },
      { name: 'usr', typeflag: '5', mode: 0o700 },
    ];
    const sum = await tarsum(JSON_TEXT, rawTar(members));
    expect(sum).toBe(refTarsum(JSON_TEXT, members.map(ref)));
    // the reference adds the slash to 'usr'; check against the explicit form too
    const explicit = [ref(members[0]!), ref({ ...members[1]!, name: 'usr/' })];
    expect(sum).toBe(refTarsum(JSON_TEXT, explicit));
  });

  test('symlink and hardlink (linkname hashed, no body)', async () => {
    const members: RawMember[] = [
      { name: 'bin/sh', typeflag: '2', linkname: 'busybox', mode: 0o777 },
      { name: 'bin/busybox', body: 'elf' },
      { name: 'bin/ls', typeflag: '1', linkname: 'bin/busybox' },
    ];
    expect(await tarsum(JSON_TEXT, rawTar(members))).toBe(refTarsum(JSON_TEXT, members.map(ref)));
  });

  test('an empty file hashes its header only', async () => {
    const members: RawMember[] = [{ name: 'empty', body: '' }];
    const sum = await tarsum(JSON_TEXT, rawTar(members));
    expect(sum).toBe(refTarsum(JSON_TEXT, members.map(ref)));
    const header =
      'nameemptymode420uid0gid0size0mtime0typeflag0linknameunamegnamedevmajor0devminor0';
    expect(sum).toBe(`tarsum+sha256:${sha256(JSON_TEXT + sha256(header))}`);
  });

  test('devices, fifo and contiguous files', async () => {
    const members: RawMember[] = [
      { name: 'dev/null', typeflag: '3', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'dev/sda', typeflag: '4', devmajor: 8, devminor: 0, mode: 0o660, gid: 6 },
      { name: 'run/fifo', typeflag: '6', mode: 0o600 },
      { name: 'data', typeflag: '7', body: 'contiguous' },
    ];
    expect(await tarsum(JSON_TEXT, rawTar(members))).toBe(refTarsum(JSON_TEXT, members.map(ref)));
  });

  test('mode is the stored number, file-type bits included', async () => {
    const members: RawMember[] = [{ name: 'f', body: 'x', mode: 0o100644 }];
    expect(await tarsum(JSON_TEXT, rawTar(members))).toBe(refTarsum(JSON_TEXT, members.map(ref)));
    expect(ref(members[0]!).mode).toBe(33188);
  });

  test("an old-style '\\0' regular file hashes typeflag NUL (as Python does)", async () => {
    const members: RawMember[] = [{ name: 'old', typeflag: '\0', body: 'v7' }];
    const sum = await tarsum(JSON_TEXT, rawTar(members));
    expect(sum).toBe(refTarsum(JSON_TEXT, members.map(ref)));
    expect(sum).not.toBe(refTarsum(JSON_TEXT, [ref({ ...members[0]!, typeflag: '0' })]));
  });

  test("an old-style '\\0' member named with a trailing slash is a directory", async () => {
    const members: RawMember[] = [{ name: 'olddir/', typeflag: '\0', mode: 0o755, format: 'v7' }];
    expect(await tarsum(JSON_TEXT, rawTar(members))).toBe(
      refTarsum(JSON_TEXT, [ref({ ...members[0]!, typeflag: '5' })]),
    );
  });

  test('a gzip-compressed tar gives the same sum', async () => {
    const plain = rawTar(regular);
    expect(await tarsum(JSON_TEXT, gzip(plain))).toBe(await tarsum(JSON_TEXT, plain));
    expect(await tarsum(JSON_TEXT, streamOf(gzip(plain), 100))).toBe(
      refTarsum(JSON_TEXT, regular.map(ref)),
    );
  });

  test('pax xattrs (SCHILY.xattr.*) do not change the sum', async () => {
    const member: RawMember = { name: 'bin/ping', body: 'ping', mode: 0o4755 };
    const withXattrs = rawTar([
      {
        name: 'PaxHeaders.0/ping',
        typeflag: 'x',
        body: paxData({
          'SCHILY.xattr.security.capability': '\u0001\u0000\u0000\u0002 raw',
          'SCHILY.xattr.user.comment': 'é ünïcode',
        }),
      },
      member,
    ]);
    const plain = rawTar([member]);
    const sum = await tarsum(JSON_TEXT, withXattrs);
    expect(sum).toBe(await tarsum(JSON_TEXT, plain));
    expect(sum).toBe(refTarsum(JSON_TEXT, [ref(member)]));
  });

  test('pax path, uid, gid, uname, gname and size override the ustar fields', async () => {
    const longName = `${'deep/'.repeat(40)}file.txt`;
    const body = 'pax body';
    const archive = rawTar([
      {
        name: 'PaxHeaders.0/x',
        typeflag: 'x',
        body: paxData({
          path: longName,
          uid: '2000000',
          gid: '3000000',
          uname: 'ünï',
          gname: 'grp',
          size: String(body.length),
        }),
      },
      { name: 'short', body, size: 0 },
    ]);
    // size in the ustar header says 0, pax says 8: the body must still be hashed
    const expected = ref({
      name: longName,
      body,
      uid: 2_000_000,
      gid: 3_000_000,
      uname: 'ünï',
      gname: 'grp',
    });
    expect(await tarsum(JSON_TEXT, archive)).toBe(refTarsum(JSON_TEXT, [expected]));
  });

  test('GNU long names (L) and long link names (K) are not members', async () => {
    const longName = `${'n'.repeat(150)}/file`;
    const longLink = `${'t'.repeat(120)}/target`;
    const archive = rawTar([
      { name: '././@LongLink', typeflag: 'L', body: `${longName}\0`, format: 'gnu' },
      { name: longName.slice(0, 100), body: 'gnu', format: 'gnu' },
      { name: '././@LongLink', typeflag: 'K', body: `${longLink}\0`, format: 'gnu' },
      { name: 'link', typeflag: '2', linkname: longLink.slice(0, 100), format: 'gnu' },
    ]);
    expect(await tarsum(JSON_TEXT, archive)).toBe(
      refTarsum(JSON_TEXT, [
        ref({ name: longName, body: 'gnu' }),
        ref({ name: 'link', typeflag: '2', linkname: longLink }),
      ]),
    );
  });

  test('ustar prefix is joined to the name', async () => {
    const archive = rawTar([{ name: 'file', prefix: 'some/prefix', body: 'p' }]);
    const expected = [ref({ name: 'some/prefix/file', body: 'p' })];
    expect(await tarsum(JSON_TEXT, archive)).toBe(refTarsum(JSON_TEXT, expected));
  });

  test('member order does not matter', async () => {
    const members: RawMember[] = [
      ...regular,
      { name: 'a', typeflag: '5', mode: 0o755 },
      { name: 'a/b', body: 'b' },
      { name: 'a/c', typeflag: '2', linkname: 'b' },
    ];
    const forward = await tarsum(JSON_TEXT, rawTar(members));
    const backward = await tarsum(JSON_TEXT, rawTar([...members].reverse()));
    const shuffledMembers = [3, 0, 4, 1, 2].map((i) => members[i]!);
    const shuffled = await tarsum(JSON_TEXT, rawTar(shuffledMembers));
    expect(backward).toBe(forward);
    expect(shuffled).toBe(forward);
    expect(forward).toBe(refTarsum(JSON_TEXT, members.map(ref)));
  });

  test('the json bytes are part of the sum; string and bytes agree', async () => {
    const archive = rawTar(regular);
    const a = await tarsum(JSON_TEXT, archive);
    expect(await tarsum(text(JSON_TEXT), archive)).toBe(a);
    expect(await tarsum(`${JSON_TEXT} `, archive)).not.toBe(a);
  });

  test('streaming in odd-sized chunks gives the one-shot sum', async () => {
    const big = { name: 'big', body: crypto.getRandomValues(new Uint8Array(200_000)) };
    const archive = rawTar([...regular, big]);
    const oneShot = await tarsum(JSON_TEXT, archive);
    for (const size of [1, 511, 513, 4096, 65_537]) {
      expect(await tarsum(JSON_TEXT, streamOf(archive, size))).toBe(oneShot);
    }
  });

  test('archives written by tar-stream pack() match the reference parser', async () => {
    const archive = await buildTar([
      { name: 'etc', type: 'directory', mtime: 1_500_000_000 },
      { name: 'etc/passwd', body: 'root:x:0:0\n', uname: 'root', mtime: 1_500_000_001 },
      { name: 'etc/sh', type: 'symlink', linkname: '/bin/sh' },
      { name: 'etc/hard', type: 'link', linkname: 'etc/passwd' },
      { name: 'dev/zero', type: 'character-device', devmajor: 1, devminor: 5 },
      { name: `${'long-'.repeat(30)}name`, body: 'pax path' },
      { name: 'xattr', body: 'x', pax: { 'SCHILY.xattr.user.k': 'v' } },
    ]);
    const members = refParse(archive);
    expect(members.map((m) => m.name)).toContain(`${'long-'.repeat(30)}name`);
    expect(await tarsum(JSON_TEXT, archive)).toBe(refTarsum(JSON_TEXT, members));
  });
});

describe('tarsum edge cases', () => {
  test('a tar with no members is sha256(json)', async () => {
    const expected = `tarsum+sha256:${sha256(JSON_TEXT)}`;
    expect(await tarsum(JSON_TEXT, rawTar([]))).toBe(expected);
    expect(await tarsum(JSON_TEXT, new Uint8Array(10_240))).toBe(expected);
    expect(await tarsum(JSON_TEXT, gzip(rawTar([])))).toBe(expected);
  });

  test('a 0-byte layer is an empty layer', async () => {
    expect(await tarsum(JSON_TEXT, new Uint8Array(0))).toBe(`tarsum+sha256:${sha256(JSON_TEXT)}`);
    expect(await tarsum('', streamOf(new Uint8Array(0)))).toBe(`tarsum+sha256:${sha256('')}`);
  });

  test('unreadable layers reject with LAYER_FORMAT', async () => {
    const archive = rawTar(regular);
    await expectLayerFormat(tarsum(JSON_TEXT, archive.subarray(0, 700)));
    await expectLayerFormat(tarsum(JSON_TEXT, gzip(archive).subarray(0, 40)));
    await expectLayerFormat(tarsum(JSON_TEXT, text('BZh91AY&SY not really bzip2')));
    const random = crypto.getRandomValues(new Uint8Array(4096));
    random[0] = 0x41;
    await expectLayerFormat(tarsum(JSON_TEXT, random));
  });
});

// --- optional cross-check with GNU tar --------------------------------------------------------


describe.skipIf(gnuTar === null)('tarsum vs archives written by GNU tar', () => {
  function makeTree(): string {
    const root = mkdtempSync(join(tmpdir(), 'tarsum-'));
    const tree = join(root, 'tree');
    mkdirSync(join(tree, 'etc/deep'), { recursive: true });
    writeFileSync(join(tree, 'etc/hostname'), 'gnu\n');
    writeFileSync(join(tree, 'etc/deep/blob'), crypto.getRandomValues(new Uint8Array(70_000)));
    writeFileSync(join(tree, 'empty'), '');
    writeFileSync(join(tree, `${'x'.repeat(120)}.txt`), 'long name');
    symlinkSync('hostname', join(tree, 'etc/link'));
    linkSync(join(tree, 'etc/hostname'), join(tree, 'etc/hard'));
    Bun.spawnSync(['mkfifo', join(tree, 'fifo')]);
    const when = new Date('2014-05-13T16:53:20Z');
    for (const p of ['etc/hostname', 'etc/deep/blob', 'empty', 'etc/deep', 'etc', '.']) {
      utimesSync(join(tree, p), when, when);
    }
    return root;
  }

  for (const format of ['gnu', 'posix', 'ustar'] as const) {
    test(`--format=${format}`, async () => {
      const root = makeTree();
      try {
        const names = format === 'ustar' ? ['--exclude', `./${'x'.repeat(120)}.txt`, '.'] : ['.'];
        const tree = join(root, 'tree');
        const args = ['-c', `--format=${format}`, '-f', '-', '-C', tree, ...names];
        const run = Bun.spawnSync([gnuTar!, ...args]);
        expect(run.exitCode).toBe(0);
        const archive = new Uint8Array(run.stdout);
        const listing = Bun.spawnSync([gnuTar!, '-t', '-f', '-'], { stdin: archive });
        const listed = listing.stdout.toString();
        const members = refParse(archive);
        expect(members.map((m) => m.name.replace(/\/$/, '')).sort()).toEqual(
          listed
            .split('\n')
            .filter((l) => l !== '')
            .map((l) => (l === './' ? '.' : l.replace(/\/$/, '')))
            .sort(),
        );
        expect(await tarsum(JSON_TEXT, archive)).toBe(refTarsum(JSON_TEXT, members));
        const streamed = await tarsum(JSON_TEXT, streamOf(gzip(archive), 1000));
        expect(streamed).toBe(refTarsum(JSON_TEXT, members));
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });
  }
});
