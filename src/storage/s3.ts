/**
 * S3 driver on Bun's built-in client (`Bun.S3Client`), for AWS S3 and compatible servers (Ceph
 * RGW, fauxqs in tests). Keys map to objects `<prefix>/<key>` in one bucket.
 *
 * How the contract in ./driver.ts is met, and what it costs:
 * - **Writers** hand Bun a `ReadableStream` fed by `write()`: `client.write(key, stream)` uploads
 *   it as one PUT when it ends under one part, and as a multipart upload (5 MiB parts by default)
 *   otherwise. Nothing is visible before Complete, which `commit()` triggers by closing the stream;
 *   `cancel()` errors the stream, on which Bun aborts the multipart upload (or sends nothing at
 *   all under one part). Bun's own `file.writer()` cannot do that: its `end(err)` still completes
 *   the upload. Bun settles its upload promise as soon as the stream errors and sends the
 *   AbortMultipartUpload right after, so `cancel()` may return a few milliseconds before the
 *   server has dropped the parts; an upload left by a crashed process is never aborted, which a
 *   bucket lifecycle rule (AbortIncompleteMultipartUpload) takes care of.
 *   Bun reads the stream only as it has room for parts (`queueSize` parts in flight),
 *   so `write()` resolves once the chunk is queued and waits when the queue is full: memory per
 *   writer stays near `(queueSize + 1) × partSize`.
 * - **Objects versus prefixes.** S3 lets `a` and `a/b` coexist; the contract does not. Before a
 *   `putContent` or `commit` the driver checks that no parent of the key is an object (one HEAD
 *   per parent) and that nothing lies under the key (one LIST), all in parallel. That check and
 *   the write are not one atomic step: two writers racing for `a` and `a/b` could both land.
 * - **Reads.** `read()` opens the GET and waits for its first chunk, so a missing key fails the
 *   call itself (PathNotFoundError) rather than the stream. `blob()` cannot return Bun's `S3File`:
 *   `new Response(s3File)` becomes a 302 to a presigned URL and `new Response(s3File, init)`
 *   throws. It returns an {@link S3ObjectBlob} instead, which streams through this process.
 *   Bun 1.4.5 sends such a stream body chunked and drops a Content-Length the handler set
 *   (oven-sh/bun#10507); `storage_redirect` lets S3 itself answer, with a length.
 * - **Missing bucket.** A HEAD on a missing bucket looks like a missing key (no body, 404), so
 *   every "not found" from a HEAD is confirmed by a LIST, which names the bucket error.
 * - **move** is a streamed copy plus a delete: Bun's client has no CopyObject call.
 * - **delete** lists and removes object by object (Bun has no multi-object delete).
 *
 * Failures: S3's `NoSuchKey` becomes PathNotFoundError, everything else (wrong credentials,
 * missing bucket, refused connection) StorageError.
 */
import type { S3Client, S3File, S3ListObjectsResponse } from 'bun';
import { PathNotFoundError, StorageError, assertValidKey, isValidKey } from './driver.ts';
import type { ByteRange, FileWriter, StatInfo, StorageDriver } from './driver.ts';

const DRIVER = 's3';
const MiB = 1024 * 1024;
/** S3's smallest part (all but the last); Bun refuses a smaller `partSize`. */
export const MIN_PART_SIZE = 5 * MiB;
/** S3's largest presigned-URL lifetime: 7 days. */
const MAX_PRESIGN_EXPIRY = 7 * 24 * 3600;
/** Objects deleted in parallel by `delete(prefix)`. */
const DELETE_CONCURRENCY = 8;

