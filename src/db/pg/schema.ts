/**
 * PostgreSQL schema (drizzle-kit reads this file through drizzle.pg.config.ts to generate
 * `drizzle/pg/`). Tables and columns repeat ../sqlite/schema.ts name for name, so both dialects
 * hold the same data:
 * - the image json is `bytea`: the bytes exactly as PUT (a `text` column would refuse NUL and
 *   invalid UTF-8, and nothing may re-encode them);
 * - times are epoch milliseconds in `bigint` columns read as JS numbers, like SQLite's integers;
 * - JSON documents (ancestry, checksums, caches, index images, tag metadata) stay `text`: the
 *   registry hands them back verbatim, and drizzle's bun-sql driver double-encodes `jsonb`
 *   (drizzle-orm#4942).
 * Search's trigram indexes and the `pg_trgm` extension come from the custom migration
 * drizzle/pg/0001_trigram_indexes.sql (drizzle-kit cannot create extensions).
 */
import { bigint, boolean, customType, foreignKey, index, integer, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';

/** `bytea` in and out as `Uint8Array` (Bun's client binds and returns Buffers, which are Uint8Arrays). */
const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType: () => 'bytea',
  toDriver: (value) => value,
  fromDriver: (value) => new Uint8Array(value.buffer, value.byteOffset, value.byteLength),
});

const epochMs = (name: string) => bigint(name, { mode: 'number' });

/** One row per image id. `state` replaces V1's `_inprogress` marker file. */
export const images = pgTable(
  'images',
  {
    id: text('id').primaryKey(),
    parent: text('parent'),
    /** the image json exactly as PUT, never re-serialized */
    json: bytea('json').notNull(),
    /** JSON array: self first, root last; immutable once the image is ready */
    ancestry: text('ancestry').notNull(),
    /** 'uploading' until PUT checksum matches, then 'ready' */
    state: text('state', { enum: ['uploading', 'ready'] }).notNull(),
    /** layer size in bytes, null until the layer is stored */
    layerSize: bigint('layer_size', { mode: 'number' }),
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
    createdAt: epochMs('created_at').notNull(),
    updatedAt: epochMs('updated_at').notNull(),
    /** when a push last relied on the image existing (GET json, PUT tag): garbage collection spares it a grace period after; null: never */
    usedAt: epochMs('used_at'),
  },
  (t) => [index('images_parent_idx').on(t.parent), index('images_layer_key_idx').on(t.layerKey)],
);

export const repositories = pgTable(
  'repositories',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    namespace: text('namespace').notNull(),
    name: text('name').notNull(),
    /** `namespace/name`, what search matches on */
    fullName: text('full_name').notNull(),
    description: text('description').notNull().default(''),
    private: boolean('private').notNull().default(false),
    /** JSON array of {id[, checksum]} pushed through the index routes, null before any */
    indexImages: text('index_images'),
    createdAt: epochMs('created_at').notNull(),
    updatedAt: epochMs('updated_at').notNull(),
  },
  (t) => [uniqueIndex('repositories_full_name_idx').on(t.fullName)],
);

export const tags = pgTable(
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
    updatedAt: epochMs('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.repositoryId, t.name] }), index('tags_image_idx').on(t.imageId)],
);

/** V2 blobs: one row per digest, shared by every repository that links it. */
export const blobs = pgTable(
  'blobs',
  {
    digest: text('digest').primaryKey(),
    size: bigint('size', { mode: 'number' }).notNull(),
    /** storage key of the bytes (see src/storage/paths.ts) */
    key: text('key').notNull(),
    createdAt: epochMs('created_at').notNull(),
    /** when a push last relied on the blob existing (HEAD, GET, mount, a PUT of known bytes): garbage collection spares it a grace period after; null: never */
    usedAt: epochMs('used_at'),
  },
  (t) => [index('blobs_key_idx').on(t.key)],
);

/** Which repositories a blob is linked into (pushed, mounted or bridged there). */
export const repositoryBlobs = pgTable(
  'repository_blobs',
  {
    repositoryId: integer('repository_id')
      .notNull()
      .references(() => repositories.id, { onDelete: 'cascade' }),
    digest: text('digest')
      .notNull()
      .references(() => blobs.digest),
    createdAt: epochMs('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.repositoryId, t.digest] }), index('repository_blobs_digest_idx').on(t.digest)],
);

/** V2 manifests of a repository, keyed by digest. */
export const manifests = pgTable(
  'manifests',
  {
    repositoryId: integer('repository_id')
      .notNull()
      .references(() => repositories.id, { onDelete: 'cascade' }),
    digest: text('digest').notNull(),
    mediaType: text('media_type').notNull(),
    /** the manifest exactly as PUT, never re-serialized */
    content: bytea('content').notNull(),
    /** the `subject` descriptor's digest (referrers API) */
    subject: text('subject'),
    artifactType: text('artifact_type'),
    createdAt: epochMs('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.repositoryId, t.digest] }), index('manifests_subject_idx').on(t.repositoryId, t.subject)],
);

/** What a manifest points at (blobs, child manifests), for PUT checks and garbage collection. */
export const manifestReferences = pgTable(
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
export const uploadSessions = pgTable(
  'upload_sessions',
  {
    id: text('id').primaryKey(),
    /** the repository's full name (no foreign key: a session may outlive its repository) */
    repository: text('repository').notNull(),
    offset: bigint('offset', { mode: 'number' }).notNull(),
    chunks: integer('chunks').notNull(),
    /** sha256 of the bytes received so far, when the process that received them all could say (null: read them back) */
    digest: text('digest'),
    /**
     * names of the session's chunk objects under `uploads/<id>/`, in order, space-separated, where
     * each PATCH writes an object of its own (S3); '' where one object is continued (disk), and in
     * rows from before (their chunks are `0`, `1`, …)
     */
    chunkNames: text('chunk_names').notNull().default(''),
    createdAt: epochMs('created_at').notNull(),
    updatedAt: epochMs('updated_at').notNull(),
  },
  (t) => [index('upload_sessions_updated_idx').on(t.updatedAt)],
);

/** Accounts (auth: token). `password_hash` is a PHC string from Bun.password (argon2id). */
export const users = pgTable('users', {
  username: text('username').primaryKey(),
  passwordHash: text('password_hash').notNull(),
  email: text('email').notNull(),
  admin: boolean('admin').notNull().default(false),
  createdAt: epochMs('created_at').notNull(),
});

/**
 * Named leases with an expiry, held by one process at a time across every node sharing the
 * database (garbage collection's: one collector at a time).
 */
export const leases = pgTable('leases', {
  name: text('name').primaryKey(),
  /** who holds it (host, pid and a random part) */
  holder: text('holder').notNull(),
  /** epoch ms after which anyone may take it */
  expiresAt: epochMs('expires_at').notNull(),
});
