/**
 * The fs driver's writer and the directory work it shares with the driver: a private temp file in
 * `<root>/.tmp/`, fsynced and renamed into place on commit, with every changed directory fsynced
 * (a non-durable writer, see the contract in driver.ts, skips the fsyncs).
 */
import { writeSync } from 'node:fs';
import { mkdir, open, rename, rmdir, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errorCode, storageError } from './base.ts';
import { StorageError } from './driver.ts';
import type { FileWriter } from './driver.ts';

export const DRIVER = 'fs';
/** How often commit retries when a concurrent delete pruned the freshly made parent dir. */
const RENAME_ATTEMPTS = 5;
/** A writer flushes its file to disk in the background each time this many more bytes are in it. */
const WRITEBACK_BYTES = 32 * 1024 * 1024;
/**
 * The same for a non-durable writer (a V2 PATCH continuing an upload): smaller, so that a PATCH
 * of a few MiB flushes too (its own bytes and what earlier PATCHes left dirty) while it is being
 * received, and the move that completes the upload has little left to flush.
 */
const VOLATILE_WRITEBACK_BYTES = 8 * 1024 * 1024;
const RESOLVED: Promise<void> = Promise.resolve();

/** Wraps any error as a StorageError (for write paths, where ENOENT is not "not found"). */
function wrapWriteError(err: unknown, key: string, op: string): StorageError {
  return storageError(DRIVER, err, key, op);
}

/** fsyncs a directory so that entries created or renamed in it survive a crash. */
async function syncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    // The directory may already be gone again (a concurrent delete pruned it); nothing to sync.
    if (errorCode(err) !== 'ENOENT') throw err;
  } finally {
    await handle?.close();
  }
}

/** fsyncs a file's data (and size) through a descriptor of its own. */
export async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * `mkdir -p dir`, then (when `durable`) fsyncs every directory whose entry list changed: the
 * parents of all the directories it created.
 */
async function makeDirs(dir: string, durable: boolean): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined || !durable) return;
  const top = dirname(first);
  for (let d = dirname(dir); ; d = dirname(d)) {
    await syncDir(d);
    if (d === top || d === dirname(d)) break;
  }
}

/**
 * Renames the temp file `src` onto `dst`, creating (and fsyncing) parent directories, then fsyncs
 * `dst`'s directory (no fsync when not `durable`). Retries when a concurrent delete pruned the new
 * parent between mkdir and rename.
 */
export async function renameInto(src: string, dst: string, key: string, op: string, durable = true): Promise<void> {
  const dir = dirname(dst);
  for (let attempt = 1; ; attempt++) {
    try {
      await makeDirs(dir, durable);
      await rename(src, dst);
      break;
    } catch (err) {
      if (errorCode(err) === 'ENOENT') {
        if (!(await exists(src))) {
          throw new StorageError(`${op} failed: temp file vanished`, DRIVER, key, { cause: err });
        }
        if (attempt < RENAME_ATTEMPTS) continue;
      }
      throw wrapWriteError(err, key, op);
    }
  }
  if (!durable) return;
  try {
    await syncDir(dir);
  } catch (err) {
    throw wrapWriteError(err, key, op);
  }
}

/**
 * Removes now-empty directories from `path`'s parent up to (not including) the root, so a prefix
 * exists only while it holds objects, as in the memory and object-store drivers.
 */
