/**
 * The V1 pull-through mirror, repositories: tags (E13, E14), repository json (E17) and the
 * index's image list (E24). Consulted by RepositoryService on every read of these routes, it
 * decides between the local copy and the upstream:
 *
 * - What the mirror fetched is stored as ordinary tags and image lists (so V1 pulls, search, the
 *   V2 bridge and GC see them), and beside them, in storage (storage/paths.ts mirrorRecordKey),
 *   a record of what the upstream said and when: the tag list (which tags came from upstream),
 *   the time of the last image-list fetch, the repository json.
 * - A repository missing here, or one whose record is older than mirroring.tags_cache_ttl, is
 *   fetched again; a fresh record is served without asking. A tag missing here is looked up
 *   upstream unless the record is fresh (then it is a plain 404).
 * - Local content wins: a tag pushed here (or moved by a push since the mirror set it) is never
 *   replaced nor deleted by a refresh; a repository pushed here (no record) is never refreshed.
 *   A refresh adds the upstream's new tags, moves the mirrored ones that moved upstream and
 *   deletes the mirrored ones the upstream no longer has.
 * - While the upstream fails (502/503/504), a stale copy is served as it is (and the failure
 *   logged); a miss answers the failure.
 */
import type { RepoRef, RepositoryStore, TagRecord, TagStore } from '../db/meta.ts';
import { RegistryError } from '../errors.ts';
import { PathNotFoundError, type StorageDriver } from '../storage/driver.ts';
import { mirrorRecordKey, type MirrorRecordKind } from '../storage/paths.ts';
import { SingleFlight } from './fetch-through.ts';
import { mergeIndexImages, type IndexImageEntry } from './index-images.ts';
import type { V1Upstream } from './mirror-v1-upstream.ts';
import { DEFAULT_REPOSITORY_JSON } from './tag-metadata.ts';

/** What the mirror recorded about a repository (one JSON document per kind). */
interface MirrorRecord {
  fetchedAt: number;
  /** kind `tags`: the upstream's tag list as last fetched */
  tags?: Record<string, string>;
  /** kind `json`: the upstream's repository json (null: it had none) */
  json?: string | null;
}

export type MirrorLog = (message: string, fields: Record<string, unknown>) => void;

/** A mirrored tag's metadata (E18): the default object, as for any tag without metadata. */
const MIRRORED_TAG_METADATA = JSON.stringify(DEFAULT_REPOSITORY_JSON);
/** how long a record read from storage is reused in this process (refreshes in other processes show up after it) */
const RECORD_CACHE_MS = 30_000;
const RECORD_CACHE_ENTRIES = 4096;

const fullName = (ref: RepoRef) => `${ref.namespace}/${ref.name}`;
const isUpstreamFailure = (e: unknown): e is RegistryError => e instanceof RegistryError && e.code.startsWith('UPSTREAM_');

export class MirrorV1Repositories {
  readonly #tagSyncs = new SingleFlight<boolean>();
  readonly #fetches = new SingleFlight<string | null | IndexImageEntry[]>();
  readonly #records = new Map<string, { value: MirrorRecord | null; until: number }>();

  constructor(
    private readonly upstream: V1Upstream,
    private readonly meta: RepositoryStore & TagStore,
    private readonly storage: StorageDriver,
    private readonly options: { ttlMs: number; log: MirrorLog },
  ) {}