export interface S3DriverOptions {
  /** Service URL such as `http://127.0.0.1:7480`; empty or absent for AWS S3 in `region`. */
  endpoint?: string;
  bucket: string;
  /** Signing region, always explicit: Bun signs custom endpoints with `auto` otherwise. */
  region: string;
  /** Credentials; when absent Bun falls back to its own S3_* / AWS_* environment lookup. */
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /**
   * Path-style URLs (`<endpoint>/<bucket>/<key>`). Default: true with an `endpoint`, false
   * (virtual-hosted, `<bucket>.s3.<region>.amazonaws.com`) without. With an `endpoint` and
   * `pathStyle: false`, the endpoint must already name the bucket (Bun then ignores `bucket`).
   */
  pathStyle?: boolean;
  /** Folder inside the bucket that holds every key (`''`: the bucket root). */
  prefix?: string;
  /** Lifetime of presigned GET URLs in seconds (default 1200, at most 7 days). */
  presignExpiry?: number;
  /** Multipart part size in bytes (default and minimum 5 MiB). */
  partSize?: number;
  /** Parts one writer uploads in parallel (default 2). */
  queueSize?: number;
  /** Keys per ListObjectsV2 page (default 1000, S3's maximum); smaller values are for tests. */
  listPageSize?: number;
}

function codeOf(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

function describe(err: unknown): string {
  const code = codeOf(err);
  const message = err instanceof Error ? err.message : String(err);
  // Bun passes some servers' whole XML error document as the message: the code says it all.
  if (code && message.includes('<Error>')) return code;
  return code ? `${code}: ${message}` : message;
}

function isNoSuchKey(err: unknown): boolean {
  return codeOf(err) === 'NoSuchKey';
}

/** NoSuchKey becomes PathNotFoundError; typed errors pass through; the rest is wrapped. */
function toStorageError(err: unknown, key: string, op: string): StorageError {
  if (err instanceof StorageError) return err;
  if (isNoSuchKey(err)) return new PathNotFoundError(DRIVER, key);
  return new StorageError(`${op} failed: ${describe(err)}`, DRIVER, key, { cause: err });
}

function assertRange(range: ByteRange, key: string): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new StorageError(`invalid byte range ${start}-${end}`, DRIVER, key);
  }
}

/** `'/a/b/'` → `'a/b/'`, `''` → `''`; rejects empty segments. */
function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return '';
  if (trimmed.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new StorageError(`invalid s3 key prefix ${JSON.stringify(prefix)}`, DRIVER);
  }
  return `${trimmed}/`;
}

const emptyStream = (): ReadableStream<Uint8Array> => new Blob([]).stream();

/**
 * A pull source over `file` (an S3File or a slice of one) that opens the GET on the first pull
 * and turns failures into storage errors. `size === 0` sends no request at all.
 */
