/**
 * Test builders for layer tarballs.
 *
 * - `buildTar(entries)`: a well-formed tar written by tar-stream's `pack()` (ustar, pax when
 *   needed). Async because pack is a stream. Resolves to the whole archive, end blocks included.
 * - `rawTar(members)`: byte-exact tar written here, independent of tar-stream, for headers pack
 *   cannot produce (typeflag '\0', 'S', 'V', GNU 'L'/'K', hand-made pax 'x', mode 0, exact names
 *   such as '.'). Computes each header checksum.
 * - `paxData(records)`: the body of a pax extended header ('x'/'g') for `rawTar`.
 * - `gzip(bytes)`: Bun.gzipSync.
 * - `streamOf(bytes, chunkSize)`: a ReadableStream that delivers `bytes` in chunks.
 */
import { expect } from 'bun:test';
import { pack } from 'tar-stream';
import { RegistryError } from '../../src/errors.ts';
import type { Header } from 'tar-stream';

/** ArrayBuffer-backed bytes (usable directly as a fetch/Response body). */
export type Bytes = Uint8Array<ArrayBuffer>;

/** One member for `buildTar`. Times are integer seconds. */
export interface TarEntry {
  name: string;
  /** Default `'file'`. */
  type?: Header['type'];
  /** File body (only for 'file' / 'contiguous-file'); default empty. */
  body?: string | Uint8Array;
  /** Default 0o644 (0o755 for directories). pack() cannot write mode 0 (it becomes the default). */
  mode?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  /** Default 0. */
  mtime?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extra pax records (e.g. `{ 'SCHILY.xattr.user.k': 'v' }`); forces a pax header. */
  pax?: Record<string, string>;
}

/** Writes `entries` with tar-stream's pack() and returns the archive bytes. */
export async function buildTar(entries: readonly TarEntry[]): Promise<Bytes> {
  const archive = pack();
  const chunks: Uint8Array[] = [];
  const collected = (async () => {
    for await (const chunk of archive as AsyncIterable<Uint8Array>) chunks.push(chunk);
  })();
  for (const entry of entries) {
    const type = entry.type ?? 'file';
    const header = {
      name: entry.name,
      type,
      mode: entry.mode,
      uid: entry.uid ?? 0,
      gid: entry.gid ?? 0,
      uname: entry.uname,
      gname: entry.gname,
      mtime: new Date((entry.mtime ?? 0) * 1000),
      linkname: entry.linkname,
      devmajor: entry.devmajor,
      devminor: entry.devminor,
      pax: entry.pax,
    };
    if (type === 'file' || type === 'contiguous-file') {
      archive.entry(header, entry.body ?? new Uint8Array(0));
    } else {
      archive.entry(header);
    }
  }
  archive.finalize();
  await collected;
  return concatBytes(chunks);
}

/** One member for `rawTar`: every header field, verbatim. */
export interface RawMember {
  name: string;
  /** Typeflag character, e.g. '0', '\0', '5', 'x', 'L'. Default '0'. */
  typeflag?: string;
  body?: string | Uint8Array;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Default: the body length. */
  size?: number;
  mtime?: number;
  linkname?: string;
  uname?: string;
  gname?: string;
  devmajor?: number;
  devminor?: number;
  /** ustar prefix field (ustar format only). */
  prefix?: string;
  /** Default 'ustar' ("ustar\0" + "00"); 'gnu' is "ustar  \0"; 'v7' leaves magic empty. */
  format?: 'ustar' | 'gnu' | 'v7';
}

const encoder = new TextEncoder();

/** A single 512-byte header block for `member`, checksum included. */
export function rawHeader(member: RawMember): Bytes {
  const block = new Uint8Array(512);
  const body = toBytes(member.body ?? '');
  const put = (text: string, offset: number, length: number) => {
    const bytes = encoder.encode(text);
    if (bytes.byteLength > length) throw new Error(`field too long: ${text}`);
    block.set(bytes, offset);
  };
  const octal = (value: number, offset: number, length: number) =>
    put(`${value.toString(8).padStart(length - 1, '0')}\0`, offset, length);
  put(member.name, 0, 100);
  octal(member.mode ?? 0o644, 100, 8);
  octal(member.uid ?? 0, 108, 8);
  octal(member.gid ?? 0, 116, 8);
  octal(member.size ?? body.byteLength, 124, 12);
  octal(member.mtime ?? 0, 136, 12);
  block.fill(0x20, 148, 156); // checksum computed with the field as spaces
  block[156] = (member.typeflag ?? '0').charCodeAt(0);
  put(member.linkname ?? '', 157, 100);
  const format = member.format ?? 'ustar';
  if (format === 'ustar') put('ustar\u000000', 257, 8);
  if (format === 'gnu') put('ustar  \0', 257, 8);
  put(member.uname ?? '', 265, 32);
  put(member.gname ?? '', 297, 32);
  if (format !== 'v7') {
    octal(member.devmajor ?? 0, 329, 8);
    octal(member.devminor ?? 0, 337, 8);
  }
  if (member.prefix !== undefined) put(member.prefix, 345, 155);
  let sum = 0;
  for (const byte of block) sum += byte;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return block;
}

/** Header + padded body for each member, then two zero blocks (set `end: false` to omit them). */
export function rawTar(members: readonly RawMember[], options: { end?: boolean } = {}): Bytes {
  const parts: Uint8Array[] = [];
  for (const member of members) {
    const body = toBytes(member.body ?? '');
    parts.push(rawHeader(member), body, new Uint8Array((512 - (body.byteLength % 512)) % 512));
  }
  if (options.end !== false) parts.push(new Uint8Array(1024));
  return concatBytes(parts);
}

/** Pax extended header body: `"<len> <key>=<value>\n"` records. */
export function paxData(records: Record<string, string>): Bytes {
  let out = '';
  for (const [key, value] of Object.entries(records)) {
    const record = ` ${key}=${value}\n`;
    const bytes = encoder.encode(record).byteLength;
    let length = bytes + String(bytes).length;
    if (String(length).length !== String(bytes).length) length = bytes + String(length).length;
    out += `${length}${record}`;
  }
  return encoder.encode(out);
}

/** gzip-compresses `bytes`. */
export function gzip(bytes: Uint8Array): Bytes {
  return Bun.gzipSync(bytes as Bytes);
}

/** A ReadableStream delivering `bytes` in chunks of `chunkSize` (default: one chunk). */
export function streamOf(
  bytes: Uint8Array,
  chunkSize = bytes.byteLength,
): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.byteLength) {
        controller.close();
        return;
      }
      const end = Math.min(bytes.byteLength, offset + Math.max(1, chunkSize));
      controller.enqueue(bytes.slice(offset, end));
      offset = end;
    },
  });
}

/** Concatenates byte arrays into one new array. */
export function concatBytes(parts: readonly Uint8Array[]): Bytes {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

function toBytes(body: string | Uint8Array): Uint8Array {
  return typeof body === 'string' ? encoder.encode(body) : body;
}

/** Asserts that `promise` rejects with the catalogue's 400 `Layer format not supported`. */
export async function expectLayerFormat(promise: Promise<unknown>): Promise<void> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RegistryError);
  expect((error as RegistryError).code).toBe('LAYER_FORMAT');
  expect((error as RegistryError).status).toBe(400);
}

/** GNU tar on this machine, for cross-checks against a real tar writer (null when absent). */
export const gnuTar: string | null = (() => {
  const path = Bun.which('tar');
  return path !== null && Bun.spawnSync([path, '--version']).stdout.toString().includes('GNU tar') ? path : null;
})();
