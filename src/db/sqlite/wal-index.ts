/**
 * The WAL-index header at the start of `<db>-shm` (SQLite's WAL file format: a 48-byte header
 * stored twice, which every commit and every WAL reset rewrites, its change counter included).
 * In WAL mode `PRAGMA data_version` changes exactly when a new read transaction finds this header
 * different from the one its connection saw last; so while the bytes read here equal those read
 * just before the last real check, that check would answer the same, and one pread of 96 bytes
 * replaces a read transaction. Anything unexpected (bytes that differ, copies that disagree, a
 * header not initialised, a failed read) means "changed": the caller does the real check.
 *
 * The file is read through a descriptor that is never closed: closing any descriptor of a file
 * drops every POSIX lock the process holds on it, SQLite's own on this file included (which is why
 * it is not mapped with Bun.mmap, which opens and closes the file). One per -shm file per process.
 */
import type { Database } from 'bun:sqlite';
import { openSync, readSync, statSync } from 'node:fs';

/** WalIndexHdr.iVersion of the WAL format SQLite writes (3.7.0 and later). */
const WAL_INDEX_VERSION = 3007000;
const HEADER_BYTES = 48;
const WORDS = HEADER_BYTES / 4;

/** -shm descriptors by device and inode, kept for the life of the process (see the top). */
const descriptors = new Map<string, number>();

function descriptor(path: string): number {
  const st = statSync(path, { bigint: true });
  const key = `${st.dev}:${st.ino}`;
  let fd = descriptors.get(key);
  if (fd === undefined) {
    fd = openSync(path, 'r');
    descriptors.set(key, fd);
  }
  return fd;
}

export class WalIndexHeader {
  readonly #fd: number;
  readonly #bytes = new Uint8Array(2 * HEADER_BYTES);
  readonly #words = new Int32Array(this.#bytes.buffer);
  readonly #seen = new Int32Array(WORDS);
  #valid = false;

  private constructor(fd: number) {
    this.#fd = fd;
  }

  /**
   * The header of a connection's main database, or null when it has none to read (in memory, not
   * in WAL mode, no -shm file): then every check is the real one.
   */
  static of(client: Database): WalIndexHeader | null {
    try {
      // a read transaction first: the connection opens (and locks) the -shm before we look for it
      client.prepare('PRAGMA data_version').values();
      const mode = client.prepare('PRAGMA journal_mode').values()[0]?.[0];
      // the file as SQLite named it (symlinks resolved), its -shm beside it
      const main = client.prepare('PRAGMA database_list').values().find((row) => row[1] === 'main')?.[2];
      if (mode !== 'wal' || typeof main !== 'string' || main === '') return null;
      const header = new WalIndexHeader(descriptor(`${main}-shm`));
      header.mark();
      return header.#valid ? header : null;
    } catch {
      return null;
    }
  }

  /** Both copies read, equal and initialised. */
  #read(): boolean {
    try {
      if (readSync(this.#fd, this.#bytes, 0, this.#bytes.length, 0) !== this.#bytes.length) return false;
    } catch {
      return false;
    }
    const w = this.#words;
    for (let i = 0; i < WORDS; i++) if (w[i] !== w[i + WORDS]) return false;
    // isInit is the byte at offset 12
    return w[0] === WAL_INDEX_VERSION && this.#bytes[12] === 1;
  }

  /** Remembers the header as it is now; call it before the real check. */
  mark(): void {
    this.#valid = this.#read();
    if (this.#valid) this.#seen.set(this.#words.subarray(0, WORDS));
  }

  /** The header is byte for byte what `mark()` saw: nobody has committed since. */
  unchanged(): boolean {
    if (!this.#valid || !this.#read()) return false;
    const w = this.#words;
    const seen = this.#seen;
    for (let i = 0; i < WORDS; i++) if (w[i] !== seen[i]) return false;
    return true;
  }
}