export async function pruneEmptyParents(path: string, rootPrefix: string): Promise<void> {
  for (let dir = dirname(path); dir.startsWith(rootPrefix); dir = dirname(dir)) {
    try {
      await rmdir(dir);
    } catch {
      return; // not empty, or already gone: stop here
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

type WriterState = 'open' | 'committing' | 'committed' | 'cancelled';

/**
 * Writes into a private temp file. Each `write` is a positional write(2) made at once, on the JS
 * thread, so the returned promise is already settled: the bytes are in the file (and the file's
 * mtime, which purgeStaleUploads goes by, is fresh) and the caller may reuse the chunk.
 *
 * Why not FileHandle.write on Bun's I/O threads: a layer arrives as 64 KiB–1 MiB
 * chunks, and a thread-pool round trip per chunk cost more than the copy into the page cache
 * itself (1 GiB in 64 KiB writes on this 2-core machine: ~0.55 s of CPU through FileHandle.write,
 * ~0.3 s with writeSync). Writing the chunk right after it was hashed also reads it while it is
 * still in the CPU cache. A write into the page cache blocks the event loop for about as long as
 * hashing the same chunk does (~20 µs per 64 KiB); flushing to disk, the part that can take long,
 * stays off the JS thread: see `#writeback` and the fsync at commit.
 */
export class FsFileWriter implements FileWriter {
  readonly #key: string;
  readonly #target: string;
  readonly #temp: string;
  readonly #rootPrefix: string;
  #handle: FileHandle | undefined;
  #size = 0;
  #state: WriterState = 'open';
  /** the first write failure: later writes and the commit fail with it */
  #failure: StorageError | undefined;
  #commit: Promise<void> | undefined;
  /** file size when the last background fdatasync started */
  #syncedTo = 0;
  /** the background fdatasync in progress, if any */
  #syncing: Promise<void> | undefined;
  /** the first failure of a background fdatasync: the commit fails with it */
  #syncFailure: unknown;

  /** a continued object (FsDriver.writerAt): its size when taken, to which a cancel restores it */
  readonly #restoreTo: number | null;
  /** false: commit and cancel make the bytes visible without fsyncs (see the contract in driver.ts) */
  readonly #durable: boolean;

  /**
   * `start`: a continued object's bytes to keep (positional writes go on from there); null for a
   * new one. `durable`: whether commit (and a cancel that puts a continued object back) fsyncs.
   */
  constructor(key: string, target: string, temp: string, handle: FileHandle, rootPrefix: string, start: number | null = null, durable = true) {
    this.#key = key;
    this.#target = target;
    this.#temp = temp;
    this.#handle = handle;
    this.#rootPrefix = rootPrefix;
    this.#restoreTo = start;
    this.#durable = durable;
    this.#size = start ?? 0;
    this.#syncedTo = this.#size;
  }

  get size(): number {
    return this.#size;
  }

  write(chunk: Uint8Array): Promise<void> {
    if (this.#state !== 'open') {
      return Promise.reject(new StorageError(`writer is ${this.#state}`, DRIVER, this.#key));
    }
    if (this.#failure) return Promise.reject(this.#failure);
    const handle = this.#handle;
    if (!handle) return Promise.reject(new StorageError('writer is closed', DRIVER, this.#key));
    if (chunk.byteLength === 0) return RESOLVED;
    const position = this.#size;
    try {
      let done = 0;
      while (done < chunk.byteLength) {
        done += writeSync(handle.fd, chunk, done, chunk.byteLength - done, position + done);
      }
    } catch (err) {
      // what a failed write left in the file is unknown: the writer is done for
      this.#failure = wrapWriteError(err, this.#key, 'write');
      return Promise.reject(this.#failure);
    }
    this.#size += chunk.byteLength;
    this.#writeback(handle);
    return RESOLVED;
  }

  commit(): Promise<void> {
    if (this.#state === 'committed') return Promise.resolve();
    if (this.#state === 'cancelled') {
      return Promise.reject(new StorageError('commit after cancel', DRIVER, this.#key));
    }
    this.#commit ??= this.#doCommit();
    return this.#commit;
  }

  async cancel(): Promise<void> {
    if (this.#commit) {
      // A commit in progress either lands (then cancel is a no-op) or cleans up after itself.
      await this.#commit.catch(() => undefined);
      return;
    }
    if (this.#state !== 'open') return;
    this.#state = 'cancelled';
    await this.#discard();
  }

  /**
   * Early writeback: each time `WRITEBACK_BYTES` more are in the file, an fdatasync starts on an
   * I/O thread while the writes go on, so the fsync at commit only has the last few MiB left to
   * flush. Otherwise a large layer waits in the page cache (the kernel starts writing back only
   * at dirty_background_ratio, GiBs on a large machine) and the commit flushes all of it while
   * the client waits: about 0.3–0.4 s of a 1 GiB PUT here, more on a slower disk.
   */
  #writeback(handle: FileHandle): void {
    if (this.#syncing || this.#size - this.#syncedTo < (this.#durable ? WRITEBACK_BYTES : VOLATILE_WRITEBACK_BYTES)) return;
    this.#syncedTo = this.#size;
    this.#syncing = handle.datasync().then(
      () => {
        this.#syncing = undefined;
      },
      (err: unknown) => {
        this.#syncing = undefined;
        this.#syncFailure ??= err;
      },
    );
  }

  async #doCommit(): Promise<void> {
    this.#state = 'committing';
    try {
      if (this.#failure) throw this.#failure;
      await this.#syncing;
      // an error a background fdatasync saw may not be reported again by the fsync below
      if (this.#syncFailure !== undefined) throw this.#syncFailure;
      const handle = this.#handle;
      if (!handle) throw new StorageError('writer is closed', DRIVER, this.#key);
      if (this.#durable) await handle.sync();
      this.#handle = undefined;
      await handle.close();
      await renameInto(this.#temp, this.#target, this.#key, 'commit', this.#durable);
      this.#state = 'committed';
    } catch (err) {
      this.#state = 'cancelled';
      await this.#discard();
      // the rename may have failed after creating the target's directories (the temp file was
      // purged as abandoned): remove them again if empty, so no prefix exists without objects
      await pruneEmptyParents(this.#target, this.#rootPrefix);
      throw wrapWriteError(err, this.#key, 'commit');
    }
  }

  /**
   * Closes and unlinks the temp file, ignoring errors (it may already be gone); a continued object
   * is cut back to what it held and put back under its key instead, unless it is not durable and
   * a background flush failed: that flush covered bytes earlier writers left unflushed, which
   * the disk may not hold (and the error, reported once, would not reach a later fsync), so the
   * object is dropped and its upload cannot complete.
   */
  async #discard(): Promise<void> {
    await this.#syncing; // never rejects; the fd must stay open until the fdatasync is done
    const handle = this.#handle;
    this.#handle = undefined;
    if (this.#restoreTo !== null && handle && (this.#durable || this.#syncFailure === undefined)) {
      try {
        await handle.truncate(this.#restoreTo);
        if (this.#durable) await handle.sync();
        await handle.close();
        await renameInto(this.#temp, this.#target, this.#key, 'cancel', this.#durable);
        return;
      } catch {
        // it cannot be put back: it is lost, as a temp file the purge removes
      }
    }
    await handle?.close().catch(() => undefined);
    await unlink(this.#temp).catch(() => undefined);
  }
}