  /** E13: the tags to answer (null: no such repository, here or upstream). */
  async tags(ref: RepoRef, local: TagRecord[] | null): Promise<TagRecord[] | null> {
    const record = await this.#record('tags', ref);
    if (local !== null) {
      if (this.#fresh(record)) return local;
      // a repository of this registry's own (the mirror never fetched its tags nor its image list)
      if (record === null && (await this.#record('images', ref)) === null) return local;
    }
    if (!(await this.#syncOr(ref, record !== null && local !== null))) return local;
    return this.meta.listTags(ref);
  }

  /** E14: the tag to answer (null: not found). */
  async tag(ref: RepoRef, name: string, local: TagRecord | null): Promise<TagRecord | null> {
    const record = await this.#record('tags', ref);
    if (local) {
      // pushed here, or mirrored and fresh
      if (record?.tags?.[name] !== local.imageId || this.#fresh(record)) return local;
      return (await this.#syncOr(ref, true)) ? this.meta.getTag(ref, name) : local;
    }
    if (this.#fresh(record)) return null;
    await this.#sync(ref);
    return this.meta.getTag(ref, name);
  }

  /** E17: the upstream's repository json as text, or null to answer the local one. */
  async repositoryJson(ref: RepoRef, latest: TagRecord | null): Promise<string | null> {
    // a `latest` pushed here has its own metadata
    if (latest && (await this.#record('tags', ref))?.tags?.latest !== latest.imageId) return null;
    const record = await this.#record('json', ref);
    if (record && this.#fresh(record)) return record.json ?? null;
    try {
      const json = (await this.#fetches.run(`json\0${fullName(ref)}`, () => this.upstream.repositoryJson(ref))) as string | null;
      await this.#save('json', ref, { fetchedAt: Date.now(), json });
      return json;
    } catch (e) {
      if (!isUpstreamFailure(e) || (!record && !latest)) throw e;
      this.#stale(ref, 'repository json', e);
      return record?.json ?? null;
    }
  }

  /** E24: the image list to answer as raw JSON text (null: none, here or upstream). */
  async indexImages(ref: RepoRef, local: string | null): Promise<string | null> {
    const record = await this.#record('images', ref);
    // a list pushed here, or one fetched lately
    if (local !== null && (record === null || this.#fresh(record))) return local;
    let list: IndexImageEntry[] | null;
    try {
      list = (await this.#fetches.run(`images\0${fullName(ref)}`, () => this.upstream.indexImages(ref))) as IndexImageEntry[] | null;
    } catch (e) {
      if (!isUpstreamFailure(e) || local === null) throw e;
      this.#stale(ref, 'image list', e);
      return local;
    }
    if (list === null) return local;
    const fetched = list;
    await this.meta.updateIndexImages(ref, (current) => {
      const kept = current === null ? [] : (JSON.parse(current) as IndexImageEntry[]);
      return JSON.stringify(mergeIndexImages(kept, fetched));
    });
    await this.#save('images', ref, { fetchedAt: Date.now() });
    return (await this.meta.getRepository(ref))?.indexImages ?? null;
  }

  #fresh(record: MirrorRecord | null): boolean {
    return record !== null && Date.now() - record.fetchedAt < this.options.ttlMs;
  }

  #stale(ref: RepoRef, what: string, e: RegistryError): void {
    this.options.log('mirror upstream failed, serving the cached copy', { repository: fullName(ref), what, error: e.message });
  }

  /** Refreshes the tags; on an upstream failure with `keep`, logs it and returns false (serve what is here). */
  async #syncOr(ref: RepoRef, keep: boolean): Promise<boolean> {
    try {
      await this.#sync(ref);
      return true;
    } catch (e) {
      if (!keep || !isUpstreamFailure(e)) throw e;
      this.#stale(ref, 'tags', e);
      return false;
    }
  }

  /** Fetches the upstream's tags and merges them here (see the file comment); false when the upstream does not know the repository. */
  #sync(ref: RepoRef): Promise<boolean> {
    return this.#tagSyncs.run(fullName(ref), async () => {
      const upstream = await this.upstream.tags(ref);
      // read past the cache: which tags are the mirror's decides what a refresh may change
      const before = (await this.#record('tags', ref, true))?.tags ?? {};
      const local = new Map(((await this.meta.listTags(ref)) ?? []).map((t) => [t.name, t.imageId]));
      const now = upstream ?? new Map<string, string>();
      for (const [name, id] of now) {
        const current = local.get(name);
        if (current === id || (current !== undefined && current !== before[name])) continue;
        await this.meta.putTag(ref, { name, imageId: id, metadata: MIRRORED_TAG_METADATA });
      }
      for (const [name, id] of Object.entries(before)) {
        if (!now.has(name) && local.get(name) === id) await this.meta.deleteTag(ref, name);
      }
      if (upstream || Object.keys(before).length > 0) await this.#save('tags', ref, { fetchedAt: Date.now(), tags: Object.fromEntries(now) });
      return upstream !== null;
    });
  }

  /**
   * The record of `kind` about `ref`, null when there is none. Reused for a short while; a read
   * that fails counts as none unless `exact` (then it is a 503).
   */
  async #record(kind: MirrorRecordKind, ref: RepoRef, exact = false): Promise<MirrorRecord | null> {
    const key = mirrorRecordKey(kind, fullName(ref));
    const cached = this.#records.get(key);
    if (!exact && cached && cached.until > Date.now()) return cached.value;
    let value: MirrorRecord | null;
    try {
      const parsed = JSON.parse(new TextDecoder().decode(await this.storage.getContent(key))) as MirrorRecord;
      value = typeof parsed?.fetchedAt === 'number' ? parsed : null;
    } catch (e) {
      if (!(e instanceof PathNotFoundError) && !(e instanceof SyntaxError)) {
        if (exact) throw new RegistryError('STORAGE_FAILURE');
        return null;
      }
      value = null;
    }
    this.#remember(key, value);
    return value;
  }

  async #save(kind: MirrorRecordKind, ref: RepoRef, record: MirrorRecord): Promise<void> {
    const key = mirrorRecordKey(kind, fullName(ref));
    await this.storage.putContent(key, JSON.stringify(record)).catch(() => {
      throw new RegistryError('STORAGE_FAILURE');
    });
    this.#remember(key, record);
  }

  #remember(key: string, value: MirrorRecord | null): void {
    if (this.#records.size >= RECORD_CACHE_ENTRIES) this.#records.clear();
    this.#records.set(key, { value, until: Date.now() + RECORD_CACHE_MS });
  }
}
