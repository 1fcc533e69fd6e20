/**
 * Local filesystem driver. Keys map to files under `root`; uploads go to a unique temp file in
 * `<root>/.tmp/` (a name no key can reach) and are fsynced and renamed into place on commit, so a
 * final path only ever holds complete data. `blob()` returns a `BunFile`, which Bun serves with
 * sendfile(2).
 *
 * Non-durable writes (`writerAt`, `putContent(…, { durable: false })`: a V2 upload's session
 * object and its PATCHes) are renamed into place without fsyncs; their bytes live in the page
 * cache until `move` flushes them, so only an OS crash can lose them, and `volatileEpoch` is the
 * kernel's boot id, which changes exactly then. Where the boot id cannot be read, every write is
 * durable and `volatileEpoch` null.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { BaseDriver, errorCode, storageError } from './base.ts';
import type { DriverHooks } from './base.ts';
import { InvalidKeyError, PathNotFoundError, StorageError, assertValidKey, isValidKey } from './driver.ts';
import type { ByteRange, FileWriter, StatInfo } from './driver.ts';
import { DRIVER, FsFileWriter, pruneEmptyParents, renameInto, syncFile } from './fs-writer.ts';

const TEMP_DIR = '.tmp';

/** The kernel's boot id (a new one at every boot), or null where it cannot be read. */
function readBootId(): string | null {
  try {
    const id = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return id === '' ? null : id;
  } catch {
    return null;
  }
}

let bootId: string | null | undefined;

/** A missing file, or a directory where a file was asked for: "not found" for reading calls. */
function isMissing(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}

export class FsDriver extends BaseDriver {
  override readonly canContinue = true;
  readonly #root: string;
  readonly #rootPrefix: string;
  readonly #tempDir: string;

  constructor(root: string, hooks?: DriverHooks) {
    super(DRIVER, hooks);
    if (root === '') throw new StorageError('fs driver needs a root directory', DRIVER);
    this.#root = resolve(root);
    this.#rootPrefix = this.#root.endsWith(sep) ? this.#root : this.#root + sep;
    this.#tempDir = join(this.#root, TEMP_DIR);
    bootId ??= readBootId();
  }

  /** The boot id (see the top): what a write that skipped its fsyncs survives. */
  override get volatileEpoch(): string | null {
    return bootId ?? null;
  }

  /** Whether a write asked not to be durable may skip its fsyncs (only where the boot id is known). */
  #durable(asked: boolean): boolean {
    return asked || this.volatileEpoch === null;
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

  protected async doPutContent(key: string, data: Uint8Array, durable: boolean): Promise<void> {
    const writer = await this.#newWriter(key, this.#durable(durable));
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
    return this.#newWriter(key, true);
  }

  async #newWriter(key: string, durable: boolean): Promise<FsFileWriter> {
    const target = this.pathOf(key);
    const temp = join(this.#tempDir, `${randomUUID()}.part`);
    await mkdir(this.#tempDir, { recursive: true });
    const handle = await open(temp, 'wx');
    return new FsFileWriter(key, target, temp, handle, this.#rootPrefix, null, durable);
  }

  /**
   * Takes the object out of its key by renaming it into `.tmp/` (the atomic claim: a second taker
   * finds nothing), checks that it ends at `offset` and writes on from there; commit renames it back,
   * without fsyncs (not durable: see the top).
   */
  protected override async doWriterAt(key: string, offset: number): Promise<FileWriter> {
    const target = this.pathOf(key);
    const temp = join(this.#tempDir, `${randomUUID()}.part`);
    await mkdir(this.#tempDir, { recursive: true });
    await rename(target, temp);
    const handle = await open(temp, 'r+');
    try {
      // only at its end: bytes past `offset` may be a concurrent writer's, recorded since its
      // caller looked (see the contract), and are never cut
      const { size } = await handle.stat();
      if (size !== offset) throw new PathNotFoundError(DRIVER, key);
    } catch (err) {
      await handle.close();
      await rename(temp, target).catch(() => undefined);
      throw err;
    }
    return new FsFileWriter(key, target, temp, handle, this.#rootPrefix, offset, this.#durable(false));
  }

  /**
   * A rename (the source must be a file): atomic, nothing copied; the file fsynced first (a
   * non-durable write's bytes become durable here; already flushed ones cost nothing), the
   * directory after; the target is dated by the move (its mtime set to now), as a new object on
   * S3 would be.
   */
  protected override async doMove(from: string, to: string): Promise<void> {
    const source = this.pathOf(from);
    await this.#fileSize(source, from);
    await syncFile(source);
    const now = new Date();
    // dated before the rename: the object is never visible under `to` with its old time
    await utimes(source, now, now);
    await renameInto(source, this.pathOf(to), to, 'move');
    await pruneEmptyParents(source, this.#rootPrefix);
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
      if (prefix === '' && errorCode(err) === 'ENOENT') return [];
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
      if (errorCode(err) === 'ENOENT') return 0;
      throw storageError(DRIVER, err, TEMP_DIR, 'purgeStaleUploads');
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
        if (errorCode(err) === 'ENOENT') continue; // committed or cancelled meanwhile
        throw storageError(DRIVER, err, `${TEMP_DIR}/${name}`, 'purgeStaleUploads');
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

