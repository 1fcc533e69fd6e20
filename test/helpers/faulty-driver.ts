/**
 * A StorageDriver wrapper that injects faults on demand, for the storage-fault tests
 * (test/faults/). Faults are thrown as `StorageError`s carrying an errno-like cause (`EIO`,
 * `ENOSPC`), exactly as src/storage/fs.ts wraps a failing syscall, so the code under test sees
 * what a real failing disk would give it.
 *
 * - `write`: a writer's `write()` fails once more than `afterBytes` bytes (default 0) went through
 *   it; the bytes before that reach the inner writer (so a partial temp object exists).
 * - `commit`: a writer's `commit()` fails (the inner writer is cancelled first, like a failed
 *   rename/fsync leaves nothing).
 * - `writer`: opening a writer fails.
 * - `read`: `read()` rejects, or with `midStream` the returned stream errors after `afterBytes`.
 * - `blob`, `stat`, `delete`, `getContent`, `putContent`, `list`, `redirectUrl`,
 *   `purgeStaleUploads`, `move`, `concat`: the call rejects.
 * Faults stay until `clear()` (or `clear(op)`); `times` limits how often one fires.
 */
import { StorageError } from '../../src/storage/driver.ts';
import type { ByteRange, FileWriter, PutOptions, StatInfo, StorageDriver } from '../../src/storage/driver.ts';

export type FaultOp =
  | 'write'
  | 'commit'
  | 'writer'
  | 'writerAt'
  | 'move'
  | 'concat'
  | 'read'
  | 'blob'
  | 'stat'
  | 'delete'
  | 'getContent'
  | 'putContent'
  | 'list'
  | 'redirectUrl'
  | 'purgeStaleUploads';

type Errno = 'EIO' | 'ENOSPC' | 'EACCES';

export interface Fault {
  op: FaultOp;
  errno?: Errno;
  /** write: bytes accepted before failing; read with midStream: bytes delivered before erroring */
  afterBytes?: number;
  /** read: the stream opens fine and errors part-way */
  midStream?: boolean;
  /** how many times the fault fires before disarming itself (default: until cleared) */
  times?: number;
}

const MESSAGES: Record<Errno, string> = {
  EIO: 'EIO: i/o error',
  ENOSPC: 'ENOSPC: no space left on device',
  EACCES: 'EACCES: permission denied',
};

function errnoError(errno: Errno): Error {
  return Object.assign(new Error(MESSAGES[errno]), { code: errno });
}

export class FaultyDriver implements StorageDriver {
  readonly name: string;
  readonly #faults = new Map<FaultOp, Fault & { fired: number }>();
  /** how many faults fired, per operation */
  readonly fired: Partial<Record<FaultOp, number>> = {};

  constructor(readonly inner: StorageDriver) {
    this.name = `faulty(${inner.name})`;
  }

  inject(fault: Fault): this {
    this.#faults.set(fault.op, { ...fault, fired: 0 });
    return this;
  }

  clear(op?: FaultOp): this {
    if (op) this.#faults.delete(op);
    else this.#faults.clear();
    return this;
  }

