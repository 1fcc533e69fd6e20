/**
 * The row rules of garbage collection and of the writes that race it, written once for both
 * stores (as ./rules.ts): when a row counts as unused since a cut-off, when it may be deleted,
 * what a touch changes, what a verified write must find, and how a lease is taken. Conditions are
 * functions of table-shaped objects, so each store passes its own dialect's tables.
 */
import { and, eq, inArray, isNotNull, isNull, lt, lte, or, sql, type Column, type SQL, type Table } from 'drizzle-orm';
import type { CollectableBlob, CollectableImage, LeaseState, ManifestReference } from './meta.ts';

/**
 * Last used before `before`: the row's own time (`base`: an image's last update, a blob's
 * creation) and its last touch (`usedAt`, null when never touched) both earlier.
 */
export const lastUsedBefore = (base: Column, usedAt: Column, before: number): SQL | undefined =>
  and(lt(base, before), or(isNull(usedAt), lt(usedAt, before)));

interface ImageGcColumns {
  id: Column;
  parent: Column;
  updatedAt: Column;
  usedAt: Column;
  layerKey: Column;
}

interface TagImageColumns {
  imageId: Column;
}

/**
 * deleteImageIfUnused's condition: the image `id`, unused since `before`, no tag pointing at it,
 * no image naming it as parent (a kept child keeps its whole ancestry).
 */
export function unusedImage(images: Table & ImageGcColumns, tags: Table & TagImageColumns, id: string, before: number): SQL | undefined {
  return and(
    eq(images.id, id),
    lastUsedBefore(images.updatedAt, images.usedAt, before),
    sql`NOT EXISTS (SELECT 1 FROM ${tags} WHERE ${tags.imageId} = ${images.id})`,
    sql`NOT EXISTS (SELECT 1 FROM ${images} AS child WHERE child.parent = ${images.id})`,
  );
}

interface BlobGcColumns {
  digest: Column;
  key: Column;
  size: Column;
  createdAt: Column;
  usedAt: Column;
}

/** Whether a stored manifest references the blob (any repository, any kind). */
export const blobReferenced = (blobs: BlobGcColumns, references: Table & { childDigest: Column }): SQL<unknown> =>
  sql`EXISTS (SELECT 1 FROM ${references} WHERE ${references.childDigest} = ${blobs.digest})`;

/** deleteBlobIfUnused's condition: the blob `digest`, unused since `before`, referenced by no manifest. */
export const unusedBlob = (blobs: BlobGcColumns, references: Table & { childDigest: Column }, digest: string, before: number): SQL | undefined =>
  and(eq(blobs.digest, digest), lastUsedBefore(blobs.createdAt, blobs.usedAt, before), sql`NOT ${blobReferenced(blobs, references)}`);

/** The columns a CollectableImage is read from (its ancestry as the stored JSON text). */
export function collectableImageFields<T extends ImageGcColumns & { ancestry: Column; layerSize: Column }>(
  t: T,
): Pick<T, 'id' | 'parent' | 'ancestry' | 'layerKey' | 'layerSize' | 'updatedAt' | 'usedAt'> {
  return { id: t.id, parent: t.parent, ancestry: t.ancestry, layerKey: t.layerKey, layerSize: t.layerSize, updatedAt: t.updatedAt, usedAt: t.usedAt };
}

export function collectableImage(row: {
  id: string;
  parent: string | null;
  ancestry: string;
  layerKey: string | null;
  layerSize: number | null;
  updatedAt: number;
  usedAt: number | null;
}): CollectableImage {
  return {
    id: row.id,
    parent: row.parent,
    ancestry: JSON.parse(row.ancestry) as string[],
    layerKey: row.layerKey,
    layerSize: row.layerSize ?? 0,
    lastUsed: Math.max(row.updatedAt, row.usedAt ?? 0),
  };
}

export function collectableBlob(row: { digest: string; key: string; size: number; createdAt: number; usedAt: number | null; referenced: unknown }): CollectableBlob {
  // SQLite answers EXISTS with 0/1, PostgreSQL with a boolean
  return { digest: row.digest, key: row.key, size: row.size, lastUsed: Math.max(row.createdAt, row.usedAt ?? 0), referenced: Boolean(row.referenced) };
}

