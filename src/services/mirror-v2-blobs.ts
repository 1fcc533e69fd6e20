/**
 * The pull-through mirror's blobs (V2): a blob a repository does not hold is fetched from upstream
 * once and kept, as distribution's proxy mode does.
 * - GET: the upstream's bytes are streamed to the client while they are written under the blob's
 *   content-addressed key and hashed (services/fetch-through.ts); the blob is committed, recorded
 *   and linked into the repository only when its digest (and the size upstream announced) verify.
 *   A copy that fails part-way stores nothing and cuts the client's transfer.
 * - One fetch per digest per process (SingleFlight): concurrent GETs of the digest wait for it and
 *   are then served from the local copy; a GET from another repository links the stored blob
 *   once upstream confirms (HEAD) that repository has it, without a second download.
 * - A ranged GET of a blob not held yet waits for the whole blob (the one shared fetch), then is
 *   served from the local copy: ranges are how clients resume, and a resumed blob is then local.
 * - HEAD: asked upstream (HEAD), nothing fetched. When upstream cannot answer, a client HEAD is
 *   answered 404: a HEAD has no body to explain a 502/503/504, and it is how pushing clients ask
 *   whether to upload — a 404 lets local pushes go on while upstream is down.
 */
import type { BlobRecord, BlobStore, RepoRef } from '../db/meta.ts';
import { fullName } from '../db/records.ts';
import { digestAlgorithm, digestHasher } from '../domain/digest.ts';
import { RegistryError } from '../errors.ts';
import type { StorageDriver } from '../storage/driver.ts';
import { leaseOrStored, type FetchLock } from './fetch-lock.ts';
import { newBlobKey } from '../storage/paths.ts';
import type { Upstream, UpstreamRequest } from '../upstream/client.ts';
import type { BlobMirror, UpstreamBlob } from './blobs.ts';
import { fetchThroughTo, SingleFlight } from './fetch-through.ts';

export type MirrorLog = (message: string, fields: Record<string, unknown>) => void;

/**
 * The names a repository has upstream, tried in order: its full name, and for a one-part name
 * (`library/<name>` here, as on Docker Hub) also the bare name, as distribution stores it.
 */
function upstreamNames(ref: RepoRef): string[] {
  const names = [fullName(ref)];
  if (ref.namespace === 'library' && !ref.name.includes('/')) names.push(ref.name);
  return names;
}

/** `/v2/<name>/<rest>` on the upstream under each of the repository's names until one is not a 404. */
export async function askUpstream(upstream: Upstream, ref: RepoRef, rest: string, init: UpstreamRequest = {}): Promise<Response> {
  const names = upstreamNames(ref);
  for (let i = 0; ; i++) {
    const reply = await upstream.request(`/v2/${names[i]}/${rest}`, init);
    if (reply.status !== 404 || i === names.length - 1) return reply;
    await reply.body?.cancel().catch(() => {});
  }
}

/** What one fetch of a digest ended with: the blob (null: upstream has none for `repository`). */
interface Fetched {
  repository: string;
  blob: BlobRecord | null;
}

const isUpstreamFailure = (e: unknown): e is RegistryError => e instanceof RegistryError && e.code.startsWith('UPSTREAM_');

/** A declared Content-Length, or null when absent or not a length. */
function declaredLength(reply: Response): number | null {
  const header = reply.headers.get('content-length');
  return header !== null && /^\d{1,15}$/.test(header) ? Number(header) : null;
}

export class V2BlobMirror implements BlobMirror {
  readonly #flights = new SingleFlight<Fetched>();

  constructor(
    private readonly upstream: Upstream,
    private readonly meta: Pick<BlobStore, 'getBlob' | 'getLinkedBlob' | 'putBlob' | 'linkBlob'>,
    private readonly storage: StorageDriver,
    private readonly options: { maxBlobSize: number },
    private readonly log: MirrorLog,
    /** one fetch per digest across processes and nodes (fetch-lock.ts) */
    private readonly lock: FetchLock,
  ) {}

  /** A client's HEAD: the size upstream gives; null when upstream has none or cannot answer (see the top). */
  async stat(ref: RepoRef, digest: string): Promise<{ size: number } | null> {
    try {
      return await this.#stat(ref, digest);
    } catch (e) {
      if (!isUpstreamFailure(e)) throw e;
      this.log('mirror: upstream could not answer a blob HEAD, answered 404', { digest, reason: e.message });
      return null;
    }
  }

