/**
 * Local filesystem driver. Keys map to files under `root`; uploads go to a unique temp file in
 * `<root>/.tmp/` (a name no key can reach) and are fsynced and renamed into place on commit, so a
 * final path only ever holds complete data. `blob()` returns a `BunFile`, which Bun serves with
 * sendfile(2).
 */
import { randomUUID } from 'node:crypto';
import { writeSync } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { BaseDriver, errorCode, storageError } from './base.ts';
import type { DriverHooks } from './base.ts';
import { InvalidKeyError, PathNotFoundError, StorageError, assertValidKey, isValidKey } from './driver.ts';
import type { ByteRange, FileWriter, StatInfo } from './driver.ts';

const DRIVER = 'fs';
const TEMP_DIR = '.tmp';
/** How often commit/move retry when a concurrent delete pruned the freshly made parent dir. */
const RENAME_ATTEMPTS = 5;
/** A writer flushes its file to disk in the background each time this many more bytes are in it. */
const WRITEBACK_BYTES = 32 * 1024 * 1024;
const RESOLVED: Promise<void> = Promise.resolve();

const errnoCode = errorCode;

/** A missing file, or a directory where a file was asked for: "not found" for reading calls. */
function isMissing(err: unknown): boolean {
  const code = errnoCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}

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
    if (errnoCode(err) !== 'ENOENT') throw err;
  } finally {
    await handle?.close();
  }
}

/**
 * `mkdir -p dir`, then fsyncs every directory whose entry list changed: the parents of all the
 * directories it created.
 */
async function makeDirs(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined) return;
  const top = dirname(first);
  for (let d = dirname(dir); ; d = dirname(d)) {
    await syncDir(d);
    if (d === top || d === dirname(d)) break;
  }
}

/**
 * Renames the temp file `src` onto `dst`, creating (and fsyncing) parent directories, then fsyncs
 * `dst`'s directory. Retries when a concurrent delete pruned the new parent between mkdir and
 * rename.
 */
