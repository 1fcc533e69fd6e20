/**
 * The storage driver contract. A driver stores opaque byte blobs under keys built only by
 * `src/storage/paths.ts`. Keys are `/`-separated relative paths of `[a-z0-9._-]` segments that never
 * start with `.` (see `isValidKey`); drivers reject anything else with `InvalidKeyError`, so no
 * client text can name a location outside the driver's root.
 *
 * Every driver extends `BaseDriver` (./base.ts), which checks keys and ranges, maps failures to
 * the errors below and times each call; a driver implements only the storage itself.
 *
 * Semantics every driver must honour (the contract suite in test/storage/driver.suite.ts checks
 * them all):
 * - Nothing written through a `FileWriter` is visible (stat/read/list) before `commit()`
 *   resolves; `cancel()` discards it. A committed key is replaced atomically.
 * - Durability: what `writer` commits, `putContent` stores and `move` puts in place is durable
 *   when the call resolves (on disk: fsynced, its directory too). What `writerAt` commits and
 *   `putContent(…, { durable: false })` stores is visible at once but durable only once `move`
 *   has put it in place: until then a crash of the machine (not of a process) may lose it, in
 *   whole or in part, silently; `volatileEpoch` tells whether that can have happened.
 * - `read` with a range returns exactly bytes [start, end] inclusive, clamped to the size.
 * - A missing key gives `PathNotFoundError` from stat/read/blob/getContent/delete.
 * - `delete` of a "directory" prefix removes everything under it.
 * - `list(prefix)` returns the immediate children of a prefix as full keys, sorted.
 */
export interface StatInfo {
  size: number;
  modTime: Date;
  isDir: boolean;
}

export interface ByteRange {
  /** first byte, inclusive */
  start: number;
  /** last byte, inclusive */
  end: number;
}

export interface PutOptions {
  /**
   * false: the object need not survive a crash of the machine until a `move` puts it in place
   * (see `volatileEpoch`); the disk driver then skips its fsyncs. Default true.
   */
  durable?: boolean;
}

export interface FileWriter {
  /**
   * Appends a chunk. Awaiting the result applies backpressure. Writes may be issued without
   * awaiting each one: they land, and resolve, in the order issued. Once a write has resolved,
   * the writer holds no reference to its chunk (the bytes were copied or stored), so the caller
   * may reuse or free the chunk's memory.
   */
  write(chunk: Uint8Array): Promise<void>;
  /** The object's size so far (a continued object's kept bytes included, see writerAt). */
  readonly size: number;
  /** Makes the data visible under the key, durably (fsync where the medium has it). */
  commit(): Promise<void>;
  /** Discards everything written; safe to call after a failure, twice, or after commit (no-op). */
  cancel(): Promise<void>;
}

