/**
 * The pull-through mirror, V2 half (`mirroring.source`): what this registry does not hold is
 * fetched from the upstream registry and kept, as distribution's proxy mode does, in a registry
 * that also takes local pushes. The rules; the HTTP client is upstream/client.ts.
 *
 * - Manifest by digest: held here, else fetched upstream once (concurrent requests share the
 *   fetch): the bytes must hash to the digest and pass the checks a PUT makes (size, media type,
 *   descriptors); stored with its references (referrers API, garbage collection and the V1 bridge
 *   see it as any other) and served with the upstream's media type.
 * - Manifest by tag: a tag pushed here is served as it is and never asked about upstream. A tag
 *   fetched from upstream is marked (mirror-v2-tags.ts); once `mirroring.tags_cache_ttl` has
 *   passed, upstream is asked again (HEAD, Docker-Content-Digest compared; a GET when it changed).
 *   When upstream cannot answer (down, slow, garbage) the copy held here is served, and this
 *   process asks again after min(TTL, 30 s). A tag upstream no longer has stays served from here.
 * - Blobs are not fetched with their manifest: a manifest stored from upstream references blobs
 *   (and child manifests) that arrive when first asked for (mirror-v2-blobs.ts). The store takes
 *   such a manifest as it is (its references are recorded, not checked: checking is the PUT
 *   route's rule, for clients); a blob's row is written when its bytes are, so every blob row
 *   names bytes that exist. A client PUT referencing content not held here, e.g. a layer it skipped
 *   because the mirror's HEAD found it upstream, has it fetched from upstream first.
 * - Tag lists: the local names merged with upstream's; local ones alone when upstream cannot
 *   answer. The catalog is local only.
 * - Upstream failures on a miss are the catalogue's gateway errors (502, 503, 504), never a 500.
 */
import type { ManifestRecord, ManifestStore, RepoRef, TagStore } from '../db/meta.ts';
import { fullName } from '../db/records.ts';
import { digestAlgorithm, digestOf, isDigest } from '../domain/digest.ts';
import { DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST, parseManifest, type ParsedManifest } from '../domain/manifest.ts';
import { RegistryError } from '../errors.ts';
import type { Upstream } from '../upstream/client.ts';
import type { BridgeService } from './bridge.ts';
import { SingleFlight } from './fetch-through.ts';
import { manifestToStore, type ManifestMirror } from './manifests.ts';
import { askUpstream, type MirrorLog, type V2BlobMirror } from './mirror-v2-blobs.ts';
import { TagMarks } from './mirror-v2-tags.ts';
import { isTagName } from './names.ts';

/** The manifest types asked for (the ones this registry stores; never Docker schema 1). */
const ACCEPT = [OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST].join(', ');
/** Pages of an upstream tag list followed at most (its `Link: rel="next"`). */
const TAG_PAGES = 100;
/** After a failed check, this process serves the held copy this long before it asks again. */
const RETRY_MS = 30_000;

type Store = Pick<ManifestStore, 'getManifest' | 'getTaggedManifest' | 'putManifest'> & Pick<TagStore, 'getTag'>;

export interface V2MirrorOptions {
  /** mirroring.tags_cache_ttl, in ms */
  ttlMs: number;
  maxManifestSize: number;
}

const isUpstreamFailure = (e: unknown): e is RegistryError => e instanceof RegistryError && e.code.startsWith('UPSTREAM_');

export class V2Mirror implements ManifestMirror {
  readonly #flights = new SingleFlight<ManifestRecord | null>();

  constructor(
    private readonly upstream: Upstream,
    private readonly meta: Store,
    private readonly marks: TagMarks,
    readonly blobs: V2BlobMirror,
    private readonly options: V2MirrorOptions,
    private readonly bridge: BridgeService | null,
    private readonly log: MirrorLog,
  ) {}

  async tagged(ref: RepoRef, tag: string, local: ManifestRecord | null): Promise<ManifestRecord | null> {
    const id = `${fullName(ref)}\0${tag}`;
    if (!local) {
      // a V1 tag of that name (without a V2 form yet) is a local tag too
      if (await this.meta.getTag(ref, tag)) return null;
      return this.#flights.run(`tag\0${id}`, () => this.#fetch(ref, tag, null));
    }
    if ((await this.marks.state(ref, tag, local.digest)) !== 'stale') return local;
    return this.#flights.run(`check\0${id}`, () => this.#recheck(ref, tag, local));
  }

  async byDigest(ref: RepoRef, digest: string): Promise<ManifestRecord | null> {
    return this.#flights.run(`digest\0${fullName(ref)}\0${digest}`, () => this.#fetch(ref, digest, null));
  }

  async fetchReference(ref: RepoRef, digest: string, kind: 'blob' | 'manifest'): Promise<boolean> {
    if (kind === 'manifest') return (await this.byDigest(ref, digest)) !== null;
    return (await this.blobs.fetch(ref, digest, true)) === 'stored';
  }

  async tagChanged(ref: RepoRef, tag: string): Promise<void> {
    await this.marks.forget(ref, tag);
  }

  async tags(ref: RepoRef, local: readonly string[] | null): Promise<readonly string[] | null> {
    let remote: string[] | null;
    try {
      remote = await this.#upstreamTags(ref);
    } catch (e) {
      // nothing here to fall back on: the miss is the upstream's failure
      if (local === null || !isUpstreamFailure(e)) throw e;
      this.log('mirror: upstream tag list unavailable, listing local tags only', { repository: fullName(ref), reason: e.message });
      return local;
    }
    if (remote === null) return local;
    return [...new Set([...(local ?? []), ...remote])].sort();
  }

