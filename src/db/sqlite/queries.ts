/** The SQLite store's own SQL: hot reads prepared once, and search's substring match. */
import { and, asc, eq, sql, type Column } from 'drizzle-orm';
import type { ImageCacheKind } from '../meta.ts';
import { blobFields, containsPattern, linkedBlob, manifestFields, manifestIn, taggedManifest, v1Tag, type SearchMatch } from '../rules.ts';
import type { Db } from './client.ts';
import * as schema from './schema.ts';
import { blobs, images, manifests, repositories, tags, users } from './schema.ts';

/** A query as one FTS5 string literal (no operators can be injected). */
const ftsPhrase = (s: string) => `"${s.replace(/"/g, '""')}"`;

/**
 * Substring match: trigram FTS5 (migration 0001_search_fts.sql) for 3+ characters; shorter
 * queries use LIKE (case-insensitive for ASCII), as trigrams need 3.
 */
export function match(q: string): SearchMatch {
  if ([...q].length >= 3) {
    return {
      any: sql`${repositories.id} IN (SELECT rowid FROM repositories_fts WHERE repositories_fts MATCH ${ftsPhrase(q)})`,
      inName: sql`instr(lower(${repositories.fullName}), lower(${q})) > 0`,
    };
  }
  const pattern = containsPattern(q);
  const like = (column: Column) => sql`${column} LIKE ${pattern} ESCAPE '\\'`;
  return { any: sql`(${like(repositories.fullName)} OR ${like(repositories.description)})`, inName: like(repositories.fullName) };
}

export function prepareQueries(db: Db) {
  const p = sql.placeholder;
  // V1 reads only tags with an image (rules.v1Tag), so its id is never null there
  const tagFields = { name: tags.name, imageId: sql<string>`${tags.imageId}`, metadata: tags.metadata };
  const cache = (kind: ImageCacheKind) => db.select({ v: images[kind] }).from(images).where(eq(images.id, p('id'))).prepare();
  return {
    image: db.select().from(images).where(eq(images.id, p('id'))).prepare(),
    files: cache('files'),
    diff: cache('diff'),
    layer: cache('layer'),
    repo: db.select().from(repositories).where(eq(repositories.fullName, p('fullName'))).prepare(),
    repoId: db.select({ id: repositories.id }).from(repositories).where(eq(repositories.fullName, p('fullName'))).prepare(),
    tags: db
      .select(tagFields)
      .from(tags)
      .where(and(eq(tags.repositoryId, p('repoId')), v1Tag(tags)))
      .orderBy(asc(tags.name))
      .prepare(),
    tag: db
      .select(tagFields)
      .from(tags)
      .innerJoin(repositories, eq(tags.repositoryId, repositories.id))
      .where(and(eq(repositories.fullName, p('fullName')), eq(tags.name, p('tag')), v1Tag(tags)))
      .prepare(),
    blob: db.select(blobFields(blobs)).from(blobs).where(eq(blobs.digest, p('digest'))).prepare(),
    linkedBlob: db.select(blobFields(blobs)).from(blobs).where(linkedBlob(schema, p('fullName'), p('digest'))).prepare(),
    manifest: db.select(manifestFields(manifests)).from(manifests).where(manifestIn(schema, p('fullName'), p('digest'))).prepare(),
    taggedManifest: db.select(manifestFields(manifests)).from(manifests).where(taggedManifest(schema, p('fullName'), p('tag'))).prepare(),
    user: db.select().from(users).where(eq(users.username, p('username'))).prepare(),
    /** `json_each(index_images)` holds an object whose `id` is this string (instr() first: cheap) */
    listingImage: db
      .select()
      .from(repositories)
      .where(
        sql`${repositories.indexImages} IS NOT NULL AND instr(${repositories.indexImages}, ${p('id')}) > 0
          AND json_valid(${repositories.indexImages})
          AND EXISTS (SELECT 1 FROM json_each(${repositories.indexImages}) j WHERE json_extract(j.value, '$.id') = ${p('id')})`,
      )
      .orderBy(asc(repositories.fullName))
      .prepare(),
  };
}