export interface StorageDriver {
  readonly name: string;
  stat(key: string): Promise<StatInfo>;
  /** Whole small object. */
  getContent(key: string): Promise<Uint8Array>;
  /** Atomic small write (temp + rename on disk); durable unless `options.durable` is false. */
  putContent(key: string, data: Uint8Array | string, options?: PutOptions): Promise<void>;
  /** A stream of the object's bytes, or of one inclusive range of them. */
  read(key: string, range?: ByteRange): Promise<ReadableStream<Uint8Array>>;
  /**
   * The object as a Blob suitable for `new Response(blob)`. The filesystem driver returns a
   * `BunFile` so Bun answers with sendfile(2); others may return any Blob, but not an S3File
   * (Bun turns `new Response(s3File)` into a 302 and refuses it with a ResponseInit): the s3
   * driver returns a stream-backed `S3ObjectBlob`, readable as a body once. Taking
   * `.slice(a, b)` of it is how ranged replies are built.
   */
  blob(key: string): Promise<Blob>;
  writer(key: string): Promise<FileWriter>;
  /** Whether `writerAt` works here (fs, memory: yes; s3: no, an object cannot grow in place). */
  readonly canContinue: boolean;
  /**
   * Continues a committed object at its end, which must be byte `offset`. While the writer is open
   * the object is taken out of its key — invisible, and a second `writerAt` of it fails with
   * PathNotFoundError, as does a missing object or one whose size is not `offset` (longer: another
   * writer continued it since the caller looked, and its bytes are never cut): taking it is the
   * claim that keeps two writers apart; commit puts it back with the new bytes, visible at once
   * but not durable (see `volatileEpoch`; a V2 upload's PATCH: durability is paid once, by the
   * `move` that completes it); cancel puts it back as it was.
   */
  writerAt(key: string, offset: number): Promise<FileWriter>;
  /**
   * Moves a committed object to another key, replacing what is there atomically (the target
   * holds either its old bytes or all of the source's, never a part), durably: the bytes of an
   * object `writerAt` or a non-durable `putContent` left are made durable first. The source is
   * gone afterwards. Where the medium can rename (fs, memory) no byte is copied; elsewhere (s3)
   * the bytes are streamed into a writer for the target, then the source deleted. The target's
   * modTime is the time of the move, not of the source's last write (garbage collection dates
   * bytes no row names yet by it).
   */
  move(from: string, to: string): Promise<void>;
  /**
   * Puts the concatenation of the committed objects `sources`, in order, under `target`, on the
   * storage's own side (no byte passes through this process), replacing what is there
   * atomically (the target holds either its old bytes or all of the concatenation, never a
   * part), durably. The sources stay (the caller deletes them). Resolves false, having changed
   * nothing, when the medium cannot compose these objects so (fs, memory: never; s3: no explicit
   * credentials to sign with, or the sources break a multipart upload's rules: a part other than
   * the last under 5 MiB, one over 5 GiB, over 10 000 parts): the caller then streams the bytes
   * itself. A failure leaves the target as it was and throws.
   */
  concat(sources: string[], target: string): Promise<boolean>;
  /**
   * What the bytes of a non-durable write (`writerAt`'s commit, `putContent(…, { durable: false })`)
   * survive. null: every write is durable (s3; memory, which lives no longer than its process).
   * Otherwise such bytes can be lost or torn only by an event that changes this value, and by
   * nothing else: the fs driver's value is the kernel's boot id, as bytes not yet flushed live in
   * the page cache, which only a crash or reboot of the OS empties (a process crash leaves them).
   * So what a process learned about the bytes (their length, their digest) may be trusted later
   * only while the value is the one it was then. (A disk driver that cannot read a boot id
   * fsyncs every write and answers null.)
   */
  readonly volatileEpoch: string | null;
  delete(key: string): Promise<void>;
  list(prefix: string): Promise<string[]>;
  /** A URL clients may be redirected to instead of streaming through us, or null. */
  redirectUrl(key: string): Promise<string | null>;
  /**
   * Removes what uploads abandoned longer than `maxAgeMs` ago left behind in the driver's own
   * space and returns how many it removed. A live writer counts as fresh on every write. Drivers
   * that keep nothing outside their writers answer 0 (see each driver's comment).
   */
  purgeStaleUploads(maxAgeMs: number): Promise<number>;
}

export class StorageError extends Error {
  constructor(
    message: string,
    readonly driver: string,
    readonly key?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StorageError';
  }
}

export class PathNotFoundError extends StorageError {
  constructor(driver: string, key: string) {
    super(`path not found: ${key}`, driver, key);
    this.name = 'PathNotFoundError';
  }
}

export class InvalidKeyError extends StorageError {
  constructor(driver: string, key: string) {
    super(`invalid storage key: ${JSON.stringify(key)}`, driver, key);
    this.name = 'InvalidKeyError';
  }
}

const SEGMENT = /^[a-z0-9_][a-z0-9._-]*$/;

/** True for keys drivers accept: relative, `/`-separated, no empty/dot-leading segments. */
export function isValidKey(key: string): boolean {
  if (key.length === 0 || key.length > 1024) return false;
  return key.split('/').every((s) => SEGMENT.test(s));
}

export function assertValidKey(driver: string, key: string): void {
  if (!isValidKey(key)) throw new InvalidKeyError(driver, key);
}
