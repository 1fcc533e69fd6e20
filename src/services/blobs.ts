/**
 * (Over 300 lines on purpose: the upload session's steps — append, digest, place, purge — share
 * the live hashers and the chunk layout, and read best as one state machine; the pull-through
 * mirror adds only its interface and where a GET asks it, the rest is in mirror-v2-blobs.ts.)
 *
 * V2 blobs and their uploads (OCI Distribution §Pushing blobs, §Pulling blobs): the rules, no
 * HTTP. A blob is stored once per digest (under a key of its own, `blobs/<alg>/<hex>-<n>`: see
 * storage/paths.ts) and linked into the repositories that pushed or mounted it; nothing is visible
 * before its digest is verified. The checks a push relies on (HEAD and GET of a blob, a mount, an
 * upload of bytes stored already) touch the blob, so garbage collection spares it while the push
 * goes on (services/gc.ts).
 *
 * An upload session lives in the metadata store (its offset and chunk count) and in storage, so a
 * session survives a worker restart and may be continued through any worker of any node. Where
 * objects can grow (disk: `storage.canContinue`) its bytes are one object, `uploads/<session>/0`,
 * which each PATCH takes, writes on from the session's offset and puts back (the taking keeps
 * concurrent PATCHes apart); elsewhere (S3) each PATCH is one committed object of its own,
 * `uploads/<session>/<n>-<random>`, and the session's row records the names of those that count
 * (a PATCH that loses the race for the session's next chunk deletes only its own). Completion:
 * - monolithic (the first bytes arrive with the digest): streamed straight into the blob's key
 *   through an atomic writer, hashed on the way, committed only when the digest matches;
 * - chunked: the digest is the one recorded with the last chunk by the process that had hashed
 *   every byte so far (always the case for the usual single PATCH, and for chunks that all came
 *   through one process), or, when the chunks came through several processes, read back; then
 *   the one object is moved into place (a rename on disk, a server-side copy on S3), several (S3)
 *   are concatenated by the storage itself (`storage.concat`: S3's UploadPartCopy) or, where it
 *   cannot (a chunk but the last under 5 MiB), through this process. On disk the PATCHes are not
 *   fsynced (distribution does not fsync at all): the move that completes the upload makes the
 *   bytes durable, once, before they are visible as a blob; a recorded digest carries the
 *   storage's `volatileEpoch` (the boot id) and is trusted only while that is unchanged, since an
 *   OS crash in between may have lost bytes it covers: then the bytes are read back and hashed,
 *   and their length checked.
 * Abandoned sessions are purged by age (`purgeStaleUploads`), rows and chunks alike.
 */
import type { BlobRecord, BlobStore, RepoRef, UploadRecord, UploadStore } from '../db/meta.ts';
import { fullName } from '../db/records.ts';
import { digestAlgorithm, digestHasher, isDigest } from '../domain/digest.ts';
import { RegistryError } from '../errors.ts';
import { PathNotFoundError, StorageError, type StorageDriver } from '../storage/driver.ts';
import { isSessionId, newBlobKey, newChunkName, newSessionId, uploadChunkKey, uploadObjectKey, uploadPrefix } from '../storage/paths.ts';
import { pipeBody, type RequestBody } from './body.ts';
import { RecentUse } from './recent-use.ts';

export type BlobSource =
  | { kind: 'blob'; blob: Blob; record: BlobRecord }
  | { kind: 'redirect'; url: string; record: BlobRecord }
  /** pull-through mirror: a blob not held here; its bytes as they come from upstream (null for a HEAD) */
  | { kind: 'upstream'; digest: string; size: number | null; stream: ReadableStream<Uint8Array> | null };

/** A blob coming from the mirror's upstream: the bytes as they arrive, and the size upstream announced. */
export interface UpstreamBlob {
  stream: ReadableStream<Uint8Array>;
  size: number | null;
}

/**
 * The pull-through mirror's side of blobs (services/mirror-v2-blobs.ts), asked only about blobs
 * the repository does not link.
 */
export interface BlobMirror {
  /** For a HEAD: the size upstream gives; null when it has none. */
  stat(ref: RepoRef, digest: string): Promise<{ size: number } | null>;
  /**
   * For a GET: the bytes as they arrive from upstream (stored on the way), or 'stored' once held
   * here (`whole`, or another request was fetching it); null when upstream has none.
   */
  fetch(ref: RepoRef, digest: string, whole: boolean): Promise<UpstreamBlob | 'stored' | null>;
}

