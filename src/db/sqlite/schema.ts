/**
 * SQLite schema (drizzle-kit reads this file through drizzle.config.ts to generate `drizzle/`).
 * ../pg/schema.ts repeats its tables and columns name for name, so the shared row rules
 * (../records.ts, ../rules.ts) address both by the same keys. Search's `repositories_fts` table
 * and its triggers come from the custom migration drizzle/0001_search_fts.sql (drizzle-kit cannot
 * declare FTS5 tables).
 */
import { blob, foreignKey, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/** One row per image id. `state` replaces V1's `_inprogress` marker file. */
export const images = sqliteTable(
  'images',
  {
    id: text('id').primaryKey(),
    parent: text('parent'),
    /** the image json exactly as PUT, never re-serialized */
    json: blob('json', { mode: 'buffer' }).notNull(),
    /** JSON array: self first, root last; immutable once the image is ready */
    ancestry: text('ancestry').notNull(),
    /** 'uploading' until PUT checksum matches, then 'ready' */
    state: text('state', { enum: ['uploading', 'ready'] }).notNull(),
    /** layer size in bytes, null until the layer is stored */
    layerSize: integer('layer_size'),
    /** storage key of the upload that holds this image's layer (see src/storage/paths.ts) */
    layerKey: text('layer_key'),
    /** JSON array of `sha256:<hex>` payload checksums computed at PUT layer */
    checksums: text('checksums'),
    /** cached E9 listing (JSON), filled on demand */
    files: text('files'),
    /** cached E10 diff (JSON), filled on demand */
    diff: text('diff'),
    /** cached V2 view of the layer (JSON: blob digest, diff_id, size, compression; null for an empty layer), filled on demand (services/bridge.ts) */
    layer: text('layer'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    /** when a push last relied on the image existing (GET json, PUT tag): garbage collection spares it a grace period after; null: never */
    usedAt: integer('used_at'),
  },
  (t) => [index('images_parent_idx').on(t.parent), index('images_layer_key_idx').on(t.layerKey)],
);

export const repositories = sqliteTable(
  'repositories',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    namespace: text('namespace').notNull(),
    name: text('name').notNull(),
    /** `namespace/name`, what search matches on */
    fullName: text('full_name').notNull(),
    description: text('description').notNull().default(''),
    private: integer('private', { mode: 'boolean' }).notNull().default(false),
    /** JSON array of {id[, checksum]} pushed through the index routes, null before any */
    indexImages: text('index_images'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [uniqueIndex('repositories_full_name_idx').on(t.fullName)],
);

export const tags = sqliteTable(
  'tags',
  {
    repositoryId: integer('repository_id')
      .notNull()
      .references(() => repositories.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    /** the V1 image the tag points at; null for a tag only a V2 push set */
    imageId: text('image_id'),
    /** the V2 manifest the tag points at (a digest in `manifests` of this repository), if any */
    manifestDigest: text('manifest_digest'),
    /** tag metadata JSON built from the pushing client's User-Agent (§5); '{}' for a V2 tag */
    metadata: text('metadata').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.repositoryId, t.name] }), index('tags_image_idx').on(t.imageId)],
);

/** V2 blobs: one row per digest, shared by every repository that links it. */
export const blobs = sqliteTable(
  'blobs',
  {
    digest: text('digest').primaryKey(),
    size: integer('size').notNull(),
    /** storage key of the bytes (see src/storage/paths.ts) */
    key: text('key').notNull(),
    createdAt: integer('created_at').notNull(),
    /** when a push last relied on the blob existing (HEAD, GET, mount, a PUT of known bytes): garbage collection spares it a grace period after; null: never */
    usedAt: integer('used_at'),
  },
  (t) => [index('blobs_key_idx').on(t.key)],
);

/** Which repositories a blob is linked into (pushed, mounted or bridged there). */
export const repositoryBlobs = sqliteTable(
  'repository_blobs',
  {
    repositoryId: integer('repository_id')
      .notNull()
      .references(() => repositories.id, { onDelete: 'cascade' }),
    digest: text('digest')
      .notNull()
      .references(() => blobs.digest),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.repositoryId, t.digest] }), index('repository_blobs_digest_idx').on(t.digest)],
);

/** V2 manifests of a repository, keyed by digest. */
export const manifests = sqliteTable(
  'manifests',
  {
    repositoryId: integer('repository_id')
      .notNull()
      .references(() => repositories.id, { onDelete: 'cascade' }),
    digest: text('digest').notNull(),
    mediaType: text('media_type').notNull(),
    /** the manifest exactly as PUT, never re-serialized */
    content: blob('content', { mode: 'buffer' }).notNull(),
    /** the `subject` descriptor's digest (referrers API) */
    subject: text('subject'),
    artifactType: text('artifact_type'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.repositoryId, t.digest] }), index('manifests_subject_idx').on(t.repositoryId, t.subject)],
);

/** What a manifest points at (blobs, child manifests), for PUT checks and garbage collection. */
export const manifestReferences = sqliteTable(
  'manifest_references',
  {
    repositoryId: integer('repository_id').notNull(),
    manifestDigest: text('manifest_digest').notNull(),
    childDigest: text('child_digest').notNull(),
    kind: text('kind', { enum: ['blob', 'manifest'] }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.repositoryId, t.manifestDigest, t.childDigest] }),
    foreignKey({ columns: [t.repositoryId, t.manifestDigest], foreignColumns: [manifests.repositoryId, manifests.digest] }).onDelete('cascade'),
    index('manifest_references_child_idx').on(t.childDigest),
  ],
);

/** V2 upload sessions: where each stands (its bytes are chunks in storage). */
export const uploadSessions = sqliteTable(
  'upload_sessions',
  {
    id: text('id').primaryKey(),
    /** the repository's full name (no foreign key: a session may outlive its repository) */
    repository: text('repository').notNull(),
    offset: integer('offset').notNull(),
    chunks: integer('chunks').notNull(),
    /** sha256 of the bytes received so far, when the process that received them all could say (null: read them back) */
    digest: text('digest'),
    /**
     * names of the session's chunk objects under `uploads/<id>/`, in order, space-separated, where
     * each PATCH writes an object of its own (S3); '' where one object is continued (disk), and in
     * rows from before (their chunks are `0`, `1`, …)
     */
    chunkNames: text('chunk_names').notNull().default(''),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('upload_sessions_updated_idx').on(t.updatedAt)],
);

/** Accounts (auth: token). `password_hash` is a PHC string from Bun.password (argon2id). */
export const users = sqliteTable('users', {
  username: text('username').primaryKey(),
  passwordHash: text('password_hash').notNull(),
  email: text('email').notNull(),
  admin: integer('admin', { mode: 'boolean' }).notNull().default(false),
  createdAt: integer('created_at').notNull(),
});

/**
 * Named leases with an expiry, held by one process at a time across every node sharing the
 * database (garbage collection's: one collector at a time).
 */
export const leases = sqliteTable('leases', {
  name: text('name').primaryKey(),
  /** who holds it (host, pid and a random part) */
  holder: text('holder').notNull(),
  /** epoch ms after which anyone may take it */
  expiresAt: integer('expires_at').notNull(),
});
