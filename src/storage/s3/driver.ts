/**
 * S3 driver on Bun's built-in client (`Bun.S3Client`), for AWS S3 and compatible servers (Ceph
 * RGW, fauxqs in tests). Keys map to objects `<prefix>/<key>` in one bucket.
 *
 * How the contract in ../driver.ts is met, and what it costs:
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
 * - **move and concat** copy on the server (./copy.ts): `move` by CopyObject, `concat` by a
 *   multipart upload of UploadPartCopy parts, so no byte passes through this process; `move`
 *   streams, and `concat` answers false, where S3's copy rules or missing credentials forbid it.
 * - **delete** lists and removes object by object (Bun has no multi-object delete).
 *
 * Failures: S3's `NoSuchKey` becomes PathNotFoundError, everything else (wrong credentials,
 * missing bucket, refused connection) StorageError.
 */
import type { S3Client, S3ListObjectsResponse } from 'bun';
import { BaseDriver, errorCode, storageError } from '../base.ts';
import type { DriverHooks } from '../base.ts';
import { PathNotFoundError, StorageError, isValidKey } from '../driver.ts';
import type { ByteRange, FileWriter, StatInfo } from '../driver.ts';
import { DRIVER, isNoSuchKey, s3Error } from './errors.ts';
import { S3ObjectBlob } from './object-blob.ts';
import { s3Settings } from './options.ts';
import type { S3DriverOptions } from './options.ts';
import { MAX_COPY_SIZE, MAX_PARTS, MIN_PART_SIZE, type Composer, type Copier } from './copy.ts';
import { S3FileWriter } from './writer.ts';
import { eachLimited } from '../../each-limited.ts';

export { type S3DriverOptions } from './options.ts';

/** Objects deleted in parallel by `delete(prefix)`, and sources sized in parallel by `concat`. */
const DELETE_CONCURRENCY = 8;

export class S3Driver extends BaseDriver {
  readonly #client: S3Client;
  readonly #prefix: string;
  readonly #presignExpiry: number;
  readonly #partSize: number;
  readonly #queueSize: number;
  readonly #pageSize: number;
  readonly #copy: Copier | null;
  readonly #compose: Composer | null;

  constructor(options: S3DriverOptions, hooks?: DriverHooks) {
    super(DRIVER, hooks);
    const settings = s3Settings(options);
    this.#client = settings.client;
    this.#prefix = settings.prefix;
    this.#presignExpiry = settings.presignExpiry;
    this.#partSize = settings.partSize;
    this.#queueSize = settings.queueSize;
    this.#pageSize = settings.pageSize;
    this.#copy = settings.copy;
    this.#compose = settings.compose;
  }

  protected isNotFound(err: unknown): boolean {
    return isNoSuchKey(err);
  }

  protected async doStat(key: string): Promise<StatInfo> {
    const objectKey = this.#objectKey(key);
    try {
      const st = await this.#client.stat(objectKey);
      return { size: st.size, modTime: st.lastModified, isDir: false };
    } catch (err) {
      if (!isNoSuchKey(err)) throw err;
    }
    const under = await this.#listPage(key, `${objectKey}/`, 1);
    const first = under.contents?.[0];
    if (!first) throw new PathNotFoundError(DRIVER, key);
    // The first object under the prefix dates the "directory": one request, not a full listing.
    const modTime = first.lastModified ? new Date(first.lastModified) : new Date();
    return { size: 0, modTime, isDir: true };
  }

  protected doGetContent(key: string): Promise<Uint8Array> {
    return this.#client.file(this.#objectKey(key)).bytes();
  }

  protected async doPutContent(key: string, data: Uint8Array): Promise<void> {
    const bytes = data.slice(); // Bun may still read it after a caller reused its buffer
    await this.#assertPlaceable(key);
    await this.#client.write(this.#objectKey(key), bytes);
  }

