/** The S3 driver's writer: a multipart upload fed by `write()` (see ./driver.ts). */
import type { S3File } from 'bun';
import type { FileWriter } from '../driver.ts';
import { StorageError } from '../driver.ts';
import { DRIVER, s3Error } from './errors.ts';

const MiB = 1024 * 1024;

export interface WriterOptions {
  partSize: number;
  queueSize: number;
  /** Runs before the upload is completed; a failure cancels the upload. */
  beforeCommit: () => Promise<void>;
}

/**
 * Feeds `write()`s into a ReadableStream that Bun uploads (see the module comment). The stream
 * holds at most about one MiB beyond what Bun has taken; a `write()` that finds it full waits
 * until Bun reads again, so a slow server slows the writer instead of filling memory.
 */
export class S3FileWriter implements FileWriter {
  readonly #key: string;
  readonly #beforeCommit: () => Promise<void>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  /** Settles (never rejects) when Bun's upload ends; `#failure` then says how. */
  readonly #upload: Promise<void>;
  #settled = false;
  #failure: unknown;
  #waiters: (() => void)[] = [];
  /** The last write's completion, so that writes resolve in the order issued. */
  #previous: Promise<void> = Promise.resolve();
  #size = 0;
  #state: 'open' | 'committing' | 'committed' | 'cancelled' | 'failed' = 'open';
  #committing: Promise<void> | undefined;

  constructor(key: string, file: S3File, options: WriterOptions) {
    this.#key = key;
    this.#beforeCommit = options.beforeCommit;
    const body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        pull: () => this.#wake(),
      },
      { highWaterMark: MiB, size: (chunk) => chunk?.byteLength ?? 0 },
    );
    // Bun's typings omit a bare ReadableStream here; a Response around it is the typed spelling.
    this.#upload = file
      .write(new Response(body), { partSize: options.partSize, queueSize: options.queueSize, retry: 3 })
      .then(
        () => {},
        (err: unknown) => {
          this.#failure = err;
        },
      )
      .finally(() => {
        this.#settled = true;
        this.#wake();
      });
  }

  get size(): number {
    return this.#size;
  }

  write(chunk: Uint8Array): Promise<void> {
    if (this.#state !== 'open') {
      return Promise.reject(new StorageError(`writer is ${this.#state}`, DRIVER, this.#key));
    }
    if (this.#failure !== undefined) return Promise.reject(this.#failed('write'));
    if (chunk.byteLength > 0) {
      try {
        // A copy: the caller may reuse its buffer as soon as this resolves, long before Bun sends it.
        this.#controller.enqueue(chunk.slice());
      } catch (err) {
        // Bun stopped reading (its upload is failing): the reason arrives with its promise.
        const stopped = new StorageError('write failed: the upload has stopped', DRIVER, this.#key, { cause: err });
        return Promise.reject(stopped);
      }
      this.#size += chunk.byteLength;
    }
    // Writes resolve in the order issued: each waits for the one before it, then for room.
    const done = this.#previous.then(() => this.#room());
    this.#previous = done.catch(() => {});
    return done;
  }

  commit(): Promise<void> {
    switch (this.#state) {
      case 'committed':
        return Promise.resolve();
      case 'committing':
        return this.#committing!;
      case 'open':
        this.#state = 'committing';
        this.#committing = this.#commit();
        return this.#committing;
      default:
        const after = this.#state === 'failed' ? 'a failure' : 'cancel';
        return Promise.reject(new StorageError(`commit after ${after}`, DRIVER, this.#key));
    }
  }

  async cancel(): Promise<void> {
    if (this.#state === 'committing') {
      await this.#committing!.catch(() => {});
      return;
    }
    if (this.#state !== 'open') return;
    this.#state = 'cancelled';
    await this.#abort();
  }

  async #commit(): Promise<void> {
    try {
      await this.#beforeCommit();
    } catch (err) {
      this.#state = 'cancelled';
      await this.#abort();
      throw s3Error(err, this.#key, 'commit');
    }
    if (!this.#settled) this.#controller.close();
    await this.#upload;
    if (this.#failure !== undefined) {
      this.#state = 'failed';
      throw this.#failed('commit');
    }
    this.#state = 'committed';
  }

  /** Errors the body stream and waits for Bun's upload to end (it sends the abort at once). */
  async #abort(): Promise<void> {
    if (!this.#settled) this.#controller.error(new StorageError('upload cancelled', DRIVER, this.#key));
    await this.#upload;
  }

  /** Waits until the stream has room again (Bun took data) or the upload has ended. */
  async #room(): Promise<void> {
    while ((this.#controller.desiredSize ?? 1) <= 0 && !this.#settled) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    if (this.#failure !== undefined) throw this.#failed('write');
  }

  #failed(op: string): StorageError {
    return s3Error(this.#failure, this.#key, op);
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }
}
