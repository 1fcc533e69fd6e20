/**
 * How both metadata stores (SQLite, PostgreSQL) lay records out in their tables, both ways: a
 * repository is keyed by its `namespace/name`, an image's ancestry and checksums are JSON text,
 * times are epoch milliseconds. Records in, column values out, and rows in, records out; pure.
 * Column names are the TypeScript keys both schemas (sqlite/schema.ts, pg/schema.ts) share.
 */
import type { ImageRecord, ImageState, NewImage, NewUser, RepoRef, RepositoryRecord, StoredLayer, TagRecord, UserChanges } from './meta.ts';
import type { NewBlob, NewManifest } from './meta.ts';

/** The `full_name` column of a repository. */
export const fullName = (ref: RepoRef): string => `${ref.namespace}/${ref.name}`;

/**
 * An image (re)set by PUT json: the new json, `uploading`, no layer size, checksums or caches.
 * `layerKey` stays, so the next recorded layer hands the superseded upload back for deletion.
 */
export function resetImageValues(image: NewImage, now: number) {
  return {
    parent: image.parent,
    // a Buffer is the Uint8Array both dialects bind (SQLite's blob column is typed Buffer)
    json: Buffer.from(image.json),
    ancestry: JSON.stringify(image.ancestry),
    state: 'uploading' as const,
    layerSize: null,
    checksums: null,
    files: null,
    diff: null,
    layer: null,
    updatedAt: now,
  };
}

/** A recorded layer: its key, size and checksums; caches computed over an older layer go. */
export function layerValues(layer: StoredLayer, now: number) {
  return {
    layerKey: layer.key,
    layerSize: layer.size,
    checksums: JSON.stringify(layer.checksums),
    files: null,
    diff: null,
    layer: null,
    updatedAt: now,
  };
}

export const readyValues = (now: number) => ({ state: 'ready' as const, updatedAt: now });

/** A complete image recorded in one step (putReadyImage): its json, its layer, ready. */
export function readyImageValues(image: NewImage, layer: StoredLayer, now: number) {
  return { id: image.id, createdAt: now, ...resetImageValues(image, now), ...layerValues(layer, now), ...readyValues(now) };
}

export function newRepositoryValues(ref: RepoRef, now: number) {
  return { namespace: ref.namespace, name: ref.name, fullName: fullName(ref), createdAt: now, updatedAt: now };
}

/** What a PUT tag (V1) writes over an existing tag of that name: the image, and no V2 manifest. */
/** A tag bridged between V1 and V2: it names both its V1 image and its V2 manifest. */
export const bridgedTagValues = (imageId: string, manifestDigest: string, now: number) => ({ imageId, manifestDigest, updatedAt: now });

export const tagValues = (tag: TagRecord, now: number) => ({
  imageId: tag.imageId,
  manifestDigest: null,
  metadata: tag.metadata,
  updatedAt: now,
});

/** What a V2 manifest PUT by tag writes over that tag: the manifest, and no V1 image (nor its metadata). */
export const manifestTagValues = (digest: string, now: number) => ({
  imageId: null,
  manifestDigest: digest,
  metadata: '{}',
  updatedAt: now,
});

export const newBlobValues = (blob: NewBlob, now: number) => ({ digest: blob.digest, size: blob.size, key: blob.key, createdAt: now });

export const blobLinkValues = (repositoryId: number, digest: string, now: number) => ({ repositoryId, digest, createdAt: now });

export function newUploadValues(id: string, ref: RepoRef, now: number) {
  return { id, repository: fullName(ref), offset: 0, chunks: 0, digest: null, chunkNames: '', createdAt: now, updatedAt: now };
}

/**
 * A session that was at `expected` after one more chunk of `size` bytes (`digest`: of all its
 * bytes, or null; `chunkNames`: the names of its chunk objects since, or undefined: unchanged).
 */
export function appendedUploadValues(expected: { offset: number; chunks: number }, size: number, digest: string | null, now: number, chunkNames?: string) {
  return { offset: expected.offset + size, chunks: expected.chunks + 1, digest, updatedAt: now, ...(chunkNames !== undefined && { chunkNames }) };
}

export function newManifestValues(repositoryId: number, manifest: NewManifest, now: number) {
  return {
    repositoryId,
    digest: manifest.digest,
    mediaType: manifest.mediaType,
    content: Buffer.from(manifest.content),
    subject: manifest.subject,
    artifactType: manifest.artifactType,
    createdAt: now,
  };
}

/** The manifest's reference rows, one per child digest (the first kind named wins). */
export function manifestReferenceValues(repositoryId: number, manifest: NewManifest) {
  const byDigest = new Map<string, 'blob' | 'manifest'>();
  for (const r of manifest.references) if (!byDigest.has(r.digest)) byDigest.set(r.digest, r.kind);
  return [...byDigest].map(([childDigest, kind]) => ({ repositoryId, manifestDigest: manifest.digest, childDigest, kind }));
}

export function newUserValues(user: NewUser, now: number) {
  return {
    username: user.username,
    passwordHash: user.passwordHash,
    email: user.email,
    admin: user.admin ?? false,
    createdAt: now,
  };
}

/** The columns `changes` sets, or null when it sets none (then the call only checks the user exists). */
export function userChanges(changes: UserChanges): UserChanges | null {
  const set: UserChanges = {};
  if (changes.email !== undefined) set.email = changes.email;
  if (changes.passwordHash !== undefined) set.passwordHash = changes.passwordHash;
  return Object.keys(set).length === 0 ? null : set;
}

/** An images row as either store reads it. */
export interface ImageRow {
  id: string;
  parent: string | null;
  json: Uint8Array;
  ancestry: string;
  state: ImageState;
  layerSize: number | null;
  layerKey: string | null;
  checksums: string | null;
  createdAt: number;
  updatedAt: number;
}

/** `json`: the row's bytes as the record should hold them (a store may pass a copy). */
export function imageRecord(row: ImageRow, json: Uint8Array = row.json): ImageRecord {
  return {
    id: row.id,
    parent: row.parent,
    json,
    ancestry: JSON.parse(row.ancestry) as string[],
    state: row.state,
    layerSize: row.layerSize,
    layerKey: row.layerKey,
    checksums: row.checksums ? (JSON.parse(row.checksums) as string[]) : [],
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** A repositories row as either store reads it. */
export type RepositoryRow = RepositoryRecord & Record<string, unknown>;

export function repositoryRecord(row: RepositoryRow): RepositoryRecord {
  return {
    id: row.id,
    namespace: row.namespace,
    name: row.name,
    description: row.description,
    private: row.private,
    indexImages: row.indexImages,
  };
}
