/**
 * The V1 pull-through mirror, images (E3, E6, E7): consulted by ImageService only when an image
 * has no row here at all (an image being pushed here stays a local 400, never a mirror fetch).
 *
 * - json and ancestry: fetched together and validated (mirror-v1-upstream.ts); kept in memory for
 *   a few minutes, so the layer fetch a pull makes next needs no second round trip; they are
 *   served as they came, with the upstream's X-Docker-Size and checksums.
 * - layer: streamed to the client while it is written to storage (fetch-through.ts), verified
 *   against the upstream's payload checksum (sha256 of json + "\n" + layer) or its legacy
 *   `X-Docker-Checksum` (tarsum v0 or sha256), and against the announced size, and only then
 *   recorded, json, ancestry, layer and our payload checksum at once, as a complete image
 *   (MetaStore.putReadyImage): from then on it is a local image like a pushed one (pulls, GC,
 *   the V2 bridge), with the same headers. A copy that fails or does not verify cuts the
 *   client's transfer and stores nothing; a client that leaves does not stop the copy.
 * - one fetch per layer: concurrent pulls in this process share it (they wait for the stored
 *   copy and serve it locally); other processes wait on the FetchLock lease (fetch-lock.ts).
 */
import { PayloadHasher } from '../checksum/payload.ts';
import { tarsum } from '../checksum/tarsum.ts';
import type { ImageStore, RepoRef, RepositoryStore } from '../db/meta.ts';
import { RegistryError } from '../errors.ts';
import type { StorageDriver } from '../storage/driver.ts';
import { layerKey, newUploadId } from '../storage/paths.ts';
import { fetchThroughTo, SingleFlight } from './fetch-through.ts';
import { leaseOrStored, type FetchLock } from './fetch-lock.ts';
import type { UpstreamImage, V1Upstream } from './mirror-v1-upstream.ts';

/** What the mirror hands ImageService for a missing layer. */
export type MirrorLayer =
  | { kind: 'stream'; stream: ReadableStream<Uint8Array>; size: number | null; lastModified: Date }
  /** stored locally now (by this fetch, another one, or another process): read it from the store */
  | { kind: 'stored' };

const STORED: MirrorLayer = { kind: 'stored' };
/** how long fetched json and ancestry are reused for the layer fetch that follows */
const RECENT_MS = 10 * 60_000;
/** bytes of image json kept that way, at most */
const RECENT_BYTES = 16 * 1024 * 1024;

const bad = (detail: string) => new RegistryError('UPSTREAM_BAD_RESPONSE', detail);

/**
 * The repository a V1 token names (`repository="ns/name"`, quote_plus-encoded): the client's
 * pull context, which the upstream's token flow needs for image calls.
 */
export function repositoryOfToken(authorization: string | null): RepoRef | null {
  const m = authorization ? /^\s*token\s.*?\brepository=(?:"([^"]*)"|([^,\s]*))/i.exec(authorization) : null;
  const text = m ? (m[1] ?? m[2] ?? '') : '';
  const slash = text.indexOf('/');
  if (slash <= 0) return null;
  try {
    const decode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    return { namespace: decode(text.slice(0, slash)), name: decode(text.slice(slash + 1)) };
  } catch {
    return null;
  }
}

/** Checks a layer as it streams by: size, payload checksum, legacy checksum. */
function layerCheck(image: UpstreamImage, expected: number | null) {
  const payload = new PayloadHasher(image.json);
  const legacy = image.legacyChecksum;
  // a tarsum is computed from a second stream of the same chunks, read as they come
  const feed: { tar: ReadableStreamDefaultController<Uint8Array> | null } = { tar: null };
  const tarResult = legacy?.startsWith('tarsum+')
    ? tarsum(image.json, new ReadableStream<Uint8Array>({ start: (c) => void (feed.tar = c) })).catch(() => 'not a tar')
    : null;
  let digest = '';
  return {
    hash(chunk: Uint8Array) {
      payload.update(chunk);
      feed.tar?.enqueue(chunk);
    },
    async verify(size: number) {
      if (expected !== null && size !== expected) throw bad(`the upstream sent ${size} bytes of a ${expected}-byte layer`);
      digest = payload.digest();
      if (image.checksums.length > 0 && !image.checksums.includes(digest)) throw bad('the layer does not match its X-Docker-Checksum-Payload');
      if (legacy?.startsWith('sha256:') && legacy !== digest) throw bad('the layer does not match its X-Docker-Checksum');
      if (tarResult) {
        feed.tar?.close();
        if ((await tarResult) !== legacy) throw bad('the layer does not match its X-Docker-Checksum');
      }
    },
    /** a copy that failed: let the tarsum reader go */
    abandon() {
      try {
        feed.tar?.error(new Error('abandoned'));
      } catch {
        // closed already
      }
    },
    digest: () => digest,
  };
}

