/**
 * The one wrapper every driver goes through, as distribution's `driver/base`: a driver extends
 * {@link BaseDriver} and implements the protected `do*` methods, which only ever see keys and
 * ranges already checked. The public methods add what every driver needs alike: key and range
 * checks, the mapping of failures to `StorageError`s that name the driver, the key and the
 * operation (and `PathNotFoundError` where the driver says a failure means "missing"), and the
 * timing of each call.
 */
import { PathNotFoundError, StorageError, assertValidKey } from './driver.ts';
import type { ByteRange, FileWriter, PutOptions, StatInfo, StorageDriver } from './driver.ts';

/** The contract's operations, as timed and named in error messages. */
export type StorageOp =
  | 'stat'
  | 'getContent'
  | 'putContent'
  | 'read'
  | 'blob'
  | 'writer'
  | 'writerAt'
  | 'move'
  | 'concat'
  | 'delete'
  | 'list'
  | 'redirectUrl'
  | 'purgeStaleUploads';

/**
 * Called after every driver call with its duration in seconds (for a `read`, until the stream is
 * handed back, not until it is drained). Positional arguments, so a call allocates nothing.
 */
export type CallHook = (driver: string, op: StorageOp, seconds: number, ok: boolean) => void;

export interface DriverHooks {
  onCall?: CallHook;
}

/** `err.code`, for drivers that tell failures apart by it (errno names, S3 error codes). */
export function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/** The error's code (errno name, S3 error code) prefixed to its message, unless already there. */
function describe(err: unknown): string {
  const code = errorCode(err);
  const message = err instanceof Error ? err.message : String(err);
  if (!code || message.startsWith(code)) return message;
  // Bun passes some S3 servers' whole XML error document as the message: the code says it all.
  if (message.includes('<Error>')) return code;
  return `${code}: ${message}`;
}

/**
 * Typed errors pass through; a failure `isNotFound` recognises becomes PathNotFoundError; the
 * rest is wrapped as `"<op> failed: <code>: <message>"`. Also for a driver's writers and streams,
 * which fail outside the wrapper's calls.
 */
export function storageError(
  driver: string,
  err: unknown,
  key: string,
  op: string,
  isNotFound?: (err: unknown) => boolean,
): StorageError {
  if (err instanceof StorageError) return err;
  if (isNotFound?.(err)) return new PathNotFoundError(driver, key);
  return new StorageError(`${op} failed: ${describe(err)}`, driver, key, { cause: err });
}

function assertRange(driver: string, range: ByteRange, key: string): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new StorageError(`invalid byte range ${start}-${end}`, driver, key);
  }
}

export abstract class BaseDriver implements StorageDriver {
  readonly name: string;
  readonly #onCall: CallHook | undefined;
  readonly #isNotFound = (err: unknown): boolean => this.isNotFound(err);

  constructor(name: string, hooks: DriverHooks = {}) {
    this.name = name;
    this.#onCall = hooks.onCall;
  }

  /** True when a failure of a reading call means the key is missing (ENOENT, NoSuchKey). */
  protected abstract isNotFound(err: unknown): boolean;
  protected abstract doStat(key: string): Promise<StatInfo>;
  protected abstract doGetContent(key: string): Promise<Uint8Array>;
  protected abstract doPutContent(key: string, data: Uint8Array, durable: boolean): Promise<void>;
  /** `range` is valid (safe integers, start ≤ end) but may reach past the end: clamp it. */
  protected abstract doRead(key: string, range?: ByteRange): Promise<ReadableStream<Uint8Array>>;
  protected abstract doBlob(key: string): Promise<Blob>;
  protected abstract doWriter(key: string): Promise<FileWriter>;
  protected abstract doDelete(key: string): Promise<void>;

  /** Drivers that can continue an object in place override this and `canContinue`. */
  protected doWriterAt(key: string, _offset: number): Promise<FileWriter> {
    return Promise.reject(new StorageError(`${this.name} cannot continue an object`, this.name, key));
  }

