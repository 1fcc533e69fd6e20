/**
 * The registry's row rules, written once for both stores: when a conditional write applies, what
 * it answers, which repositories a search lists, which tags each protocol sees, how listings page,
 * and how the V2 reads find their rows. Conditions are functions of a table-shaped object (or of
 * the whole schema module), so each store passes its own dialect's tables (sqlite/schema.ts,
 * pg/schema.ts) and gets drizzle SQL that both dialects render.
 */
import { and, asc, desc, eq, inArray, isNotNull, isNull, lt, ne, or, sql, type Column, type SQL, type Table } from 'drizzle-orm';
import type { LayerOutcome, ListOptions, NewImage, PrivateVisibility, StoredLayer } from './meta.ts';
import { resetImageValues } from './records.ts';

interface ImageColumns {
  id: Column;
  state: Column;
  layerKey: Column;
  layerSize: Column;
}

interface RepositoryColumns {
  fullName: Column;
  namespace: Column;
  private: Column;
}

/**
 * putImageIfUploading as one upsert: insert the image, or reset a row that is not ready. On
 * PostgreSQL the conflict locks the row and the WHERE sees its latest version, so a concurrent
 * markReady either wins or waits; SQLite runs it in its one writer's transaction.
 */
export function putImageUpsert<T extends ImageColumns>(t: T, image: NewImage, now: number) {
  const reset = resetImageValues(image, now);
  return {
    values: { id: image.id, createdAt: now, ...reset },
    onConflict: { target: t.id as T['id'], set: reset, setWhere: ne(t.state, 'ready') },
  };
}

/** The image row setLayerIfUploading reads (and locks, where the dialect can) before deciding. */
export interface LayerCheckRow {
  state: string;
  layerKey: string | null;
  json: Uint8Array;
}

const NOT_RECORDED: LayerOutcome = { recorded: false, replacedKey: null };

/**
 * Whether `layer` is recorded over the image as read (`current`; undefined: no such image): only
 * while it is uploading and, when the layer says which json it was hashed with, still has exactly
 * that json. A recorded layer hands back the upload it replaces, unless it is the same key.
 */
export function layerOutcome(current: LayerCheckRow | undefined, layer: StoredLayer): LayerOutcome {
  if (current?.state !== 'uploading') return NOT_RECORDED;
  if (layer.json && !sameBytes(current.json, layer.json)) return NOT_RECORDED;
  return { recorded: true, replacedKey: current.layerKey === layer.key ? null : current.layerKey };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;
}

/** markReady's condition: uploading, and (when given) `layerKey` is still the recorded layer. */
export function completes(t: ImageColumns, id: string, layerKey?: string): SQL | undefined {
  const verified = layerKey === undefined ? [] : [eq(t.layerKey, layerKey), isNotNull(t.layerSize)];
  return and(eq(t.id, id), eq(t.state, 'uploading'), ...verified);
}

/** The images whose files/diff caches may be written: ready ones (an upload resets them). */
export const readyImage = (t: ImageColumns, id: string): SQL | undefined => and(eq(t.id, id), eq(t.state, 'ready'));

/** Hides private repositories outside `visible`; undefined (no condition) for 'all'. */
function visibility(t: RepositoryColumns, visible: PrivateVisibility): SQL | undefined {
  if (visible === 'all') return undefined;
  const isPublic = eq(t.private, false);
  return visible.namespaces.length === 0 ? isPublic : or(isPublic, inArray(t.namespace, visible.namespaces));
}

/** How a dialect matches a trimmed, non-empty query: any match, and a match in the name. */
export interface SearchMatch {
  any: SQL;
  inName: SQL;
}

/**
 * The one search ranking: an empty query lists every visible repository by name; otherwise the
 * dialect's substring match, name matches first, then by name (`byName` orders in byte order).
 */
export function searchQuery(
  t: RepositoryColumns,
  query: string,
  visible: PrivateVisibility,
  match: (q: string) => SearchMatch,
  byName: SQL,
): { where: SQL | undefined; orderBy: SQL[] } {
  const q = query.trim();
  const vis = visibility(t, visible);
  if (q === '') return { where: vis, orderBy: [byName] };
  const m = match(q);
  return { where: and(m.any, vis), orderBy: [desc(m.inName), byName] };
}