export class MirrorV1Images {
  readonly #images = new SingleFlight<UpstreamImage | null>();
  readonly #recent = new Map<string, UpstreamImage>();
  #recentBytes = 0;
  readonly #layers = new SingleFlight<void>();

  constructor(
    private readonly upstream: V1Upstream,
    private readonly meta: ImageStore & Pick<RepositoryStore, 'repositoriesListingImage'>,
    private readonly storage: StorageDriver,
    private readonly lock: FetchLock,
    private readonly options: { maxLayerSize: number },
  ) {}

  /** The upstream's json and ancestry of an image missing here; IMAGE_NOT_FOUND when it has none either. */
  async image(id: string, authorization: string | null): Promise<UpstreamImage> {
    const recent = this.#recent.get(id);
    if (recent && Date.now() - recent.fetchedAt < RECENT_MS) return recent;
    const repo = await this.#repository(id, authorization);
    const image = await this.#images.run(id, () => this.upstream.image(id, repo));
    if (!image) throw new RegistryError('IMAGE_NOT_FOUND');
    this.#forget(id);
    this.#recent.set(id, image);
    this.#recentBytes += image.json.byteLength;
    // the oldest go first
    for (const [old, kept] of this.#recent) {
      if (this.#recentBytes <= RECENT_BYTES) break;
      this.#recent.delete(old);
      this.#recentBytes -= kept.json.byteLength;
    }
    return image;
  }

  #forget(id: string): void {
    const kept = this.#recent.get(id);
    if (!kept) return;
    this.#recent.delete(id);
    this.#recentBytes -= kept.json.byteLength;
  }

  /**
   * A layer missing here. `stream`: the caller wants the bytes while they are stored (a plain
   * GET); otherwise (HEAD, a Range) it waits until the layer is stored and reads it locally.
   */
  async layer(id: string, authorization: string | null, stream: boolean): Promise<MirrorLayer> {
    const running = this.#layers.pending(id);
    if (running) {
      await running;
      return STORED;
    }
    let handOff: ((layer: MirrorLayer) => void) | null = null;
    const toClient = new Promise<MirrorLayer>((resolve) => (handOff = stream ? resolve : null));
    const done = this.#layers.run(id, () => this.#fill(id, authorization, handOff));
    done.catch(() => {});
    const stored = done.then(() => STORED);
    return stream ? Promise.race([toClient, stored]) : stored;
  }

  /** Fetches and stores a layer; `handOff` (null: nobody) gets the client's copy of the bytes. */
  async #fill(id: string, authorization: string | null, handOff: ((layer: MirrorLayer) => void) | null): Promise<void> {
    const lease = await leaseOrStored(this.lock, `v1-layer:${id}`, async () => (await this.meta.getImage(id)) !== null);
    if (!lease) return;
    try {
      // stored meanwhile (another process, or a fetch that just ended)
      if (await this.meta.getImage(id)) return;
      const image = await this.image(id, authorization);
      const reply = await this.upstream.layer(id, await this.#repository(id, authorization));
      if (!reply) throw new RegistryError('IMAGE_NOT_FOUND');
      const expected = reply.size ?? image.size;
      const refuse = async (detail: string) => {
        await reply.body.cancel().catch(() => {});
        return bad(detail);
      };
      if (reply.size !== null && image.size !== null && reply.size !== image.size) throw await refuse('a layer whose length differs from its X-Docker-Size');
      if (expected !== null && expected > this.options.maxLayerSize) throw await refuse('a layer larger than max_body_size');
      const key = layerKey(id, newUploadId());
      const check = layerCheck(image, expected);
      const copy = await fetchThroughTo(this.storage, key, reply.body, { hash: check.hash, verify: check.verify, limit: expected ?? this.options.maxLayerSize });
      // with nobody to read the client's copy, the copy stores on alone at once
      if (handOff) handOff({ kind: 'stream', stream: copy.client, size: expected, lastModified: new Date() });
      else void copy.client.cancel().catch(() => {});
      const size = await copy.stored.catch((e: unknown) => {
        check.abandon();
        throw e;
      });
      let recorded = false;
      try {
        recorded = await this.meta.putReadyImage(
          { id, parent: image.parent, json: image.json, ancestry: image.ancestry },
          { key, size, checksums: [check.digest()] },
        );
      } finally {
        // someone else's complete copy stands (or none could be recorded): ours is garbage
        if (!recorded) await this.storage.delete(key).catch(() => {});
      }
      this.#forget(id);
    } finally {
      await lease.release();
    }
  }

  /** The repository the pull is about: the client's token names it, else a repository listing the image. */
  async #repository(id: string, authorization: string | null): Promise<RepoRef | null> {
    const named = repositoryOfToken(authorization);
    if (named) return named;
    const [listing] = await this.meta.repositoriesListingImage(id);
    return listing ? { namespace: listing.namespace, name: listing.name } : null;
  }
}