/** What a blob GET wants: only the headers (HEAD), or a range of the bytes. */
export interface BlobWant {
  head?: boolean;
  range?: boolean;
}

/** The first and last byte of a PATCH, from its `Content-Range: <start>-<end>`. */
export interface ChunkRange {
  start: number;
  end: number;
}

export interface BlobOptions {
  redirect: boolean;
  maxBlobSize: number;
  /** garbage collection's grace period (s): how often a check a push relies on touches the blob */
  gcGrace?: number;
}

/** Live hashers of sessions this process is receiving (bounded: the oldest go first). */
const LIVE_SESSIONS = 256;

/**
 * Chunks (PATCHes, and a PUT's last chunk) one upload session takes at most: S3's own limit on the
 * parts of one object. Each chunk is an object on S3 and a name in the session's row, rewritten
 * by every PATCH, so without a bound a client sending tiny chunks would make that work grow with
 * the square of their number.
 */
export const MAX_UPLOAD_CHUNKS = 10_000;

/** Maps storage failures at the service edge: a vanished object is unknown, the rest a 503. */
function storageFailure(e: unknown, missing: 'V2_BLOB_UNKNOWN' | 'V2_BLOB_UPLOAD_UNKNOWN' = 'V2_BLOB_UNKNOWN'): never {
  if (e instanceof PathNotFoundError) throw new RegistryError(missing);
  if (e instanceof StorageError) throw new RegistryError('STORAGE_FAILURE');
  throw e;
}

/** A valid digest, or DIGEST_INVALID. */
function requireDigest(digest: string | null | undefined): string {
  if (!digest || !isDigest(digest)) throw new RegistryError('V2_DIGEST_INVALID', 'unsupported or malformed digest');
  return digest;
}

export class BlobService {
  /** session id → the sha256 of its bytes so far, while this process has seen all of them */
  readonly #live = new Map<string, { offset: number; hasher: Bun.CryptoHasher }>();
  readonly #recent: RecentUse;

  constructor(
    private readonly meta: BlobStore & UploadStore,
    private readonly storage: StorageDriver,
    private readonly options: BlobOptions,
    /** the pull-through mirror (null: a blob not linked here is unknown) */
    private readonly mirror: BlobMirror | null = null,
  ) {
    this.#recent = RecentUse.forGrace(options.gcGrace ?? 3600);
  }