/** Whether a row last used at max(`base`, `usedAt`) is fresh enough that a touch can skip writing. */
export const usedSince = (row: { base: number; usedAt: number | null }, staleBefore: number): boolean => Math.max(row.base, row.usedAt ?? 0) >= staleBefore;

/** keysInUse: the keys among `keys` an image's layer or a blob names (both dialects, one statement). */
export function keysNamed(images: Table & { layerKey: Column }, blobs: Table & { key: Column }, keys: string[]): SQL {
  return sql`SELECT ${images.layerKey} AS k FROM ${images} WHERE ${inArray(images.layerKey, keys)} UNION SELECT ${blobs.key} AS k FROM ${blobs} WHERE ${inArray(blobs.key, keys)}`;
}

/** Parameters per IN list (SQLite allows 32 766 host parameters, PostgreSQL 65 535). */
const IN_LIST_SIZE = 500;

/** `items` in slices of at most `size`. */
export function slices<T>(items: readonly T[], size = IN_LIST_SIZE): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The ancestry of an image row as read for a verified tag (JSON text), or null when it is missing. */
export const parseAncestry = (row: { ancestry: string } | undefined): string[] | null => (row ? (JSON.parse(row.ancestry) as string[]) : null);

/**
 * What a verified putManifest misses: the first reference (in the manifest's order) that is not
 * among the blobs linked in the repository or the manifests stored there; null when none.
 */
export function missingReference(references: readonly ManifestReference[], linkedBlobs: Iterable<string>, storedManifests: Iterable<string>): string | null {
  const blobs = new Set(linkedBlobs);
  const manifests = new Set(storedManifests);
  for (const r of references) if (!(r.kind === 'blob' ? blobs : manifests).has(r.digest)) return r.digest;
  return null;
}

/** The digests a manifest references, split by kind (for the verified write's two lookups). */
export function referencesByKind(references: readonly ManifestReference[]): { blobs: string[]; manifests: string[] } {
  const blobs = new Set<string>();
  const manifests = new Set<string>();
  for (const r of references) (r.kind === 'blob' ? blobs : manifests).add(r.digest);
  return { blobs: [...blobs], manifests: [...manifests] };
}

interface LeaseColumns {
  name: Column;
  holder: Column;
  expiresAt: Column;
}

/**
 * acquireLease as one upsert: insert the lease, or take it over when it has expired or is the
 * caller's already (a renewal). The row the statement returns says the caller holds it.
 */
export function leaseUpsert<T extends LeaseColumns>(t: T, name: string, holder: string, ttlMs: number, now: number) {
  const set = { holder, expiresAt: now + ttlMs };
  return {
    values: { name, ...set },
    onConflict: { target: t.name as T['name'], set, setWhere: or(lte(t.expiresAt, now), eq(t.holder, holder)) },
  };
}

export const leaseState = (row: { holder: string; expiresAt: number }, holder: string): LeaseState => ({
  held: row.holder === holder,
  holder: row.holder,
  expiresAt: row.expiresAt,
});

/** taggedImageIds: tags that name a V1 image. */
export const taggedImage = (t: TagImageColumns): SQL => isNotNull(t.imageId);

/**
 * The images the tags matching `where` point at: what deleting or moving those tags releases,
 * touched so that a pull in flight keeps them for the grace period.
 */
export const namedByTags = (images: { id: Column }, tags: Table & TagImageColumns, where: SQL | undefined): SQL =>
  sql`${images.id} IN (SELECT ${tags.imageId} FROM ${tags} WHERE ${where})`;

/** The blobs the manifest references matching `where` name: what deleting those manifests releases, touched likewise. */
export const referencedBy = (blobs: { digest: Column }, references: Table & { childDigest: Column }, where: SQL | undefined): SQL =>
  sql`${blobs.digest} IN (SELECT ${references.childDigest} FROM ${references} WHERE ${where})`;