  /**
   * A blob `ref` does not link: its bytes as they arrive from upstream, or, once it is stored
   * here ('stored': the caller serves the local copy), when another request was fetching it or
   * `whole` is asked; null when upstream has none. Upstream failures are thrown (502/503/504).
   */
  async fetch(ref: RepoRef, digest: string, whole: boolean): Promise<UpstreamBlob | 'stored' | null> {
    const repository = fullName(ref);
    for (let attempt = 0; attempt < 3; attempt++) {
      const running = this.#flights.pending(digest);
      if (running) {
        const outcome = await running.then(
          (f): Fetched | Error => f,
          (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
        );
        if (await this.meta.getLinkedBlob(ref, digest)) return 'stored';
        if (isUpstreamFailure(outcome)) throw outcome;
        if (!(outcome instanceof Error) && outcome.repository === repository && outcome.blob === null) return null;
      }
      if (await this.meta.getBlob(digest)) {
        // stored through another repository (or another process): link it if upstream has it here
        if (!(await this.#stat(ref, digest))) return null;
        await this.meta.linkBlob(ref, digest);
        return 'stored';
      }
      // a fetch another request started while this one waited: wait for it instead
      if (this.#flights.pending(digest)) continue;
      return this.#start(ref, digest, whole);
    }
    throw new RegistryError('UPSTREAM_UNAVAILABLE', `the fetch of ${digest} kept failing`);
  }

  async #start(ref: RepoRef, digest: string, whole: boolean): Promise<UpstreamBlob | 'stored' | null> {
    let streaming: (blob: UpstreamBlob | null) => void = () => {};
    const first = new Promise<UpstreamBlob | null>((resolve) => (streaming = resolve));
    const flight = this.#flights.run(digest, async () => {
      // another process fetching it: wait for its copy (the client gets the stored one)
      const lease = await leaseOrStored(this.lock, `v2-blob:${digest}`, async () => (await this.meta.getBlob(digest)) !== null);
      if (!lease) {
        const stored = await this.meta.linkBlob(ref, digest);
        if (stored) return { repository: fullName(ref), blob: stored };
        // stored and collected again before it could be linked: fetched here after all
      }
      try {
        const fetched = await this.#copy(ref, digest, streaming);
        if (fetched === null) streaming(null);
        return { repository: fullName(ref), blob: fetched };
      } finally {
        await lease?.release();
      }
    });
    if (whole) return (await flight).blob ? 'stored' : null;
    // the bytes as soon as upstream's headers are in; a failure before that is this request's error
    return Promise.race([first, flight.then((f) => (f.blob ? 'stored' : null))]);
  }

  /**
   * GETs the blob upstream and copies it into storage, handing the client's stream to `streaming`
   * once the copy runs; resolves with the recorded blob once stored, null on a 404.
   */
  async #copy(ref: RepoRef, digest: string, streaming: (blob: UpstreamBlob) => void): Promise<BlobRecord | null> {
    const reply = await askUpstream(this.upstream, ref, `blobs/${digest}`, { headers: { 'accept-encoding': 'identity' } });
    if (reply.status === 404) {
      await reply.body?.cancel().catch(() => {});
      return null;
    }
    const size = declaredLength(reply);
    if (reply.status !== 200 || !reply.body || (size !== null && size > this.options.maxBlobSize)) {
      await reply.body?.cancel().catch(() => {});
      const why = reply.status !== 200 ? `answered ${reply.status} for a blob` : `announced a blob of ${size} bytes, over the limit`;
      throw new RegistryError('UPSTREAM_BAD_RESPONSE', `${this.upstream.host} ${why}`);
    }
    // a key of its own (as every blob write has): the collector never deletes where a copy writes
    const key = newBlobKey(digest);
    const hasher = digestHasher(digestAlgorithm(digest));
    const copy = await fetchThroughTo(this.storage, key, reply.body, {
      hash: (chunk) => hasher.update(chunk),
      limit: size ?? this.options.maxBlobSize,
      verify: (received) => {
        if (size !== null && received !== size) throw new RegistryError('UPSTREAM_BAD_RESPONSE', `${this.upstream.host} sent ${received} of ${size} bytes`);
        if (`${digestAlgorithm(digest)}:${hasher.digest('hex')}` !== digest) {
          throw new RegistryError('UPSTREAM_BAD_RESPONSE', `${this.upstream.host} sent bytes that do not match ${digest}`);
        }
      },
    });
    streaming({ stream: copy.client, size });
    const stored = await copy.stored.catch((e: unknown) => {
      this.log('mirror: blob fetch failed, nothing stored', { digest, reason: (e as Error).message });
      throw e;
    });
    const { blob, created } = await this.meta.putBlob(ref, { digest, size: stored, key });
    // stored meanwhile by a push or another worker's copy: the first record stands, ours goes
    if (!created && blob.key !== key) await this.storage.delete(key).catch(() => {});
    return blob;
  }

  /** HEAD upstream: the size; null on a 404; upstream failures thrown. */
  async #stat(ref: RepoRef, digest: string): Promise<{ size: number } | null> {
    const reply = await askUpstream(this.upstream, ref, `blobs/${digest}`, { method: 'HEAD' });
    await reply.body?.cancel().catch(() => {});
    if (reply.status === 404) return null;
    const size = declaredLength(reply);
    const named = reply.headers.get('docker-content-digest');
    if (reply.status !== 200 || size === null || (named !== null && named !== digest)) {
      throw new RegistryError('UPSTREAM_BAD_RESPONSE', `${this.upstream.host} answered a blob HEAD with ${reply.status}${size === null ? ' and no length' : ''}`);
    }
    return { size };
  }
}
