/**
 * Tarballs for tests, benchmarks and the image fixture: a well-formed tar written by tar-stream's
 * `pack()` (ustar, pax when needed). Async because pack is a stream; resolves to the whole
 * archive, end blocks included.
 */
import { pack } from 'tar-stream';
import type { Header } from 'tar-stream';

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
export async function buildTar(entries: readonly TarEntry[]): Promise<Uint8Array<ArrayBuffer>> {
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
  return new Uint8Array(Buffer.concat(chunks));
}
