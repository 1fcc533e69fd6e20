/**
 * V2 manifests, tags, referrers and the catalog (OCI Distribution §Pushing manifests, §Pulling
 * manifests, §Content discovery, §Content management): the rules, no HTTP. A manifest is stored
 * as PUT (its digest is of those bytes) once every blob and child manifest it needs is linked in
 * its repository; its subject and artifact type feed the referrers API.
 */
import type { BlobStore, ListOptions, ManifestRecord, ManifestStore, NewManifest, RepoRef, TagStore } from '../db/meta.ts';
import { digestAlgorithm, digestOf, isDigest } from '../domain/digest.ts';
import { OCI_INDEX, parseManifest, referrerDescriptor, requiredContent, type Descriptor, type ParsedManifest } from '../domain/manifest.ts';
import { RegistryError } from '../errors.ts';
import type { BridgeService } from './bridge.ts';
import { isTagName } from './names.ts';

type Reference = { tag: string } | { digest: string };

/** A `<reference>` path segment: a digest (it has a colon) or a tag; 400 when neither is well formed. */
function parseReference(reference: string): Reference {
  if (reference.includes(':')) {
    if (!isDigest(reference)) throw new RegistryError('V2_DIGEST_INVALID', 'unsupported or malformed digest');
    return { digest: reference };
  }
  if (!isTagName(reference)) throw new RegistryError('V2_TAG_INVALID', 'tags match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}');
  return { tag: reference };
}

/** A reference to look up (GET, HEAD, DELETE): a malformed digest is a 400, a malformed tag simply unknown (404). */
function lookupReference(reference: string): Reference {
  if (reference.includes(':')) return parseReference(reference);
  if (!isTagName(reference)) throw new RegistryError('V2_MANIFEST_UNKNOWN');
  return { tag: reference };
}

export interface StoredManifest {
  digest: string;
  /** the subject's digest when the manifest has one (sent back as `OCI-Subject`) */
  subject: string | null;
}

export interface ReferrersIndex {
  /** the OCI image index listing the referrers, as bytes */
  body: string;
  /** whether an artifactType filter was applied (`OCI-Filters-Applied: artifactType`) */
  filtered: boolean;
}

type Store = ManifestStore & Pick<BlobStore, 'getLinkedBlob'> & Pick<TagStore, 'deleteTag'>;

/**
 * The pull-through mirror's side of manifests and tags (services/mirror-v2.ts); ManifestService
 * asks it only what the store cannot answer alone.
 */
export interface ManifestMirror {
  /**
   * A tag's manifest: `local` (the one held here) as it is, unless it came from upstream and is
   * due a check there; fetched from upstream when there is none here; null when neither has it.
   */
  tagged(ref: RepoRef, tag: string, local: ManifestRecord | null): Promise<ManifestRecord | null>;
  /** A manifest not held here, fetched from upstream; null when upstream has none. */
  byDigest(ref: RepoRef, digest: string): Promise<ManifestRecord | null>;
  /** Every tag name: `local` merged with upstream's, or `local` alone when upstream cannot answer; null when neither knows the repository. */
  tags(ref: RepoRef, local: readonly string[] | null): Promise<readonly string[] | null>;
  /** Content a pushed manifest needs that is not here: fetched from upstream; false when upstream has none. */
  fetchReference(ref: RepoRef, digest: string, kind: 'blob' | 'manifest'): Promise<boolean>;
  /** A tag pushed or deleted here: a local tag from now on, never replaced from upstream. */
  tagChanged(ref: RepoRef, tag: string): Promise<void>;
}

/** What the store keeps of a validated manifest: its bytes, type, subject and references. */
export function manifestToStore(digest: string, content: Uint8Array, manifest: ParsedManifest): NewManifest {
  const needed = requiredContent(manifest);
  return {
    digest,
    mediaType: manifest.mediaType,
    content,
    subject: manifest.subject?.digest ?? null,
    artifactType: manifest.artifactType,
    references: [
      ...needed.blobs.map((d) => ({ digest: d, kind: 'blob' as const })),
      ...needed.manifests.map((d) => ({ digest: d, kind: 'manifest' as const })),
    ],
  };
}

/** One page of a sorted list of names: those after `last`, at most `n`. */
function pageOfList(names: readonly string[], options: ListOptions): string[] {
  const after = options.last === undefined ? names : names.filter((t) => t > options.last!);
  return after.slice(0, options.n);
}

export class ManifestService {
  constructor(
    private readonly meta: Store,
    private readonly options: { maxManifestSize: number },
    /** the V1 ⇄ V2 bridge (null: V2 sees only what V2 pushed) */
    private readonly bridge: BridgeService | null = null,
    /** the pull-through mirror (null: only what is held here) */
    private readonly mirror: ManifestMirror | null = null,
  ) {}

