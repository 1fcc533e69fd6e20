/**
 * In-memory driver for tests and throwaway instances. Objects live in a Map keyed by storage key;
 * "directories" exist only as prefixes of stored keys, so a prefix vanishes with its last object.
 * A key cannot be both an object and a prefix (as on a filesystem). An upload lives only in its
 * writer until commit, so an abandoned one leaves nothing for `purgeStaleUploads` to remove.
 */
import { BaseDriver } from './base.ts';
import type { DriverHooks } from './base.ts';
import { PathNotFoundError, StorageError } from './driver.ts';
import type { ByteRange, FileWriter, StatInfo } from './driver.ts';

const DRIVER = 'memory';

interface Entry {
  data: Uint8Array<ArrayBuffer>;
  modTime: Date;
}

function copyOf(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(bytes.byteLength);
  out.set(bytes);
  return out;
}

export class MemoryDriver extends BaseDriver {
  readonly #objects = new Map<string, Entry>();

  constructor(hooks?: DriverHooks) {
    super(DRIVER, hooks);
  }

  /** Every failure here is already a StorageError. */
  protected isNotFound(): boolean {
    return false;
  }

  protected async doStat(key: string): Promise<StatInfo> {
    const entry = this.#objects.get(key);
    if (entry) return { size: entry.data.byteLength, modTime: entry.modTime, isDir: false };
    let latest: Date | undefined;
    for (const [k, e] of this.#objects) {
      if (k.startsWith(`${key}/`) && (!latest || e.modTime > latest)) latest = e.modTime;
    }
    if (!latest) throw new PathNotFoundError(DRIVER, key);
    return { size: 0, modTime: latest, isDir: true };
  }

  protected async doGetContent(key: string): Promise<Uint8Array> {
    return copyOf(this.#get(key).data);
  }

  protected async doPutContent(key: string, data: Uint8Array): Promise<void> {
    this.#store(key, copyOf(data));
  }

  protected async doRead(key: string, range?: ByteRange): Promise<ReadableStream<Uint8Array>> {
    const { data } = this.#get(key);
    const start = range ? range.start : 0;
    const end = range ? Math.min(range.end, data.byteLength - 1) : data.byteLength - 1;
    if (start > end) return new Blob([]).stream();
    return new Blob([data.slice(start, end + 1)]).stream();
  }

  protected async doBlob(key: string): Promise<Blob> {
    return new Blob([this.#get(key).data]);
  }

  protected async doWriter(key: string): Promise<FileWriter> {
    return new MemoryFileWriter(key, (data) => this.#store(key, data));
  }

  protected async doDelete(key: string): Promise<void> {
    let found = this.#objects.delete(key);
    for (const k of [...this.#objects.keys()]) {
      if (k.startsWith(`${key}/`)) found = this.#objects.delete(k) || found;
    }
    if (!found) throw new PathNotFoundError(DRIVER, key);
  }

  protected async doList(prefix: string): Promise<string[]> {
    const base = prefix === '' ? '' : `${prefix}/`;
    const children = new Set<string>();
    for (const k of this.#objects.keys()) {
      if (!k.startsWith(base)) continue;
      const slash = k.indexOf('/', base.length);
      children.add(slash === -1 ? k : k.slice(0, slash));
    }
    if (prefix !== '' && children.size === 0) throw new PathNotFoundError(DRIVER, prefix);
    return [...children].sort();
  }

  protected async doRedirectUrl(): Promise<string | null> {
    return null;
  }

  override readonly canContinue = true;

  /** Takes the entry out of the map (the claim), and writes it back with the new bytes on commit. */
  protected override async doWriterAt(key: string, offset: number): Promise<FileWriter> {
    const entry = this.#get(key);
    if (entry.data.byteLength !== offset) throw new PathNotFoundError(DRIVER, key);
    this.#objects.delete(key);
    const kept = entry.data.slice(0, offset);
    const restore = () => this.#store(key, kept);
    const writer = new MemoryFileWriter(key, (data) => {
      const out = new Uint8Array(kept.byteLength + data.byteLength);
      out.set(kept);
      out.set(data, kept.byteLength);
      this.#store(key, out);
    }, restore, offset);
    return writer;
  }

  protected override async doMove(from: string, to: string): Promise<void> {
    const entry = this.#get(from);
    this.#objects.delete(from);
    try {
      this.#store(to, entry.data);
    } catch (err) {
      this.#objects.set(from, entry);
      throw err;
    }
  }

  protected async doPurgeStaleUploads(): Promise<number> {
    return 0;
  }

  /**
   * Stores `data` under a key, refusing a key that is a prefix of other
   * objects or lies under another object.
   */
  #store(key: string, data: Uint8Array<ArrayBuffer>): void {
    for (let i = key.indexOf('/'); i !== -1; i = key.indexOf('/', i + 1)) {
      if (this.#objects.has(key.slice(0, i))) {
        throw new StorageError(`parent of ${key} is an object`, DRIVER, key);
      }
    }
    for (const k of this.#objects.keys()) {
      if (k.startsWith(`${key}/`)) throw new StorageError(`${key} is a prefix`, DRIVER, key);
    }
    this.#objects.set(key, { data, modTime: new Date() });
  }

  #get(key: string): Entry {
    const entry = this.#objects.get(key);
    if (!entry) throw new PathNotFoundError(DRIVER, key);
    return entry;
  }
}

/** Buffers chunks privately; nothing reaches the driver's map before `commit()`. */
class MemoryFileWriter implements FileWriter {
  readonly #key: string;
  readonly #publish: (data: Uint8Array<ArrayBuffer>) => void;
  #chunks: Uint8Array[] = [];
  #size = 0;
  #state: 'open' | 'committed' | 'cancelled' = 'open';
  /** a continued object (writerAt): puts it back as it was, on cancel or a failed commit */
  readonly #restore: (() => void) | null;
  readonly #start: number;

  constructor(key: string, publish: (data: Uint8Array<ArrayBuffer>) => void, restore: (() => void) | null = null, start = 0) {
    this.#key = key;
    this.#publish = publish;
    this.#restore = restore;
    this.#start = start;
  }

  get size(): number {
    return this.#start + this.#size;
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.#state !== 'open') {
      throw new StorageError(`writer is ${this.#state}`, DRIVER, this.#key);
    }
    this.#chunks.push(copyOf(chunk));
    this.#size += chunk.byteLength;
  }

  async commit(): Promise<void> {
    if (this.#state === 'committed') return;
    if (this.#state === 'cancelled') {
      throw new StorageError('commit after cancel', DRIVER, this.#key);
    }
    const data = new Uint8Array(this.#size);
    let offset = 0;
    for (const c of this.#chunks) {
      data.set(c, offset);
      offset += c.byteLength;
    }
    this.#chunks = [];
    try {
      this.#publish(data);
      this.#state = 'committed';
    } catch (err) {
      this.#state = 'cancelled';
      this.#restore?.();
      throw err;
    }
  }

  async cancel(): Promise<void> {
    if (this.#state !== 'open') return;
    this.#state = 'cancelled';
    this.#chunks = [];
    this.#restore?.();
  }
}
