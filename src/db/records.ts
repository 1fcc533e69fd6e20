/**
 * How both metadata stores (SQLite, PostgreSQL) lay records out in their tables: a repository is
 * keyed by its `namespace/name`, an image's ancestry and checksums are JSON text, and LIKE
 * patterns escape their wildcards with `\`. Rows in, records out; pure.
 */
import type { ImageRecord, ImageState, RepoRef, RepositoryRecord } from './meta.ts';

/** The `full_name` column of a repository. */
export const fullName = (ref: RepoRef): string => `${ref.namespace}/${ref.name}`;

/** Escapes LIKE/ILIKE wildcards for `ESCAPE '\'`. */
export const likeEscape = (s: string): string => s.replace(/[\\%_]/g, (c) => `\\${c}`);

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