  /** A blob linked into `ref` (touched: a push may skip uploading it on this answer), or BLOB_UNKNOWN. */
  async stat(ref: RepoRef, digest: string): Promise<BlobRecord> {
    const record = await this.meta.getLinkedBlob(ref, requireDigest(digest));
    if (!record || !(await this.#touch(record.digest))) throw new RegistryError('V2_BLOB_UNKNOWN');
    return record;
  }

  /** Touches a blob unless this process did lately; false when it is gone (collected meanwhile). */
  #touch(digest: string): Promise<boolean> {
    return this.#recent.touch(digest, (staleBefore) => this.meta.touchBlob(digest, staleBefore));
  }

  /**
   * The blob's bytes (a BunFile on local disk: sendfile), or a redirect URL. With a mirror, a blob
   * not linked here comes from upstream (see BlobMirror).
   */
  async get(ref: RepoRef, digest: string, want: BlobWant = {}): Promise<BlobSource> {
    const record = await this.meta.getLinkedBlob(ref, requireDigest(digest));
    // touched: a push may skip uploading it on this answer (false: collected meanwhile)
    if (record && (await this.#touch(record.digest))) return this.#local(record);
    if (!this.mirror) throw new RegistryError('V2_BLOB_UNKNOWN');
    return this.#fromMirror(this.mirror, ref, digest, want);
  }

  /** A blob not linked here, through the mirror. */
  async #fromMirror(mirror: BlobMirror, ref: RepoRef, digest: string, want: BlobWant): Promise<BlobSource> {
    if (want.head) {
      const found = await mirror.stat(ref, digest);
      if (!found) throw new RegistryError('V2_BLOB_UNKNOWN');
      return { kind: 'upstream', digest, size: found.size, stream: null };
    }
    const fetched = await mirror.fetch(ref, digest, want.range === true);
    if (fetched === null) throw new RegistryError('V2_BLOB_UNKNOWN');
    if (fetched === 'stored') return this.#local(await this.stat(ref, digest));
    return { kind: 'upstream', digest, size: fetched.size, stream: fetched.stream };
  }

  async #local(record: BlobRecord): Promise<BlobSource> {
    if (this.options.redirect) {
      const url = await this.storage.redirectUrl(record.key).catch((e) => storageFailure(e));
      if (url) return { kind: 'redirect', url, record };
    }
    const blob = await this.storage.blob(record.key).catch((e) => storageFailure(e));
    return { kind: 'blob', blob, record };
  }

  /** Unlinks the blob from `ref` (its bytes stay for garbage collection). */
  async delete(ref: RepoRef, digest: string): Promise<void> {
    if (!(await this.meta.unlinkBlob(ref, requireDigest(digest)))) throw new RegistryError('V2_BLOB_UNKNOWN');
  }

  /** Links a blob `from` holds into `ref`; null when `from` does not have it (then start an upload). */
  async mount(ref: RepoRef, from: RepoRef, digest: string): Promise<BlobRecord | null> {
    if (!isDigest(digest)) return null;
    const source = await this.meta.getLinkedBlob(from, digest);
    return source ? this.meta.linkBlob(ref, digest) : null;
  }

  async startUpload(ref: RepoRef): Promise<UploadRecord> {
    const session = await this.meta.createUpload(newSessionId(), ref);
    // where objects can grow (disk), the session's one data object exists from the start: every
    // PATCH then takes it to write (storage.writerAt), which keeps concurrent PATCHes apart
    if (this.storage.canContinue) {
      await this.storage.putContent(uploadChunkKey(session.id, 0), new Uint8Array(0), { durable: false }).catch((e) => storageFailure(e));
    }
    return session;
  }

  /**
   * The storage objects holding a session's bytes, in order: where objects can grow, one (chunk 0,
   * continued by every PATCH); elsewhere one per chunk.
   */
  #chunkKeys(session: UploadRecord): string[] {
    if (this.storage.canContinue) return session.chunks > 0 ? [uploadChunkKey(session.id, 0)] : [];
    // each chunk's object has a name of its own, recorded with it (rows from before: `0`, `1`, …)
    const names = session.chunkNames === '' ? [] : session.chunkNames.split(' ');
    const unnamed = Math.max(session.chunks - names.length, 0);
    return [...Array.from({ length: unnamed }, (_, n) => uploadChunkKey(session.id, n)), ...names.map((name) => uploadObjectKey(session.id, name))];
  }

  /** A session of `ref`, or BLOB_UPLOAD_UNKNOWN. */
  async session(ref: RepoRef, id: string): Promise<UploadRecord> {
    const session = isSessionId(id) ? await this.meta.getUpload(id) : null;
    if (!session || session.repository !== fullName(ref)) throw new RegistryError('V2_BLOB_UPLOAD_UNKNOWN');
    return session;
  }

  /** POST with `digest` and the whole blob: one request, no session. */
  async putMonolithic(ref: RepoRef, digest: string, body: RequestBody): Promise<BlobRecord> {
    return this.#storeWhole(ref, requireDigest(digest), body);
  }

  /** PATCH: one more chunk, which must start at the session's offset when a range is given. */
  async appendChunk(ref: RepoRef, id: string, body: RequestBody, range: ChunkRange | null): Promise<UploadRecord> {
    const session = await this.session(ref, id);
    const expected = range ? range.end - range.start + 1 : null;
    if (range && range.start !== session.offset) throw outOfOrder(session.offset);
    if (expected !== null && body.declaredLength !== null && body.declaredLength !== expected) throw new RegistryError('V2_SIZE_INVALID');
    return this.#appendChunk(session, body, expected);
  }

  /** PUT: the last chunk (if the body has one), then the digest check and the blob. */
  async complete(ref: RepoRef, id: string, digest: string | null, body: RequestBody): Promise<BlobRecord> {
    let session = await this.session(ref, id);
    const wanted = requireDigest(digest);
    if (session.chunks === 0) {
      // nothing received yet: the whole blob is this body, straight into place
      const record = await this.#storeWhole(ref, wanted, body);
      await this.meta.deleteUpload(session.id);
      await this.#end(session.id);
      return record;
    }
    if (body.stream && body.declaredLength !== 0) session = await this.#appendChunk(session, body, null);
    // claim the session: a concurrent PUT or DELETE gets BLOB_UPLOAD_UNKNOWN from here on
    if (!(await this.meta.deleteUpload(session.id))) throw new RegistryError('V2_BLOB_UPLOAD_UNKNOWN');
    try {
      const actual = await this.#digestOf(session, digestAlgorithm(wanted));
      if (actual !== wanted) throw new RegistryError('V2_DIGEST_INVALID');
      return await this.#place(ref, session, wanted);
    } finally {
      await this.#end(session.id);
    }
  }

