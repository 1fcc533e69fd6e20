/**
 * The registry's row rules, written once for both stores: when a conditional write applies, what
 * it answers, and which repositories a search lists. Conditions are functions of a table-shaped
 * object, so each store passes its own dialect's table (sqlite/schema.ts, pg/schema.ts) and gets
 * drizzle SQL that both dialects render.
 */
import { and, desc, eq, inArray, isNotNull, ne, or, type Column, type SQL } from 'drizzle-orm';
import type { LayerOutcome, NewImage, PrivateVisibility, StoredLayer } from './meta.ts';
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