  readonly canContinue: boolean = false;

  /** Drivers with non-durable writes override this (see the contract). */
  get volatileEpoch(): string | null {
    return null;
  }

  /** Both keys are valid. The default streams the bytes into a writer for `to`, then deletes `from`. */
  protected async doMove(from: string, to: string): Promise<void> {
    const writer = await this.doWriter(to);
    try {
      for await (const chunk of await this.doRead(from)) await writer.write(chunk);
      await writer.commit();
    } catch (err) {
      await writer.cancel();
      throw err;
    }
    await this.doDelete(from);
  }

  /** All keys are valid. The default composes nothing: the caller streams the bytes (false). */
  protected async doConcat(_sources: string[], _target: string): Promise<boolean> {
    return false;
  }

  /** `prefix` is `''` (the root) or a valid key. */
  protected abstract doList(prefix: string): Promise<string[]>;
  protected abstract doRedirectUrl(key: string): Promise<string | null>;
  protected abstract doPurgeStaleUploads(maxAgeMs: number): Promise<number>;

  stat(key: string): Promise<StatInfo> {
    return this.#call('stat', key, true, () => this.doStat(key));
  }

  getContent(key: string): Promise<Uint8Array> {
    return this.#call('getContent', key, true, () => this.doGetContent(key));
  }

  putContent(key: string, data: Uint8Array | string, options: PutOptions = {}): Promise<void> {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    return this.#call('putContent', key, false, () => this.doPutContent(key, bytes, options.durable ?? true));
  }

  read(key: string, range?: ByteRange): Promise<ReadableStream<Uint8Array>> {
    return this.#call('read', key, true, () => {
      if (range) assertRange(this.name, range, key);
      return this.doRead(key, range);
    });
  }

  blob(key: string): Promise<Blob> {
    return this.#call('blob', key, true, () => this.doBlob(key));
  }

  writer(key: string): Promise<FileWriter> {
    return this.#call('writer', key, false, () => this.doWriter(key));
  }

  writerAt(key: string, offset: number): Promise<FileWriter> {
    return this.#call('writerAt', key, true, () => {
      if (!Number.isSafeInteger(offset) || offset < 0) throw new StorageError(`invalid offset ${offset}`, this.name, key);
      return this.doWriterAt(key, offset);
    });
  }

  move(from: string, to: string): Promise<void> {
    return this.#call('move', from, true, () => {
      assertValidKey(this.name, to);
      return this.doMove(from, to);
    });
  }

  concat(sources: string[], target: string): Promise<boolean> {
    return this.#call('concat', target, true, () => {
      for (const source of sources) assertValidKey(this.name, source);
      return this.doConcat(sources, target);
    });
  }

  delete(key: string): Promise<void> {
    return this.#call('delete', key, true, () => this.doDelete(key));
  }

  list(prefix: string): Promise<string[]> {
    return this.#call('list', prefix === '' ? null : prefix, true, () => this.doList(prefix));
  }

  redirectUrl(key: string): Promise<string | null> {
    return this.#call('redirectUrl', key, false, () => this.doRedirectUrl(key));
  }

  purgeStaleUploads(maxAgeMs: number): Promise<number> {
    return this.#call('purgeStaleUploads', null, false, () => this.doPurgeStaleUploads(maxAgeMs));
  }

  /** Runs one call: key check (unless `key` is null), error mapping, timing. */
  async #call<T>(op: StorageOp, key: string | null, notFound: boolean, run: () => Promise<T>): Promise<T> {
    const started = this.#onCall ? performance.now() : 0;
    let ok = false;
    try {
      if (key !== null) assertValidKey(this.name, key);
      const result = await run();
      ok = true;
      return result;
    } catch (err) {
      throw storageError(this.name, err, key ?? '', op, notFound ? this.#isNotFound : undefined);
    } finally {
      this.#onCall?.(this.name, op, (performance.now() - started) / 1000, ok);
    }
  }
}