async function renameInto(src: string, dst: string, key: string, op: string): Promise<void> {
  const dir = dirname(dst);
  for (let attempt = 1; ; attempt++) {
    try {
      await makeDirs(dir);
      await rename(src, dst);
      break;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') {
        if (!(await exists(src))) {
          throw new StorageError(`${op} failed: temp file vanished`, DRIVER, key, { cause: err });
        }
        if (attempt < RENAME_ATTEMPTS) continue;
      }
      throw wrapWriteError(err, key, op);
    }
  }
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
async function pruneEmptyParents(path: string, rootPrefix: string): Promise<void> {
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

export class FsDriver extends BaseDriver {
  readonly #root: string;
  readonly #rootPrefix: string;
  readonly #tempDir: string;

  constructor(root: string, hooks?: DriverHooks) {
    super(DRIVER, hooks);
    if (root === '') throw new StorageError('fs driver needs a root directory', DRIVER);
    this.#root = resolve(root);
    this.#rootPrefix = this.#root.endsWith(sep) ? this.#root : this.#root + sep;
    this.#tempDir = join(this.#root, TEMP_DIR);
  }

  protected isNotFound(err: unknown): boolean {
    return isMissing(err);
  }

  /**
   * Absolute path a key maps to. Validates the key and checks the result stays inside root.
   * @throws InvalidKeyError
   */
  pathOf(key: string): string {
    assertValidKey(DRIVER, key);
    const path = resolve(this.#root, key);
    if (!path.startsWith(this.#rootPrefix)) throw new InvalidKeyError(DRIVER, key);
    return path;
  }

  protected async doStat(key: string): Promise<StatInfo> {
    const st = await stat(this.pathOf(key));
    const isDir = st.isDirectory();
    return { size: isDir ? 0 : st.size, modTime: st.mtime, isDir };
  }

  protected async doGetContent(key: string): Promise<Uint8Array> {
    const buf = await readFile(this.pathOf(key));
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  protected async doPutContent(key: string, data: Uint8Array): Promise<void> {
    const writer = await this.doWriter(key);
    try {
      await writer.write(data);
      await writer.commit();
    } catch (err) {
      await writer.cancel();
      throw err;
    }
  }

  protected async doRead(key: string, range?: ByteRange): Promise<ReadableStream<Uint8Array>> {
    const path = this.pathOf(key);
    const size = await this.#fileSize(path, key);
    const file = Bun.file(path);
    if (!range) return file.stream();
    const end = Math.min(range.end, size - 1);
    if (range.start > end) return new Blob([]).stream();
    return file.slice(range.start, end + 1).stream();
  }

  /** A fresh `BunFile`, created only after the file is known to exist (sendfile-capable). */
  protected async doBlob(key: string): Promise<Blob> {
    const path = this.pathOf(key);
    await this.#fileSize(path, key);
    return Bun.file(path);
  }

  protected async doWriter(key: string): Promise<FileWriter> {
    const target = this.pathOf(key);
    const temp = join(this.#tempDir, `${randomUUID()}.part`);
    await mkdir(this.#tempDir, { recursive: true });
    const handle = await open(temp, 'wx');
    return new FsFileWriter(key, target, temp, handle, this.#rootPrefix);
  }

  protected async doDelete(key: string): Promise<void> {
    const path = this.pathOf(key);
    await stat(path);
    await rm(path, { recursive: true });
    await pruneEmptyParents(path, this.#rootPrefix);
  }

  protected async doList(prefix: string): Promise<string[]> {
    const dir = prefix === '' ? this.#root : this.pathOf(prefix);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if (prefix === '' && errnoCode(err) === 'ENOENT') return [];
      throw err;
    }
    // Only names a key can address are listed: this hides `.tmp` and any stray files.
    return names
      .filter((n) => isValidKey(n))
      .map((n) => (prefix === '' ? n : `${prefix}/${n}`))
      .sort();
  }

  protected async doRedirectUrl(): Promise<string | null> {
    return null;
  }

  /**
   * Deletes temp files in `<root>/.tmp` whose mtime is older than `maxAgeMs` and returns how
   * many were removed. A live upload touches its temp file on every write, so only uploads idle
   * for longer than `maxAgeMs` are reaped; pick an age well above the request idle timeout.
   */
  protected async doPurgeStaleUploads(maxAgeMs: number): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.#tempDir);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return 0;
      throw wrapWriteError(err, TEMP_DIR, 'purgeStaleUploads');
    }
    const cutoff = Date.now() - maxAgeMs;
    let removed = 0;
    for (const name of names) {
      const path = join(this.#tempDir, name);
      try {
        const st = await stat(path);
        if (st.mtimeMs >= cutoff) continue;
        await rm(path, { recursive: true });
        removed++;
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') continue; // committed or cancelled meanwhile
        throw wrapWriteError(err, `${TEMP_DIR}/${name}`, 'purgeStaleUploads');
      }
    }
    return removed;
  }

  /** Size of the regular file at `path`; PathNotFoundError when missing or a directory. */
  async #fileSize(path: string, key: string): Promise<number> {
    const st = await stat(path);
    if (!st.isFile()) throw new PathNotFoundError(DRIVER, key);
    return st.size;
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
class FsFileWriter implements FileWriter {
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

  constructor(key: string, target: string, temp: string, handle: FileHandle, rootPrefix: string) {
    this.#key = key;
    this.#target = target;
    this.#temp = temp;
    this.#handle = handle;
    this.#rootPrefix = rootPrefix;
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
    if (this.#syncing || this.#size - this.#syncedTo < WRITEBACK_BYTES) return;
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
      await handle.sync();
      this.#handle = undefined;
      await handle.close();
      await renameInto(this.#temp, this.#target, this.#key, 'commit');
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

  /** Closes and unlinks the temp file, ignoring errors (it may already be gone). */
  async #discard(): Promise<void> {
    await this.#syncing; // never rejects; the fd must stay open until the fdatasync is done
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close().catch(() => undefined);
    await unlink(this.#temp).catch(() => undefined);
  }
}
