/**
 * The PostgreSQL store's own SQL: hot reads prepared once (Bun keeps a named server-side
 * statement per connection), search's substring match, byte-order sorting, and the index-image
 * test done in JavaScript.
 */
import { and, eq, sql, type Column, type SQL } from 'drizzle-orm';
import type { ImageCacheKind } from '../meta.ts';
import { blobFields, containsPattern, linkedBlob, manifestFields, manifestIn, taggedManifest, v1Tag, type SearchMatch } from '../rules.ts';
import type { PgDb } from './client.ts';
import * as schema from './schema.ts';
import { blobs, images, manifests, repositories, tags, users } from './schema.ts';

/**
 * The SQLite store's exact test, `json_each(index_images)` holding an object whose `id` is this
 * string. Done here rather than with jsonb: the text is stored as the client sent it, and
 * PostgreSQL's jsonb refuses some JSON that JavaScript accepted (`\u0000`, lone surrogates).
 */
export function listsImage(text: string, id: string): boolean {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return false;
  }
  const items = Array.isArray(doc) ? doc : doc !== null && typeof doc === 'object' ? Object.values(doc) : [];
  return items.some((item) => item !== null && typeof item === 'object' && (item as { id?: unknown }).id === id);
}

/** Byte order, as SQLite compares text, independent of the database's collation. */
export const byteOrder = (column: SQL | Column) => sql`${column} COLLATE "C"`;

/**
 * Substring match, case-insensitive: `lower(column) ILIKE` is what the pg_trgm GIN indexes of
 * drizzle/pg/0001_trigram_indexes.sql serve (for terms of 3+ characters; shorter ones scan).
 */
export function match(q: string): SearchMatch {
  const pattern = containsPattern(q);
  const ilike = (column: Column) => sql`lower(${column}) ILIKE ${pattern} ESCAPE '\\'`;
  return { any: sql`(${ilike(repositories.fullName)} OR ${ilike(repositories.description)})`, inName: ilike(repositories.fullName) };
}

export function prepareQueries(db: PgDb) {
  const p = sql.placeholder;
  // V1 reads only tags with an image (rules.v1Tag), so its id is never null there
  const tagFields = { name: tags.name, imageId: sql<string>`${tags.imageId}`, metadata: tags.metadata };
  const cache = (kind: ImageCacheKind) =>
    db.select({ v: images[kind] }).from(images).where(eq(images.id, p('id'))).prepare(`image_${kind}`);
  return {
    image: db.select().from(images).where(eq(images.id, p('id'))).prepare('image'),
    files: cache('files'),
    diff: cache('diff'),
    layer: cache('layer'),
    repo: db.select().from(repositories).where(eq(repositories.fullName, p('fullName'))).prepare('repo'),
    /** one row per tag, or a single all-null row for a repository without tags, or none if no repository */
    tags: db
      .select({ repoId: repositories.id, ...tagFields })
      .from(repositories)
      .leftJoin(tags, and(eq(tags.repositoryId, repositories.id), v1Tag(tags)))
      .where(eq(repositories.fullName, p('fullName')))
      .orderBy(byteOrder(tags.name))
      .prepare('tags'),
    tag: db
      .select(tagFields)
      .from(tags)
      .innerJoin(repositories, eq(tags.repositoryId, repositories.id))
      .where(and(eq(repositories.fullName, p('fullName')), eq(tags.name, p('tag')), v1Tag(tags)))
      .prepare('tag'),
    blob: db.select(blobFields(blobs)).from(blobs).where(eq(blobs.digest, p('digest'))).prepare('blob'),
    linkedBlob: db.select(blobFields(blobs)).from(blobs).where(linkedBlob(schema, p('fullName'), p('digest'))).prepare('linked_blob'),
    manifest: db.select(manifestFields(manifests)).from(manifests).where(manifestIn(schema, p('fullName'), p('digest'))).prepare('manifest'),
    taggedManifest: db.select(manifestFields(manifests)).from(manifests).where(taggedManifest(schema, p('fullName'), p('tag'))).prepare('tagged_manifest'),
    user: db.select().from(users).where(eq(users.username, p('username'))).prepare('user'),
    /** candidates for repositoriesListingImage: the id appears in the text (trigram-indexed) */
    listing: db
      .select()
      .from(repositories)
      .where(sql`${repositories.indexImages} LIKE ${p('pattern')} ESCAPE '\\'`)
      .orderBy(byteOrder(repositories.fullName))
      .prepare('listing'),
  };
}