/** A LIKE/ILIKE pattern for `ESCAPE '\'` matching `q` anywhere, its wildcards literal. */
export const containsPattern = (q: string): string => `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

// ---- V2 ------------------------------------------------------------------------------------

interface TagColumns {
  repositoryId: Column;
  name: Column;
  imageId: Column;
  manifestDigest: Column;
}

/** The tags V1 sees: those pointing at a V1 image (a V2-only tag has none). */
export const v1Tag = (t: TagColumns): SQL => isNotNull(t.imageId);

/** The tags a tag listing names: pointing at a V1 image or at a V2 manifest. */
export const anyTag = (t: TagColumns): SQL | undefined => or(isNotNull(t.imageId), isNotNull(t.manifestDigest));

/** The tags of a repository that point at this manifest (deleteManifest deletes them with it). */
export const tagsOfManifest = (t: TagColumns, repositoryId: number, digest: string): SQL | undefined =>
  and(eq(t.repositoryId, repositoryId), eq(t.manifestDigest, digest));

/**
 * One page of a name listing in byte order: names after `last` (exclusive), at most `n` (all when
 * undefined). `ordered` is the dialect's byte-order expression of the name column (SQLite's
 * default BINARY collation; PostgreSQL's `COLLATE "C"`), used both to compare and to sort.
 */
export function namePage(ordered: SQL | Column, options: ListOptions = {}): { where: SQL | undefined; orderBy: SQL; limit: number } {
  // drizzle renders no LIMIT clause for a negative limit (SQLite would read -1 as "no limit" too)
  return { where: options.last === undefined ? undefined : sql`${ordered} > ${options.last}`, orderBy: asc(ordered), limit: options.n ?? -1 };
}

interface UploadColumns {
  id: Column;
  offset: Column;
  chunks: Column;
  updatedAt: Column;
}

/** appendUpload's condition: the session still stands where the caller saw it. */
export const uploadAt = (t: UploadColumns, id: string, expected: { offset: number; chunks: number }): SQL | undefined =>
  and(eq(t.id, id), eq(t.offset, expected.offset), eq(t.chunks, expected.chunks));

/** deleteUpload's condition: the session, and (given `idleBefore`) only while last touched before it. */
export const uploadToEnd = (t: UploadColumns, id: string, idleBefore?: number): SQL | undefined =>
  idleBefore === undefined ? eq(t.id, id) : and(eq(t.id, id), lt(t.updatedAt, idleBefore));

/** staleUploads: last touched before `before`, oldest first (then by id, so pages are stable). */
export function staleUploadQuery(t: UploadColumns, before: number): { where: SQL; orderBy: SQL[] } {
  return { where: lt(t.updatedAt, before), orderBy: [asc(t.updatedAt), asc(t.id)] };
}

interface ManifestColumns {
  repositoryId: Column;
  digest: Column;
  mediaType: Column;
  content: Column;
  subject: Column;
  artifactType: Column;
  createdAt: Column;
}

/** The tables the V2 reads join, as either schema module (sqlite/schema.ts, pg/schema.ts) exports them. */
interface V2Tables {
  repositories: Table & { id: Column; fullName: Column };
  tags: Table & TagColumns;
  manifests: Table & ManifestColumns;
  blobs: Table & { digest: Column };
  repositoryBlobs: Table & { repositoryId: Column; digest: Column };
}

/** The columns a BlobRecord is read from (not its last-used time, which only garbage collection reads). */
export function blobFields<B extends { digest: Column; size: Column; key: Column; createdAt: Column }>(b: B): Pick<B, 'digest' | 'size' | 'key' | 'createdAt'> {
  return { digest: b.digest, size: b.size, key: b.key, createdAt: b.createdAt };
}

/** The columns a ManifestRecord is read from. */
export function manifestFields<M extends ManifestColumns>(m: M): Pick<M, 'digest' | 'mediaType' | 'content' | 'subject' | 'artifactType' | 'createdAt'> {
  return { digest: m.digest, mediaType: m.mediaType, content: m.content, subject: m.subject, artifactType: m.artifactType, createdAt: m.createdAt };
}

/**
 * Rows of `t` in the repository named `name` (a full name, or a placeholder in a prepared read):
 * the repository's id looked up by its unique name.
 */
export const inRepository = (s: V2Tables, t: { repositoryId: Column }, name: unknown): SQL =>
  sql`${t.repositoryId} = (SELECT ${s.repositories.id} FROM ${s.repositories} WHERE ${s.repositories.fullName} = ${name})`;

/** getLinkedBlob: the blob `digest`, when the repository named `name` links it. */
export const linkedBlob = (s: V2Tables, name: unknown, digest: unknown): SQL | undefined =>
  and(
    eq(s.blobs.digest, digest),
    sql`EXISTS (SELECT 1 FROM ${s.repositoryBlobs} WHERE ${inRepository(s, s.repositoryBlobs, name)} AND ${s.repositoryBlobs.digest} = ${s.blobs.digest})`,
  );

/** getManifest: the manifest `digest` of the repository named `name`. */
export const manifestIn = (s: V2Tables, name: unknown, digest: unknown): SQL | undefined =>
  and(inRepository(s, s.manifests, name), eq(s.manifests.digest, digest));

/** getTaggedManifest: the manifest the tag `tag` of the repository named `name` points at. */
export const taggedManifest = (s: V2Tables, name: unknown, tag: unknown): SQL | undefined => {
  const { manifests: m, tags: t } = s;
  // not correlated with the outer row, so the manifest is found by its primary key
  const pointedAt = sql`(SELECT ${t.manifestDigest} FROM ${t} WHERE ${inRepository(s, t, name)} AND ${t.name} = ${tag})`;
  return and(inRepository(s, m, name), eq(m.digest, pointedAt));
};

/**
 * bridgeTag's condition: the tag `tag` of the repository named `name` still names exactly one
 * side of the bridge (its V1 image and no manifest, or its manifest and no V1 image).
 */
export const bridgeable = (s: V2Tables, name: string, tag: string, imageId: string, manifestDigest: string): SQL | undefined => {
  const t = s.tags;
  return and(
    inRepository(s, t, name),
    eq(t.name, tag),
    or(and(eq(t.imageId, imageId), isNull(t.manifestDigest)), and(eq(t.manifestDigest, manifestDigest), isNull(t.imageId))),
  );
};

/** listReferrers: the manifests of the repository named `name` whose subject is `subject`. */
export const referrersOf = (s: V2Tables, name: string, subject: string): SQL | undefined =>
  and(inRepository(s, s.manifests, name), eq(s.manifests.subject, subject));