  protected async doRead(key: string, range?: ByteRange): Promise<ReadableStream<Uint8Array>> {
    let file = this.#client.file(this.#objectKey(key));
    if (range) file = file.slice(range.start, range.end + 1);
    const reader = file.stream().getReader();
    let first: Awaited<ReturnType<typeof reader.read>> | undefined;
    try {
      first = await reader.read();
    } catch (err) {
      // A range that starts at or past the end selects nothing (the contract's clamp).
      if (range && errorCode(err) === 'InvalidRange') return new Blob([]).stream();
      throw err;
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
            controller.error(s3Error(err, key, 'read'));
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
  protected async doBlob(key: string): Promise<Blob> {
    const size = await this.#objectSize(key);
    return new S3ObjectBlob(this.#client.file(this.#objectKey(key)), 0, size, key);
  }

  protected async doWriter(key: string): Promise<FileWriter> {
    const file = this.#client.file(this.#objectKey(key));
    return new S3FileWriter(key, file, {
      partSize: this.#partSize,
      queueSize: this.#queueSize,
      beforeCommit: () => this.#assertPlaceable(key),
    });
  }

  /** A server-side CopyObject then a delete (nothing streams through us), where the object allows. */
  protected override async doMove(from: string, to: string): Promise<void> {
    const { size, isDir } = await this.doStat(from);
    if (isDir) throw new PathNotFoundError(DRIVER, from);
    if (!this.#copy || size > MAX_COPY_SIZE) return super.doMove(from, to);
    await this.#assertPlaceable(to);
    await this.#copy(this.#objectKey(from), this.#objectKey(to));
    await this.doDelete(from);
  }

  /**
   * A multipart upload of server-side part copies, one part per source (./copy.ts), where S3's
   * part rules allow: every part but the last at least 5 MiB, none over 5 GiB, at most 10 000.
   * Empty sources add nothing and are left out. One HEAD per source first, for the sizes.
   */
  protected override async doConcat(sources: string[], target: string): Promise<boolean> {
    if (!this.#compose || sources.length === 0 || sources.length > MAX_PARTS) return false;
    const sizes: number[] = new Array(sources.length);
    await eachLimited(sources, DELETE_CONCURRENCY, async (source, i) => {
      sizes[i] = await this.#objectSize(source);
    });
    const parts = sources.filter((_, i) => sizes[i]! > 0);
    const partSizes = sizes.filter((size) => size > 0);
    if (parts.length === 0) return false;
    const fits = (size: number, i: number) => size <= MAX_COPY_SIZE && (i === partSizes.length - 1 || size >= MIN_PART_SIZE);
    if (!partSizes.every(fits)) return false;
    await this.#assertPlaceable(target);
    await this.#compose(parts.map((k) => this.#objectKey(k)), this.#objectKey(target));
    return true;
  }

  protected async doDelete(key: string): Promise<void> {
    const objectKey = this.#objectKey(key);
    let found = await this.#client.exists(objectKey);
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

  protected async doList(prefix: string): Promise<string[]> {
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

  /** A presigned GET URL, valid for `presignExpiry` seconds; made locally, without a request. */
  protected async doRedirectUrl(key: string): Promise<string | null> {
    // throws when Bun refuses to sign (e.g. no credentials at all)
    return this.#client.presign(this.#objectKey(key), { method: 'GET', expiresIn: this.#presignExpiry });
  }

  /**
   * Always 0: an abandoned upload here is a multipart upload nobody completed, and Bun's client
   * cannot list those (no ListMultipartUploads). A writer that fails or is cancelled aborts its
   * own upload; what a crashed process left is for the bucket's lifecycle rule
   * (AbortIncompleteMultipartUpload).
   */
  protected async doPurgeStaleUploads(): Promise<number> {
    return 0;
  }

  #objectKey(key: string): string {
    return this.#prefix + key;
  }

  /** Size of an object; PathNotFoundError when absent (a prefix is absent too). */
  async #objectSize(key: string): Promise<number> {
    try {
      return (await this.#client.stat(this.#objectKey(key))).size;
    } catch (err) {
      if (!isNoSuchKey(err)) throw s3Error(err, key, 'stat');
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
      throw storageError(DRIVER, err, key, 'list');
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
    await eachLimited(objectKeys, DELETE_CONCURRENCY, async (objectKey) => {
      try {
        await this.#client.delete(objectKey);
      } catch (err) {
        throw storageError(DRIVER, err, key, 'delete');
      }
    });
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
            throw s3Error(err, key, 'write');
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