  /** The upstream's tag names (every page); null when it does not know the repository. */
  async #upstreamTags(ref: RepoRef): Promise<string[] | null> {
    const names: string[] = [];
    let reply = await askUpstream(this.upstream, ref, 'tags/list');
    if (reply.status === 404) {
      await reply.body?.cancel().catch(() => {});
      return null;
    }
    for (let page = 0; ; page++) {
      if (reply.status !== 200) {
        await reply.body?.cancel().catch(() => {});
        throw new RegistryError('UPSTREAM_BAD_RESPONSE', `${this.upstream.host} answered ${reply.status} for a tag list`);
      }
      const { value } = await this.upstream.json<{ tags?: unknown }>(reply);
      const tags = value?.tags ?? [];
      if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string')) {
        throw new RegistryError('UPSTREAM_BAD_RESPONSE', `${this.upstream.host} sent a tag list without a list of tags`);
      }
      names.push(...(tags as string[]).filter(isTagName));
      const next = nextLink(reply.headers.get('link'), this.upstream.base);
      if (next === null || page + 1 >= TAG_PAGES) return names;
      reply = await this.upstream.request(next);
    }
  }

  /**
   * A tag fetched from upstream is due a check: the held copy when upstream confirms it, cannot
   * answer or no longer has the tag; the new manifest when upstream's changed.
   */
  async #recheck(ref: RepoRef, tag: string, local: ManifestRecord): Promise<ManifestRecord> {
    try {
      const reply = await askUpstream(this.upstream, ref, `manifests/${tag}`, { method: 'HEAD', headers: { accept: ACCEPT } });
      await reply.body?.cancel().catch(() => {});
      if (reply.status === 404 || (reply.status === 200 && reply.headers.get('docker-content-digest') === local.digest)) {
        await this.marks.stamp(ref, tag, local.digest);
        return local;
      }
      if (reply.status !== 200) throw new RegistryError('UPSTREAM_BAD_RESPONSE', `${this.upstream.host} answered ${reply.status} for a manifest HEAD`);
      return (await this.#fetch(ref, tag, local.digest)) ?? local;
    } catch (e) {
      this.log('mirror: upstream re-check of a tag failed, serving the held copy', { repository: fullName(ref), tag, reason: (e as Error).message });
      this.marks.postpone(ref, tag, local.digest, Math.min(this.options.ttlMs, RETRY_MS));
      return local;
    }
  }

  /**
   * GETs a manifest upstream by tag or digest, checks it as a PUT would and stores it (a tag: with
   * the tag, unless it became local meanwhile). `held`: the digest the tag names here now (null:
   * none). Null on a 404.
   */
  async #fetch(ref: RepoRef, reference: string, held: string | null): Promise<ManifestRecord | null> {
    const reply = await askUpstream(this.upstream, ref, `manifests/${reference}`, { headers: { accept: ACCEPT } });
    if (reply.status === 404) {
      await reply.body?.cancel().catch(() => {});
      return null;
    }
    if (reply.status !== 200) {
      await reply.body?.cancel().catch(() => {});
      throw new RegistryError('UPSTREAM_BAD_RESPONSE', `${this.upstream.host} answered ${reply.status} for a manifest`);
    }
    const content = await this.upstream.bytes(reply, this.options.maxManifestSize);
    const { digest, manifest } = this.#check(reference, content, reply.headers);
    const tag = isDigest(reference) ? undefined : reference;
    if (tag === undefined) {
      await this.meta.putManifest(ref, manifestToStore(digest, content, manifest));
    } else {
      // a push here that took the tag meanwhile wins
      const now = await this.meta.getTaggedManifest(ref, tag);
      if ((now?.digest ?? null) !== held) return now;
      // marked first, naming the digest the tag leaves too: a crash in between leaves a tag that
      // is fetched or checked again, never a fetched tag taken for a local one
      await this.marks.stamp(ref, tag, digest, held);
      await this.meta.putManifest(ref, manifestToStore(digest, content, manifest), tag);
      // best effort, as after a push: V1 sees the tag once its blobs are held here
      await this.bridge?.bridgeToV1(ref, tag, digest, manifest).catch(() => null);
    }
    const stored = await this.meta.getManifest(ref, digest);
    if (!stored) throw new RegistryError('V2_MANIFEST_UNKNOWN', 'deleted while it was fetched');
    return stored;
  }

  /** The digest of upstream's bytes and the parsed manifest; UPSTREAM_BAD_RESPONSE unless they are what was asked for. */
  #check(reference: string, content: Uint8Array, headers: Headers): { digest: string; manifest: ParsedManifest } {
    const named = isDigest(reference) ? reference : headers.get('docker-content-digest');
    const expected = named !== null && isDigest(named) ? named : null;
    const digest = digestOf(content, expected ? digestAlgorithm(expected) : 'sha256');
    if (expected !== null && digest !== expected) {
      throw new RegistryError('UPSTREAM_BAD_RESPONSE', `${this.upstream.host} sent a manifest whose digest is ${digest}, not ${expected}`);
    }
    try {
      return { digest, manifest: parseManifest(content, headers.get('content-type')) };
    } catch (e) {
      if (!(e instanceof RegistryError)) throw e;
      throw new RegistryError('UPSTREAM_BAD_RESPONSE', `${this.upstream.host} sent a manifest this registry does not accept (${e.message})`);
    }
  }
}

/** The path of a `Link: <…>; rel="next"` header on the upstream; null when none (or elsewhere). */
function nextLink(header: string | null, base: string): string | null {
  const m = header ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(header) : null;
  if (!m) return null;
  const url = new URL(m[1]!, base);
  return url.origin === new URL(base).origin ? url.pathname + url.search : null;
}