  /** The armed fault for `op` (one that has not used up its `times`), if any. */
  #armed(op: FaultOp): (Fault & { fired: number }) | undefined {
    const f = this.#faults.get(op);
    if (!f) return undefined;
    if (f.times !== undefined && f.fired >= f.times) return undefined;
    return f;
  }

  /** Throws the injected error for `op` if one is armed. */
  #maybeFail(op: FaultOp, key: string): void {
    const f = this.#armed(op);
    if (f) throw this.#fire(f, key);
  }

  #fire(f: Fault & { fired: number }, key: string): StorageError {
    f.fired++;
    this.fired[f.op] = (this.fired[f.op] ?? 0) + 1;
    const errno = f.errno ?? 'EIO';
    return new StorageError(`${f.op} failed: ${MESSAGES[errno]}`, this.inner.name, key, { cause: errnoError(errno) });
  }

  async stat(key: string): Promise<StatInfo> {
    this.#maybeFail('stat', key);
    return this.inner.stat(key);
  }

  async getContent(key: string): Promise<Uint8Array> {
    this.#maybeFail('getContent', key);
    return this.inner.getContent(key);
  }

  async putContent(key: string, data: Uint8Array | string, options?: PutOptions): Promise<void> {
    this.#maybeFail('putContent', key);
    return this.inner.putContent(key, data, options);
  }

  async read(key: string, range?: ByteRange): Promise<ReadableStream<Uint8Array>> {
    const f = this.#armed('read');
    if (f && !f.midStream) throw this.#fire(f, key);
    const stream = await this.inner.read(key, range);
    if (!f) return stream;
    // mid-stream: deliver `afterBytes`, then error the stream
    const limit = f.afterBytes ?? 0;
    let delivered = 0;
    const reader = stream.getReader();
    return new ReadableStream<Uint8Array>({
      pull: async (ctrl) => {
        if (delivered >= limit) {
          await reader.cancel().catch(() => {});
          ctrl.error(this.#fire(f, key));
          return;
        }
        const { done, value } = await reader.read();
        if (done) {
          ctrl.close();
          return;
        }
        const part = value.subarray(0, Math.max(0, limit - delivered));
        delivered += part.byteLength;
        if (part.byteLength > 0) ctrl.enqueue(part);
      },
      cancel: () => reader.cancel(),
    });
  }

  async blob(key: string): Promise<Blob> {
    this.#maybeFail('blob', key);
    return this.inner.blob(key);
  }

  async writer(key: string): Promise<FileWriter> {
    this.#maybeFail('writer', key);
    const inner = await this.inner.writer(key);
    return new FaultyWriter(inner, (op) => this.#armed(op), (f) => this.#fire(f, key));
  }

  get canContinue(): boolean {
    return this.inner.canContinue;
  }

  get volatileEpoch(): string | null {
    return this.inner.volatileEpoch;
  }

  async writerAt(key: string, offset: number): Promise<FileWriter> {
    this.#maybeFail('writerAt', key);
    return this.inner.writerAt(key, offset);
  }

  async move(from: string, to: string): Promise<void> {
    this.#maybeFail('move', from);
    return this.inner.move(from, to);
  }

  async concat(sources: string[], target: string): Promise<boolean> {
    this.#maybeFail('concat', target);
    return this.inner.concat(sources, target);
  }

  async delete(key: string): Promise<void> {
    this.#maybeFail('delete', key);
    return this.inner.delete(key);
  }

  async list(prefix: string): Promise<string[]> {
    this.#maybeFail('list', prefix);
    return this.inner.list(prefix);
  }


  async redirectUrl(key: string): Promise<string | null> {
    this.#maybeFail('redirectUrl', key);
    return this.inner.redirectUrl(key);
  }

  async purgeStaleUploads(maxAgeMs: number): Promise<number> {
    this.#maybeFail('purgeStaleUploads', '');
    return this.inner.purgeStaleUploads(maxAgeMs);
  }
}

class FaultyWriter implements FileWriter {
  #written = 0;

  constructor(
    readonly inner: FileWriter,
    readonly armed: (op: FaultOp) => (Fault & { fired: number }) | undefined,
    readonly fire: (f: Fault & { fired: number }) => StorageError,
  ) {}

  get size(): number {
    return this.inner.size;
  }

  async write(chunk: Uint8Array): Promise<void> {
    const f = this.armed('write');
    if (f) {
      const room = Math.max(0, (f.afterBytes ?? 0) - this.#written);
      if (chunk.byteLength > room) {
        if (room > 0) {
          await this.inner.write(chunk.subarray(0, room));
          this.#written += room;
        }
        throw this.fire(f);
      }
    }
    await this.inner.write(chunk);
    this.#written += chunk.byteLength;
  }

  async commit(): Promise<void> {
    const f = this.armed('commit');
    if (f) {
      await this.inner.cancel();
      throw this.fire(f);
    }
    return this.inner.commit();
  }

  cancel(): Promise<void> {
    return this.inner.cancel();
  }
}