  /** DELETE of a session: its row and chunks go. */
  async cancel(ref: RepoRef, id: string): Promise<void> {
    const session = await this.session(ref, id);
    if (!(await this.meta.deleteUpload(session.id))) throw new RegistryError('V2_BLOB_UPLOAD_UNKNOWN');
    await this.#end(session.id);
  }

  /**
   * Removes sessions idle for longer than `maxAgeMs` and the chunks they left, plus chunk folders
   * no session owns any more (a process that died between storing a chunk and recording it, or
   * while completing). Returns how many sessions' data were removed.
   */
  async purgeStaleUploads(maxAgeMs: number): Promise<number> {
    const before = Date.now() - maxAgeMs;
    let removed = 0;
    for (const stale of await this.meta.staleUploads(before, 1000)) {
      // still idle: a PATCH that moved it on since the listing keeps it
      if (await this.meta.deleteUpload(stale.id, before)) {
        await this.#end(stale.id);
        removed++;
      }
    }
    const folders = await this.storage.list('uploads').catch((e) => (e instanceof PathNotFoundError ? [] : storageFailure(e)));
    for (const folder of folders) {
      const id = folder.slice('uploads/'.length);
      if (!isSessionId(id) || (await this.meta.getUpload(id))) continue;
      // dated by its newest chunk: a session being completed has no row any more, and its first
      // chunk may be older than the age while its last one just came (S3 dates a prefix by its
      // first object); counted only when this purge removed it (every worker purges)
      const written = await this.#lastWrite(folder);
      if (written !== null && written < before && (await this.storage.delete(folder).then(() => true, () => false))) removed++;
    }
    return removed;
  }

