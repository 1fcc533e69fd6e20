/**
 * How both metadata stores (SQLite, PostgreSQL) lay records out in their tables, both ways: a
 * repository is keyed by its `namespace/name`, an image's ancestry and checksums are JSON text,
 * times are epoch milliseconds. Records in, column values out, and rows in, records out; pure.
 * Column names are the TypeScript keys both schemas (sqlite/schema.ts, pg/schema.ts) share.
 */
import type { ImageRecord, ImageState, NewImage, NewUser, RepoRef, RepositoryRecord, StoredLayer, TagRecord, UserChanges } from './meta.ts';

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
    updatedAt: now,
  };
}

export const readyValues = (now: number) => ({ state: 'ready' as const, updatedAt: now });

export function newRepositoryValues(ref: RepoRef, now: number) {
  return { namespace: ref.namespace, name: ref.name, fullName: fullName(ref), createdAt: now, updatedAt: now };
}

/** What a PUT tag writes over an existing tag of that name. */
export const tagValues = (tag: TagRecord, now: number) => ({ imageId: tag.imageId, metadata: tag.metadata, updatedAt: now });

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
