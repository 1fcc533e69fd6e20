/**
 * Repository rules: tags (E13–E16, E18), repository json (E17), properties (E11–E12),
 * deletion (E19) and the standalone index's image lists (E23–E25).
 */
import type { RepoRef, RepositoryStore, TagRecord, TagStore } from '../db/meta.ts';
import { RegistryError } from '../errors.ts';
import type { IndexImage } from '../routes/v1/index.model.ts';
import { mergeIndexImages, parseIndexImages } from './index-images.ts';
import { requireTagName } from './names.ts';
import { DEFAULT_REPOSITORY_JSON, tagMetadata } from './tag-metadata.ts';

/**
 * The pull-through mirror's say on the reads it covers (services/mirror-v1-repos.ts), given what
 * is here: what to answer instead (see each method).
 */
export interface RepositoryMirror {
  /** E13: the tag list to answer; null: no such repository */
  tags(ref: RepoRef, local: TagRecord[] | null): Promise<TagRecord[] | null>;
  /** E14: the tag to answer; null: not found */
  tag(ref: RepoRef, name: string, local: TagRecord | null): Promise<TagRecord | null>;
  /** E17: the upstream's repository json (text), or null to answer the local one */
  repositoryJson(ref: RepoRef, latest: TagRecord | null): Promise<string | null>;
  /** E24: the image list (raw JSON text) to answer; null: none */
  indexImages(ref: RepoRef, local: string | null): Promise<string | null>;
}

export class RepositoryService {
  /** tag maps built from tag lists the store handed out frozen (unchanged since: see SqliteMetaStore) */
  readonly #tagMaps = new WeakMap<readonly TagRecord[], Readonly<Record<string, string>>>();

  constructor(
    private readonly meta: RepositoryStore & TagStore,
    private readonly imageExists: (id: string) => Promise<boolean>,
    /** mirroring.source: the pull-through mirror (null: none) */
    private readonly mirror: RepositoryMirror | null = null,
  ) {}

  /** E13: `{tag: imageId}`; 404 when the repository does not exist. */
  async tags(ref: RepoRef): Promise<Readonly<Record<string, string>>> {
    let list = await this.meta.listTags(ref);
    if (this.mirror) list = await this.mirror.tags(ref, list);
    if (!list) throw new RegistryError('REPOSITORY_NOT_FOUND');
    const known = this.#tagMaps.get(list);
    if (known) return known;
    const out: Record<string, string> = {};
    for (const t of list) out[t.name] = t.imageId;
    if (!Object.isFrozen(list)) return out;
    // a frozen list never changes, so neither does its map (frozen too: v1Json writes it once)
    const frozen = Object.freeze(out);
    this.#tagMaps.set(list, frozen);
    return frozen;
  }

  /** E14 */
  async tag(ref: RepoRef, tag: string): Promise<string> {
    let t = await this.meta.getTag(ref, tag);
    if (this.mirror) t = await this.mirror.tag(ref, tag, t);
    if (!t) throw new RegistryError('TAG_NOT_FOUND');
    return t.imageId;
  }

  /**
   * E15, checks in the original's order: the tag name, then the body (a decoded JSON document,
   * or undefined when the body was not JSON), which must be a non-empty string naming an image.
   */
  async putTag(ref: RepoRef, tag: string, body: unknown, userAgent: string): Promise<void> {
    requireTagName(tag);
    if (typeof body !== 'string' || body === '') throw new RegistryError('INVALID_DATA');
    if (!(await this.imageExists(body))) throw new RegistryError('IMAGE_NOT_FOUND');
    // verified in the store's transaction too: garbage collection may have swept the image since
    const tagged = await this.meta.putTag(ref, { name: tag, imageId: body, metadata: JSON.stringify(tagMetadata(userAgent)) }, { verify: true });
    if (!tagged) throw new RegistryError('IMAGE_NOT_FOUND');
  }

  /** E16 */
  async deleteTag(ref: RepoRef, tag: string): Promise<void> {
    if (!(await this.meta.deleteTag(ref, tag))) throw new RegistryError('TAG_NOT_FOUND', tag);
  }

  /** E18: the tag's metadata, or the default object. */
  async tagJson(ref: RepoRef, tag: string): Promise<unknown> {
    const t = await this.meta.getTag(ref, tag);
    return t ? (JSON.parse(t.metadata) as unknown) : DEFAULT_REPOSITORY_JSON;
  }

  /** E17: the `latest` tag's metadata, or the default object. */
  async repositoryJson(ref: RepoRef): Promise<unknown> {
    if (this.mirror) {
      const mirrored = await this.mirror.repositoryJson(ref, await this.meta.getTag(ref, 'latest'));
      if (mirrored !== null) return JSON.parse(mirrored) as unknown;
    }
    return this.tagJson(ref, 'latest');
  }

  /** E19 */
  async deleteRepository(ref: RepoRef): Promise<void> {
    if (!(await this.meta.deleteRepository(ref))) throw new RegistryError('REPOSITORY_NOT_FOUND');
  }

  /** E11: `{"access": "private" | "public"}`; other values change nothing. */
  async setProperties(ref: RepoRef, body: unknown): Promise<void> {
    if (typeof body !== 'object' || body === null || Array.isArray(body) || Object.keys(body).length === 0) {
      throw new RegistryError('INVALID_DATA');
    }
    const access = (body as Record<string, unknown>).access;
    if (access === undefined) throw new RegistryError('INVALID_DATA');
    if (access === 'private') await this.meta.setPrivate(ref, true);
    else if (access === 'public') {
      if (await this.meta.getRepository(ref)) await this.meta.setPrivate(ref, false);
    }
  }

  /** E12 */
  async properties(ref: RepoRef): Promise<{ access: 'private' | 'public' }> {
    const repo = await this.meta.getRepository(ref);
    return { access: repo?.private ? 'private' : 'public' };
  }

  /** E23: stores the first list as sent, merges later ones. */
  async putIndexImages(ref: RepoRef, rawText: string, data: unknown): Promise<{ created: boolean }> {
    const incoming = parseIndexImages(data);
    return this.meta.updateIndexImages(ref, (current) =>
      current === null ? rawText : JSON.stringify(mergeIndexImages(JSON.parse(current) as IndexImage[], incoming)),
    );
  }

  /** E24: the stored list as raw JSON text. */
  async indexImages(ref: RepoRef): Promise<string> {
    const repo = await this.meta.getRepository(ref);
    const list = this.mirror ? await this.mirror.indexImages(ref, repo?.indexImages ?? null) : (repo?.indexImages ?? null);
    if (list === null) throw new RegistryError('INDEX_IMAGES_NOT_FOUND');
    return list;
  }
}
