/**
 * SQLite schema (drizzle-kit reads this file through drizzle.config.ts to generate `drizzle/`).
 * ../pg/schema.ts repeats its tables and columns name for name, so the shared row rules
 * (../records.ts, ../rules.ts) address both by the same keys. Search's `repositories_fts` table
 * and its triggers come from the custom migration drizzle/0001_search_fts.sql (drizzle-kit cannot
 * declare FTS5 tables).
 */
import { blob, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

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
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('images_parent_idx').on(t.parent)],
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
    imageId: text('image_id').notNull(),
    /** tag metadata JSON built from the pushing client's User-Agent (§5) */
    metadata: text('metadata').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.repositoryId, t.name] }), index('tags_image_idx').on(t.imageId)],
);

/** Accounts (auth: token). `password_hash` is a PHC string from Bun.password (argon2id). */
export const users = sqliteTable('users', {
  username: text('username').primaryKey(),
  passwordHash: text('password_hash').notNull(),
  email: text('email').notNull(),
  admin: integer('admin', { mode: 'boolean' }).notNull().default(false),
  createdAt: integer('created_at').notNull(),
});