  /** By tag or digest; MANIFEST_UNKNOWN when absent (a name that cannot be a tag names nothing). */
  async get(ref: RepoRef, reference: string): Promise<ManifestRecord> {
    const parsed = lookupReference(reference);
    let found: ManifestRecord | null;
    if ('tag' in parsed) {
      found = await this.#tagged(ref, parsed.tag);
      if (this.mirror) found = await this.mirror.tagged(ref, parsed.tag, found);
    } else {
      found = await this.meta.getManifest(ref, parsed.digest);
      if (!found && this.mirror) found = await this.mirror.byDigest(ref, parsed.digest);
    }
    if (!found) throw new RegistryError('V2_MANIFEST_UNKNOWN');
    return found;
  }

  /** A tag's manifest: the one V2 pushed, else the one derived from the V1 image it names. */
  async #tagged(ref: RepoRef, tag: string): Promise<ManifestRecord | null> {
    return (await this.meta.getTaggedManifest(ref, tag)) ?? (await this.bridge?.manifestOfV1Tag(ref, tag)) ?? null;
  }

  /** PUT by tag or digest: validates, checks what it needs exists, stores, tags. */
  async put(ref: RepoRef, reference: string, content: Uint8Array, contentType: string | null): Promise<StoredManifest> {
    const target = parseReference(reference);
    if (content.byteLength > this.options.maxManifestSize) throw new RegistryError('V2_MANIFEST_TOO_LARGE', `limit is ${this.options.maxManifestSize} bytes`);
    const manifest = parseManifest(content, contentType);
    const digest = digestOf(content, 'digest' in target ? digestAlgorithm(target.digest) : 'sha256');
    if ('digest' in target && target.digest !== digest) throw new RegistryError('V2_DIGEST_INVALID', `the manifest's digest is ${digest}`);
    const needed = requiredContent(manifest);
    // with a mirror, what a client skipped because the mirror's HEAD found it upstream is fetched now
    for (const blob of needed.blobs) {
      if (!(await this.meta.getLinkedBlob(ref, blob)) && !(await this.mirror?.fetchReference(ref, blob, 'blob'))) {
        throw new RegistryError('V2_MANIFEST_BLOB_UNKNOWN', blob);
      }
    }
    for (const child of needed.manifests) {
      if (!(await this.meta.getManifest(ref, child)) && !(await this.mirror?.fetchReference(ref, child, 'manifest'))) {
        throw new RegistryError('V2_MANIFEST_BLOB_UNKNOWN', child);
      }
    }
    // verified in the store's transaction too: garbage collection may have swept a blob since
    const missing = await this.meta.putManifest(ref, manifestToStore(digest, content, manifest), 'tag' in target ? target.tag : undefined, { verify: true });
    if (missing !== null) throw new RegistryError('V2_MANIFEST_BLOB_UNKNOWN', missing);
    if ('tag' in target) await this.mirror?.tagChanged(ref, target.tag);
    // best effort: the push has succeeded; an image V1 cannot read just stays V2-only
    if ('tag' in target) await this.bridge?.bridgeToV1(ref, target.tag, digest, manifest).catch(() => null);
    return { digest, subject: manifest.subject?.digest ?? null };
  }

  /** DELETE by tag removes the tag; by digest the manifest and every tag pointing at it. */
  async delete(ref: RepoRef, reference: string): Promise<void> {
    const target = lookupReference(reference);
    const deleted = 'tag' in target ? await this.meta.deleteTag(ref, target.tag) : await this.meta.deleteManifest(ref, target.digest);
    if (!deleted) throw new RegistryError('V2_MANIFEST_UNKNOWN');
    if ('tag' in target) await this.mirror?.tagChanged(ref, target.tag);
  }

  /** The referrers of `digest` in `ref` as an OCI index, optionally only those of one artifact type. */
  async referrers(ref: RepoRef, digest: string, artifactType: string | null): Promise<ReferrersIndex> {
    if (!isDigest(digest)) throw new RegistryError('V2_DIGEST_INVALID', 'unsupported or malformed digest');
    const manifests: Descriptor[] = [];
    for (const m of await this.meta.listReferrers(ref, digest)) {
      if (artifactType && m.artifactType !== artifactType) continue;
      manifests.push(referrerDescriptor(parseManifest(m.content, m.mediaType), m.digest, m.content.byteLength));
    }
    return { body: JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }), filtered: Boolean(artifactType) };
  }

  /** Tag names, paged; NAME_UNKNOWN when the repository does not exist. */
  async tags(ref: RepoRef, options: ListOptions): Promise<string[]> {
    if (this.mirror) {
      // merged with upstream's, the whole list is paged here
      const all = await this.mirror.tags(ref, await this.meta.listTagNames(ref));
      if (!all) throw new RegistryError('V2_NAME_UNKNOWN');
      return pageOfList(all, options);
    }
    const tags = await this.meta.listTagNames(ref, options);
    if (!tags) throw new RegistryError('V2_NAME_UNKNOWN');
    return tags;
  }

  async catalog(options: ListOptions): Promise<string[]> {
    return this.meta.listRepositories(options);
  }
}
