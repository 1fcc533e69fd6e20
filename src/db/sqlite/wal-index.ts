/**
 * The WAL-index header at the start of `<db>-shm` (SQLite's WAL file format: a 48-byte header
 * stored twice, which every commit and every WAL reset rewrites, its change counter included).
 * In WAL mode `PRAGMA data_version` changes exactly when a new read transaction finds this header
 * different from the one its connection saw last; so while the bytes read here equal those read
 * just before the last real check, that check would answer the same, and reading 96 bytes
 * replaces a read transaction. Anything unexpected (bytes that differ, copies that disagree, a
 * header not initialised, a failed read) means "changed": the caller does the real check.
 *
 * The file is opened once per -shm file per process and its descriptor never closed: closing any
 * descriptor of a file drops every POSIX lock the process holds on it, SQLite's own on this file
 * included (which is why `Bun.mmap`, which opens and closes the file, cannot be used). Through
 * that descriptor the first page is mapped (libc's mmap, os/libc.ts), as SQLite maps it
 * itself, so a check is a few memory reads and no system call (with the pread, a tag list cost
 * ≈ 25 µs of server CPU per request over a socket, mapped ≈ 19: bench/README.md, "perf: issue
 * 13"); where the mapping cannot be made (no glibc, an FFI failure) the header is read with pread.
 *
 * Reading the mapping is safe only while one of this process's connections has the database
 * open: SQLite truncates a -shm (which would fault a read past its end) only when it finds no
 * connection of any process holding it (the DMS lock every open connection keeps); the store
 * stops reading it when it closes its connection.
 */
import type { Database } from 'bun:sqlite';
import { openSync, readSync, statSync } from 'node:fs';
import { mapShared } from '../../os/libc.ts';

/** WalIndexHdr.iVersion of the WAL format SQLite writes (3.7.0 and later). */
const WAL_INDEX_VERSION = 3007000;
const HEADER_BYTES = 48;
const WORDS = HEADER_BYTES / 4;
/** what is mapped: the first page (a -shm file is 32 KiB or more once a reader has opened it) */
const MAP_BYTES = 4096;

/** The two copies of the header: the mapped file, or a buffer `refresh` fills. */
interface HeaderSource {
  readonly bytes: Uint8Array;
  /** the same bytes as native-order words */
  readonly words: Int32Array;
  readonly mapped: boolean;
  /** brings the bytes up to date; false when the file could not be read */
  refresh(): boolean;
}

/** pread of both copies into a buffer. */
function readSource(fd: number): HeaderSource {
  const words = new Int32Array(2 * WORDS);
  const bytes = new Uint8Array(words.buffer);
  return {
    bytes,
    words,
    mapped: false,
    refresh() {
      try {
        return readSync(fd, bytes, 0, bytes.length, 0) === bytes.length;
      } catch {
        return false;
      }
    },
  };
}

/** Sources by the -shm's device and inode, kept for the life of the process (see the top). */
const sources = new Map<string, HeaderSource>();

function sourceOf(path: string, map: boolean): HeaderSource {
  const st = statSync(path, { bigint: true });
  const key = `${st.dev}:${st.ino}:${map}`;
  let source = sources.get(key);
  if (source === undefined) {
    const fd = openSync(path, 'r');
    const memory = map && st.size >= MAP_BYTES ? mapShared(fd, MAP_BYTES) : null;
    source = memory ? { bytes: new Uint8Array(memory), words: new Int32Array(memory), mapped: true, refresh: () => true } : readSource(fd);
    sources.set(key, source);
  }
  return source;
}

export class WalIndexHeader {
  readonly #source: HeaderSource;
  readonly #seen = new Int32Array(WORDS);
  #valid = false;

  private constructor(source: HeaderSource) {
    this.#source = source;
  }

  /**
   * The header of a connection's main database, or null when it has none to read (in memory, not
   * in WAL mode, no -shm file): then every check is the real one. `map: false` reads it with
   * pread instead of mapping it (the fallback, for tests).
   */
  static of(client: Database, options: { map?: boolean } = {}): WalIndexHeader | null {
    try {
      // a read transaction first: the connection opens (and locks) the -shm before we look for it
      client.prepare('PRAGMA data_version').values();
      const mode = client.prepare('PRAGMA journal_mode').values()[0]?.[0];
      // the file as SQLite named it (symlinks resolved), its -shm beside it
      const main = client.prepare('PRAGMA database_list').values().find((row) => row[1] === 'main')?.[2];
      if (mode !== 'wal' || typeof main !== 'string' || main === '') return null;
      const header = new WalIndexHeader(sourceOf(`${main}-shm`, options.map ?? true));
      header.mark();
      return header.#valid ? header : null;
    } catch {
      return null;
    }
  }

  /** Whether the header is read through a mapping (else with pread). */
  get mapped(): boolean {
    return this.#source.mapped;
  }

  /** Both copies read, equal and initialised. */
  #read(): boolean {
    if (!this.#source.refresh()) return false;
    const w = this.#source.words;
    for (let i = 0; i < WORDS; i++) if (w[i] !== w[i + WORDS]) return false;
    // isInit is the byte at offset 12
    return w[0] === WAL_INDEX_VERSION && this.#source.bytes[12] === 1;
  }

  /** Remembers the header as it is now; call it before the real check. */
  mark(): void {
    this.#valid = this.#read();
    if (this.#valid) this.#seen.set(this.#source.words.subarray(0, WORDS));
  }

  /** The header is byte for byte what `mark()` saw: nobody has committed since. */
  unchanged(): boolean {
    if (!this.#valid || !this.#read()) return false;
    const w = this.#source.words;
    const seen = this.#seen;
    for (let i = 0; i < WORDS; i++) if (w[i] !== seen[i]) return false;
    return true;
  }
}