  /** When the newest chunk under a session's folder was written (ms); null when none is left. */
  async #lastWrite(folder: string): Promise<number | null> {
    let newest: number | null = null;
    for (const key of await this.storage.list(folder).catch(() => [])) {
      const stat = await this.storage.stat(key).catch(() => null);
      if (stat) newest = Math.max(newest ?? 0, stat.modTime.getTime());
    }
    return newest;
  }

  /** Streams a whole blob into a key of its own, verified before it is committed; records and links it. */
  async #storeWhole(ref: RepoRef, digest: string, body: RequestBody): Promise<BlobRecord> {
    const hasher = digestHasher(digestAlgorithm(digest));
    const key = newBlobKey(digest);
    // stored already (and touched, so it stays while the body streams): hash the body to hold
    // the client to its digest, but write nothing
    const existing = (await this.meta.getBlob(digest)) !== null && (await this.#touch(digest));
    const writer = existing ? null : await this.storage.writer(key).catch((e) => storageFailure(e));
    try {
      const size = await pipeBody(body, writer, (chunk) => hasher.update(chunk), this.#pipeOptions());
      if (`${digestAlgorithm(digest)}:${hasher.digest('hex')}` !== digest) throw new RegistryError('V2_DIGEST_INVALID');
      if (!writer) {
        const linked = await this.meta.linkBlob(ref, digest);
        // collected while the body streamed (longer than the touch protects): the bytes are gone
        if (!linked) throw new RegistryError('V2_BLOB_UPLOAD_INVALID', 'the stored copy was garbage-collected during the upload; push the blob again');
        return linked;
      }
      await writer.commit();
      return await this.#record(ref, { digest, size, key });
    } catch (e) {
      await writer?.cancel().catch(() => {});
      if (e instanceof StorageError) storageFailure(e);
      throw e;
    }
  }

  /** Records bytes just written under `blob.key`; when another copy was recorded first, this one goes. */
  async #record(ref: RepoRef, blob: { digest: string; size: number; key: string }): Promise<BlobRecord> {
    const { blob: record } = await this.meta.putBlob(ref, blob);
    if (record.key !== blob.key) await this.storage.delete(blob.key).catch(() => {});
    return record;
  }

  async #appendChunk(session: UploadRecord, body: RequestBody, expected: number | null): Promise<UploadRecord> {
    if (session.chunks >= MAX_UPLOAD_CHUNKS) {
      throw new RegistryError('V2_BLOB_UPLOAD_INVALID', `an upload takes at most ${MAX_UPLOAD_CHUNKS} chunks: send larger ones`);
    }
    // the sha256 of every byte so far goes on only where it is known: in the process that has
    // seen them all, or from the first byte (any process). The live hasher is taken, not shared:
    // a concurrent PATCH of the session in this process must not feed its bytes into it too (the
    // winner would record a digest of both bodies over the bytes of one); it comes back when
    // this chunk is recorded
    const live = this.#live.get(session.id);
    this.#live.delete(session.id);
    const hasher = live && live.offset === session.offset ? live.hasher : session.offset === 0 ? digestHasher('sha256') : null;
    const continued = this.storage.canContinue;
    // elsewhere (S3) this PATCH's object has a name of its own: a concurrent PATCH from the same
    // session snapshot (the same chunk number) can neither replace it nor, losing, delete it
    const name = continued ? null : newChunkName(session.chunks);
    const key = name === null ? uploadChunkKey(session.id, 0) : uploadObjectKey(session.id, name);
    const writer = await (continued ? this.storage.writerAt(key, session.offset) : this.storage.writer(key)).catch((e) => {
      // the data object is taken by a concurrent PATCH (or was lost): this one cannot go on
      if (continued && e instanceof PathNotFoundError) throw outOfOrder(session.offset);
      return storageFailure(e);
    });
    let size: number;
    try {
      size = await pipeBody(body, writer, hasher ? (chunk) => hasher.update(chunk) : () => {}, this.#pipeOptions());
      if (expected !== null && size !== expected) throw new RegistryError('V2_SIZE_INVALID', 'the body does not fill its Content-Range');
      if (size === 0) {
        await writer.cancel();
        // nothing hashed: the hasher comes back unless a concurrent PATCH moved the session on
        if (hasher && !this.#live.has(session.id)) this.#live.set(session.id, { offset: session.offset, hasher });
        return session;
      }
      await writer.commit();
    } catch (e) {
      // the hasher (taken, so dropped here) has taken part of a chunk that did not land
      await writer.cancel().catch(() => {});
      if (e instanceof StorageError) storageFailure(e);
      throw e;
    }
    // recorded, so that the completion needs no re-read wherever it lands (another worker, node)
    const digest = hasher ? recordedDigest(`sha256:${hasher.copy().digest('hex')}`, this.storage.volatileEpoch) : null;
    const names = name === null ? undefined : session.chunkNames === '' ? name : `${session.chunkNames} ${name}`;
    const next = await this.meta.appendUpload(session.id, { offset: session.offset, chunks: session.chunks }, size, digest, names);
    if (!next) {
      // another request moved the session on or ended it meanwhile (for a continued object only
      // an end can: it was taken at the session's end, so no other PATCH wrote meanwhile; it is
      // then longer than the session, and completing it fails, see #place): this chunk is not
      // part of it; its hasher, taken, goes with it; its own object (S3) goes
      if (!continued) await this.storage.delete(key).catch(() => {});
      const now = await this.meta.getUpload(session.id);
      if (!now) throw new RegistryError('V2_BLOB_UPLOAD_UNKNOWN');
      throw outOfOrder(now.offset);
    }
    if (hasher) {
      this.#live.set(session.id, { offset: next.offset, hasher });
      this.#trimLive();
    }
    return next;
  }

  /**
   * The digest of a session's bytes: as recorded by the process that received them all, while
   * those bytes cannot have been lost since (see the top), else read back (chunks that came
   * through several processes, a sha512 digest, a machine restarted since).
   */
  async #digestOf(session: UploadRecord, algorithm: 'sha256' | 'sha512'): Promise<string> {
    const recorded = algorithm === 'sha256' ? trustedDigest(session.digest, this.storage.volatileEpoch) : null;
    if (recorded !== null) return recorded;
    const hasher = digestHasher(algorithm);
    let size = 0;
    for (const key of this.#chunkKeys(session)) {
      const stream = await this.storage.read(key).catch((e) => storageFailure(e, 'V2_BLOB_UPLOAD_UNKNOWN'));
      try {
        for await (const chunk of stream) {
          hasher.update(chunk);
          size += chunk.byteLength;
        }
      } catch (e) {
        storageFailure(e, 'V2_BLOB_UPLOAD_UNKNOWN');
      }
    }
    // bytes lost (an OS crash before they were flushed): the session cannot be completed
    if (size !== session.offset) throw new RegistryError('V2_BLOB_UPLOAD_INVALID', 'the upload lost data it had received (the registry restarted); start it again');
    return `${algorithm}:${hasher.digest('hex')}`;
  }

  /**
   * Puts a verified session's chunks in place as the blob, under a key of its own, and links it;
   * when the digest is stored already, links that one instead (the chunks go with the session).
   */
  async #place(ref: RepoRef, session: UploadRecord, digest: string): Promise<BlobRecord> {
    const linked = await this.meta.linkBlob(ref, digest);
    if (linked) return linked;
    const key = newBlobKey(digest);
    let grown = false;
    try {
      const chunks = this.#chunkKeys(session);
      if (chunks.length === 1) await this.storage.move(chunks[0]!, key);
      else await this.#concatenate(chunks, key);
      // A continued object is the one file every PATCH writes on: a PATCH that began before this
      // PUT claimed the session and put the object back (longer) before the move above would have
      // made it more than the digest's bytes. Once moved, no PATCH can reach it: check it here.
      if (this.storage.canContinue) grown = (await this.storage.stat(key)).size !== session.offset;
    } catch (e) {
      storageFailure(e, 'V2_BLOB_UPLOAD_UNKNOWN');
    }
    if (grown) {
      await this.storage.delete(key).catch(() => {});
      throw new RegistryError('V2_BLOB_UPLOAD_INVALID', 'a PATCH changed the upload while it was being completed; start it again');
    }
    return this.#record(ref, { digest, size: session.offset, key });
  }

  /**
   * The chunks' bytes, in order, as one object under `key`: composed by the storage itself where
   * it can (S3: a multipart upload of server-side part copies, nothing through this process),
   * else streamed through a writer (chunks S3's part rules refuse, fs, memory).
   */
  async #concatenate(chunks: string[], key: string): Promise<void> {
    if (await this.storage.concat(chunks, key)) return;
    const writer = await this.storage.writer(key);
    try {
      for (const chunk of chunks) {
        for await (const bytes of await this.storage.read(chunk)) await writer.write(bytes);
      }
      await writer.commit();
    } catch (e) {
      await writer.cancel().catch(() => {});
      throw e;
    }
  }

  /** Forgets a session's live hasher and deletes its chunks (the row is the caller's). */
  async #end(id: string): Promise<void> {
    this.#live.delete(id);
    await this.storage.delete(uploadPrefix(id)).catch(() => {});
  }

  #trimLive(): void {
    for (const id of this.#live.keys()) {
      if (this.#live.size <= LIVE_SESSIONS) break;
      this.#live.delete(id);
    }
  }

  #pipeOptions() {
    return { limit: this.options.maxBlobSize, sizeMismatch: new RegistryError('V2_SIZE_INVALID') };
  }
}

/**
 * The digest recorded with a session's chunk: `<digest>@<epoch>` when its bytes are not durable
 * yet (storage.volatileEpoch), so that it is trusted only under the same epoch; the bare digest
 * when they are.
 */
const recordedDigest = (digest: string, epoch: string | null): string => (epoch === null ? digest : `${digest}@${epoch}`);

/** A recorded digest that still holds under `epoch` (a bare one always does), else null. */
function trustedDigest(recorded: string | null, epoch: string | null): string | null {
  if (recorded === null) return null;
  const at = recorded.indexOf('@');
  if (at === -1) return recorded;
  return recorded.slice(at + 1) === epoch ? recorded.slice(0, at) : null;
}

/** 416: a chunk that does not start where the upload stands (or whose object a concurrent PATCH holds). */
const outOfOrder = (offset: number) =>
  new RegistryError('V2_CHUNK_OUT_OF_ORDER', `the upload is at offset ${offset}`, { range: rangeHeader(offset) });

/** The `Range` header of an upload's status: the bytes received, `0-<last>` (`0-0` when none). */
export function rangeHeader(offset: number): string {
  return `0-${Math.max(offset - 1, 0)}`;
}
