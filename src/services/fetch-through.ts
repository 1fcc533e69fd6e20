/**
 * The pull-through mirror's one copy loop, shared by V1 layers and V2 blobs: an upstream body is
 * streamed to the client while it is written to storage and hashed, and it is committed only when
 * the whole of it arrived and verifies. So:
 * - nothing partial or unverified is ever visible under its key (the writer is cancelled);
 * - a client that disconnects does not stop the copy: the body is still read to its end and
 *   stored (the next pull is local), and a client that reads slowly holds the upstream back
 *   (backpressure) rather than filling memory;
 * - a copy that fails (upstream breaks off or stalls, digest mismatch, storage failure) errors the
 *   client's stream, so the client sees a cut transfer, never a complete-looking wrong one: the
 *   last chunk is held back until the whole was verified and committed (otherwise a server that
 *   declared the length would have sent every byte of a blob that fails its digest).
 */
import { RegistryError } from '../errors.ts';
import { StorageError, type FileWriter, type StorageDriver } from '../storage/driver.ts';

export interface FetchThrough {
  /** the bytes for the client, as they arrive */
  client: ReadableStream<Uint8Array>;
  /**
   * Settles when the copy is over: resolves with the size once committed, rejects (with a
   * RegistryError) when it was not stored.
   */
  stored: Promise<number>;
}

export interface FetchThroughOptions {
  /** fed every byte, in order */
  hash: (chunk: Uint8Array) => void;
  /**
   * Called with the size once every byte arrived, before the commit: throw (a RegistryError) to
   * refuse the copy, e.g. a digest or checksum mismatch.
   */
  verify: (size: number) => void | Promise<void>;
  /** bytes the upstream may send at most (more is a bad reply) */
  limit: number;
  /**
   * ms the copy waits for a client that reads nothing before it lets that client go (its stream
   * errors) and stores on alone; default 30 s.
   */
  clientStallMs?: number;
}

/** Streams `upstream` to a client and into `writer` at once; see the file comment. */
export function fetchThrough(upstream: ReadableStream<Uint8Array>, writer: FileWriter, options: FetchThroughOptions): FetchThrough {
  let client: ReadableStreamDefaultController<Uint8Array> | null = null;
  let attached = true;
  // resolved whenever the client wants more (or left), so the copy waits for slow clients
  let wanted: (() => void) | null = null;
  const clientStream = new ReadableStream<Uint8Array>(
    {
      start(c) {
        client = c;
      },
      pull() {
        wanted?.();
        wanted = null;
      },
      cancel() {
        attached = false;
        wanted?.();
        wanted = null;
      },
    },
    { highWaterMark: 4 },
  );

  const stallMs = options.clientStallMs ?? 30_000;
  const waitForClient = async () => {
    const deadline = Date.now() + stallMs;
    while (attached && (client!.desiredSize ?? 1) <= 0) {
      const left = deadline - Date.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const gaveUp = await new Promise<boolean>((r) => {
        wanted = () => r(false);
        timer = setTimeout(() => r(true), Math.max(0, left));
      });
      clearTimeout(timer);
      if (gaveUp && attached) {
        attached = false;
        client!.error(new RegistryError('UPSTREAM_TIMEOUT', 'the client read nothing for too long'));
      }
    }
  };

  const copy = async (): Promise<number> => {
    const reader = upstream.getReader();
    let size = 0;
    // the chunk the client gets once the next one came (the last one: once verified and committed)
    let held: Uint8Array | null = null;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > options.limit) throw new RegistryError('UPSTREAM_BAD_RESPONSE', `more than the ${options.limit} bytes expected`);
        options.hash(value);
        // neither side changes the bytes, so both may hold the one chunk
        if (attached && held) client!.enqueue(held);
        held = value;
        await writer.write(value);
        if (attached && (client!.desiredSize ?? 1) <= 0) await waitForClient();
      }
      await options.verify(size);
      await writer.commit();
      if (attached) {
        if (held) client!.enqueue(held);
        client!.close();
      }
      return size;
    } catch (e) {
      await reader.cancel().catch(() => {});
      await writer.cancel().catch(() => {});
      const error = e instanceof RegistryError ? e : new RegistryError('STORAGE_FAILURE', (e as Error).message);
      if (attached) client!.error(error);
      throw error;
    }
  };
  const stored = copy();
  // a failed copy is reported through `stored`; no caller must be forced to await it
  stored.catch(() => {});
  return { client: clientStream, stored };
}

/**
 * `fetchThrough` into a new writer for `key`. When storage cannot open one, the upstream body is
 * cancelled (its connection let go) and the failure is STORAGE_FAILURE (503).
 */
export async function fetchThroughTo(storage: StorageDriver, key: string, upstream: ReadableStream<Uint8Array>, options: FetchThroughOptions): Promise<FetchThrough> {
  const writer = await storage.writer(key).catch(async (e: unknown) => {
    await upstream.cancel().catch(() => {});
    throw e instanceof StorageError ? new RegistryError('STORAGE_FAILURE') : e;
  });
  return fetchThrough(upstream, writer, options);
}

/**
 * One upstream fetch per key at a time in this process: concurrent callers share the first
 * caller's promise until it settles.
 */
export class SingleFlight<T> {
  readonly #inflight = new Map<string, Promise<T>>();

  run(key: string, start: () => Promise<T>): Promise<T> {
    const running = this.#inflight.get(key);
    if (running) return running;
    const p = start().finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, p);
    return p;
  }

  /** The promise of a fetch under way for `key`, if any. */
  pending(key: string): Promise<T> | undefined {
    return this.#inflight.get(key);
  }
}
