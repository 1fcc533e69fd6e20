/**
 * Test builders for layer tarballs.
 *
 * - `buildTar(entries)` (dev/tar.ts, shared with the dev image fixture): a well-formed tar written
 *   by tar-stream's `pack()` (ustar, pax when needed), the whole archive, end blocks included.
 * - `rawTar(members)`: byte-exact tar written here, independent of tar-stream, for headers pack
 *   cannot produce (typeflag '\0', 'S', 'V', GNU 'L'/'K', hand-made pax 'x', mode 0, exact names
 *   such as '.'). Computes each header checksum.
 * - `paxData(records)`: the body of a pax extended header ('x'/'g') for `rawTar`.
 * - `gzip(bytes)`: Bun.gzipSync.
 * - `streamOf(bytes, chunkSize)`: a ReadableStream that delivers `bytes` in chunks.
 */
import { expect } from 'bun:test';
import { RegistryError } from '../../src/errors.ts';

/** ArrayBuffer-backed bytes (usable directly as a fetch/Response body). */
export type Bytes = Uint8Array<ArrayBuffer>;

export { buildTar, type TarEntry } from '../../dev/tar.ts';

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