function objectSource(file: S3File, size: number, key: string) {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return {
    async pull(controller: ReadableStreamDefaultController<Uint8Array>) {
      if (size === 0) {
        controller.close();
        return;
      }
      try {
        reader ??= file.stream().getReader() as ReadableStreamDefaultReader<Uint8Array>;
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (err) {
        controller.error(toStorageError(err, key, 'read'));
      }
    },
    async cancel(reason: unknown) {
      await reader?.cancel(reason);
    },
  };
}

/**
 * A stored object, or a byte range of one, that is at once a `Blob` (size, slice, bytes, text,
 * stream) and a `ReadableStream` of its bytes. Bun sends a ReadableStream body through the server
 * as it reads it, so `new Response(blob, init)` streams the object: it never buffers it whole, and
 * never turns into the redirect that Bun makes of an `S3File` body. Each `stream()`, `bytes()`,
 * `text()` or `slice()` issues its own GET; the object itself, used as a body, can be read once
 * (a Response body is read once anyway). Nothing is fetched until something reads.
 */
export class S3ObjectBlob extends ReadableStream<Uint8Array> implements Blob {
  readonly size: number;
  readonly type = '';
  readonly #file: S3File;
  readonly #offset: number;
  readonly #key: string;

  /** `file` is the whole object; the blob covers bytes [offset, offset + size). */
  constructor(file: S3File, offset: number, size: number, key: string) {
    super(objectSource(S3ObjectBlob.#range(file, offset, size), size, key), { highWaterMark: 0 });
    this.size = size;
    this.#file = file;
    this.#offset = offset;
    this.#key = key;
  }

  static #range(file: S3File, offset: number, size: number): S3File {
    return size === 0 ? file : file.slice(offset, offset + size);
  }

  /** Blob semantics: negative positions count from the end, results are clamped. */
  slice(start?: number, end?: number, _contentType?: string): S3ObjectBlob {
    const at = (pos: number | undefined, fallback: number): number => {
      if (pos === undefined) return fallback;
      const p = Math.trunc(pos);
      return p < 0 ? Math.max(this.size + p, 0) : Math.min(p, this.size);
    };
    const a = at(start, 0);
    const b = at(end, this.size);
    return new S3ObjectBlob(this.#file, this.#offset + a, Math.max(b - a, 0), this.#key);
  }

  /** A fresh stream of the bytes (its own GET). */
  stream(): ReadableStream<Uint8Array<ArrayBuffer>> {
    const file = S3ObjectBlob.#range(this.#file, this.#offset, this.size);
    const source = objectSource(file, this.size, this.#key);
    return new ReadableStream(source, { highWaterMark: 0 }) as ReadableStream<Uint8Array<ArrayBuffer>>;
  }

  override async bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return new Uint8Array(await this.arrayBuffer());
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    return new Response(this.stream()).arrayBuffer();
  }

  override text(): Promise<string> {
    return new Response(this.stream()).text();
  }

  override json(): Promise<any> {
    return new Response(this.stream()).json();
  }

  formData(): Promise<FormData> {
    return new Response(this.stream()).formData() as unknown as Promise<FormData>;
  }

  /** Images are decoded from local bytes; a layer in S3 is never one. */
  image(): Bun.Image {
    throw new StorageError('image() is not available on an S3 object', DRIVER, this.#key);
  }
}

export class S3Driver implements StorageDriver {
  readonly name = DRIVER;
  readonly #client: S3Client;
  readonly #prefix: string;
  readonly #presignExpiry: number;
  readonly #partSize: number;
  readonly #queueSize: number;
  readonly #pageSize: number;

  constructor(options: S3DriverOptions) {
    const endpoint = options.endpoint?.trim() ?? '';
    if (!options.bucket) throw new StorageError('s3 driver needs a bucket', DRIVER);
    if (!options.region) throw new StorageError('s3 driver needs an explicit region', DRIVER);
    this.#presignExpiry = options.presignExpiry ?? 1200;
    this.#partSize = options.partSize ?? MIN_PART_SIZE;
    this.#queueSize = options.queueSize ?? 2;
    this.#pageSize = options.listPageSize ?? 1000;
    const intIn = (n: number, lo: number, hi: number) => Number.isSafeInteger(n) && n >= lo && n <= hi;
    if (!intIn(this.#presignExpiry, 1, MAX_PRESIGN_EXPIRY)) {
      throw new StorageError(`s3 presign expiry must be 1..${MAX_PRESIGN_EXPIRY} seconds`, DRIVER);
    }
    if (!intIn(this.#partSize, MIN_PART_SIZE, 5120 * MiB)) {
      throw new StorageError('s3 part size must be 5 MiB..5 GiB', DRIVER);
    }
    if (!intIn(this.#queueSize, 1, 255)) throw new StorageError('s3 queue size must be 1..255', DRIVER);
    if (!intIn(this.#pageSize, 1, 1000)) throw new StorageError('s3 list page size must be 1..1000', DRIVER);
    this.#prefix = normalizePrefix(options.prefix ?? '');
    const pathStyle = options.pathStyle ?? endpoint !== '';
    this.#client = new Bun.S3Client({
      bucket: options.bucket,
      region: options.region,
      virtualHostedStyle: !pathStyle,
      ...(endpoint !== '' && { endpoint }),
      ...(options.accessKeyId && { accessKeyId: options.accessKeyId }),
      ...(options.secretAccessKey && { secretAccessKey: options.secretAccessKey }),
      ...(options.sessionToken && { sessionToken: options.sessionToken }),
    });
  }

  async stat(key: string): Promise<StatInfo> {
    assertValidKey(DRIVER, key);
    const objectKey = this.#objectKey(key);
    try {
      const st = await this.#client.stat(objectKey);
      return { size: st.size, modTime: st.lastModified, isDir: false };
    } catch (err) {
      if (!isNoSuchKey(err)) throw toStorageError(err, key, 'stat');
    }
    const under = await this.#listPage(key, `${objectKey}/`, 1);
    const first = under.contents?.[0];
    if (!first) throw new PathNotFoundError(DRIVER, key);
    // The first object under the prefix dates the "directory": one request, not a full listing.
    const modTime = first.lastModified ? new Date(first.lastModified) : new Date();
    return { size: 0, modTime, isDir: true };
  }

  async getContent(key: string): Promise<Uint8Array> {
    assertValidKey(DRIVER, key);
    try {
      return await this.#client.file(this.#objectKey(key)).bytes();
    } catch (err) {
      throw toStorageError(err, key, 'getContent');
    }
  }

  async putContent(key: string, data: Uint8Array | string): Promise<void> {
    assertValidKey(DRIVER, key);
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data.slice();
    await this.#assertPlaceable(key);
    try {
      await this.#client.write(this.#objectKey(key), bytes);
    } catch (err) {
      throw toStorageError(err, key, 'putContent');
    }
  }

  async read(key: string, range?: ByteRange): Promise<ReadableStream<Uint8Array>> {
    assertValidKey(DRIVER, key);
    if (range) assertRange(range, key);
    let file = this.#client.file(this.#objectKey(key));
    if (range) file = file.slice(range.start, range.end + 1);
    const reader = file.stream().getReader();
    let first: Awaited<ReturnType<typeof reader.read>> | undefined;
    try {
      first = await reader.read();
    } catch (err) {
      // A range that starts at or past the end selects nothing (the contract's clamp).
      if (range && codeOf(err) === 'InvalidRange') return emptyStream();
      throw toStorageError(err, key, 'read');
    }
    return new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          try {
            const next = first ?? (await reader.read());
            first = undefined;
            if (next.done) controller.close();
            else controller.enqueue(next.value);
          } catch (err) {
            controller.error(toStorageError(err, key, 'read'));
          }
        },
        async cancel(reason) {
          await reader.cancel(reason);
        },
      },
      { highWaterMark: 0 },
    );
  }

  /** An {@link S3ObjectBlob}: streams through this process (see the class comment). */
  async blob(key: string): Promise<Blob> {
    assertValidKey(DRIVER, key);
    const size = await this.#objectSize(key);
    return new S3ObjectBlob(this.#client.file(this.#objectKey(key)), 0, size, key);
  }

  async writer(key: string): Promise<FileWriter> {
    assertValidKey(DRIVER, key);
    const file = this.#client.file(this.#objectKey(key));
    return new S3FileWriter(key, file, {
      partSize: this.#partSize,
      queueSize: this.#queueSize,
      beforeCommit: () => this.#assertPlaceable(key),
    });
  }

  async delete(key: string): Promise<void> {
    assertValidKey(DRIVER, key);
    const objectKey = this.#objectKey(key);
    let found = false;
    try {
      found = await this.#client.exists(objectKey);
    } catch (err) {
      throw toStorageError(err, key, 'delete');
    }
    // Page by page: each page's objects go before the next page is asked for. Continuation
    // tokens name a position in key order, so deleting what was listed does not disturb paging.
    let token: string | undefined;
    do {
      const page = await this.#listPage(key, `${objectKey}/`, this.#pageSize, undefined, token);
      const keys = (page.contents ?? []).map((o) => o.key);
      if (keys.length > 0) found = true;
      await this.#deleteAll(keys, key);
      token = this.#nextToken(page, key);
    } while (token);
    if (!found) throw new PathNotFoundError(DRIVER, key);
    await this.#deleteAll([objectKey], key);
  }

  async list(prefix: string): Promise<string[]> {
    if (prefix !== '') assertValidKey(DRIVER, prefix);
    const base = prefix === '' ? this.#prefix : `${this.#objectKey(prefix)}/`;
    const children = new Set<string>();
    let token: string | undefined;
    do {
      const page = await this.#listPage(prefix, base, this.#pageSize, '/', token);
      for (const o of page.contents ?? []) children.add(o.key.slice(this.#prefix.length));
      for (const p of page.commonPrefixes ?? []) children.add(p.prefix.slice(this.#prefix.length, -1));
      token = this.#nextToken(page, prefix);
    } while (token);
    // Only names a key can address (directory markers like `a/` or foreign objects are hidden).
    const keys = [...children].filter((k) => isValidKey(k)).sort();
    if (prefix !== '' && keys.length === 0) throw new PathNotFoundError(DRIVER, prefix);
    return keys;
  }

  /** A streamed copy through this process, then a delete of the source (no CopyObject in Bun). */
  async move(from: string, to: string): Promise<void> {
    assertValidKey(DRIVER, from);
    assertValidKey(DRIVER, to);
    await this.#objectSize(from);
    if (from === to) return;
    const w = await this.writer(to);
    try {
      const reader = (await this.read(from)).getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        await w.write(value);
      }
      await w.commit();
    } catch (err) {
      await w.cancel();
      throw toStorageError(err, from, 'move');
    }
    await this.#deleteAll([this.#objectKey(from)], from);
  }

  /** A presigned GET URL, valid for `presignExpiry` seconds; made locally, without a request. */
  async redirectUrl(key: string): Promise<string | null> {
    assertValidKey(DRIVER, key);
    try {
      return this.#client.presign(this.#objectKey(key), { method: 'GET', expiresIn: this.#presignExpiry });
    } catch (err) {
      // e.g. no credentials at all: Bun refuses to sign
      throw toStorageError(err, key, 'redirectUrl');
    }
  }

  #objectKey(key: string): string {
    return this.#prefix + key;
  }

  /** Size of an object; PathNotFoundError when absent (a prefix is absent too). */
  async #objectSize(key: string): Promise<number> {
    try {
      return (await this.#client.stat(this.#objectKey(key))).size;
    } catch (err) {
      if (!isNoSuchKey(err)) throw toStorageError(err, key, 'stat');
    }
    // A HEAD cannot tell a missing bucket from a missing key: a LIST can.
    await this.#listPage(key, `${this.#objectKey(key)}/`, 1);
    throw new PathNotFoundError(DRIVER, key);
  }

  async #listPage(
    key: string,
    prefix: string,
    maxKeys: number,
    delimiter?: string,
    continuationToken?: string,
  ): Promise<S3ListObjectsResponse> {
    try {
      return await this.#client.list({
        prefix,
        maxKeys,
        ...(delimiter !== undefined && { delimiter }),
        ...(continuationToken !== undefined && { continuationToken }),
      });
    } catch (err) {
      // A listing never means "not found": NoSuchKey here would be a server oddity.
      throw new StorageError(`list failed: ${describe(err)}`, DRIVER, key, { cause: err });
    }
  }

  #nextToken(page: S3ListObjectsResponse, key: string): string | undefined {
    if (!page.isTruncated) return undefined;
    if (!page.nextContinuationToken) {
      throw new StorageError('list failed: truncated page without a continuation token', DRIVER, key);
    }
    return page.nextContinuationToken;
  }

  async #deleteAll(objectKeys: string[], key: string): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < objectKeys.length) {
        const objectKey = objectKeys[next++]!;
        try {
          await this.#client.delete(objectKey);
        } catch (err) {
          throw new StorageError(`delete failed: ${describe(err)}`, DRIVER, key, { cause: err });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, objectKeys.length) }, worker));
  }

  /**
   * Refuses a key whose parent is an object, or that is itself a prefix of objects (a key is
   * never both, as on a filesystem). One HEAD per parent and one LIST, in parallel.
   */
  async #assertPlaceable(key: string): Promise<void> {
    const parents: string[] = [];
    for (let i = key.indexOf('/'); i !== -1; i = key.indexOf('/', i + 1)) parents.push(key.slice(0, i));
    const [parentObjects, under] = await Promise.all([
      Promise.all(
        parents.map((p) =>
          this.#client.exists(this.#objectKey(p)).catch((err: unknown) => {
            throw toStorageError(err, key, 'write');
          }),
        ),
      ),
      this.#listPage(key, `${this.#objectKey(key)}/`, 1),
    ]);
    const parent = parents.find((_, i) => parentObjects[i]);
    if (parent !== undefined) throw new StorageError(`parent ${parent} of ${key} is an object`, DRIVER, key);
    if ((under.contents?.length ?? 0) > 0) throw new StorageError(`${key} is a prefix of other objects`, DRIVER, key);
  }
}

interface WriterOptions {
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
class S3FileWriter implements FileWriter {
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
      throw toStorageError(err, this.#key, 'commit');
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
    return toStorageError(this.#failure, this.#key, op);
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }
}
