/**
 * The E10 diff of a layer against its ancestors (v1-api.md §5). Pure: takes E9 listings.
 */
import type { FileEntry } from './files.ts';

/** A listing row without its path: `[type, deleted, size, mtime, mode, uid, gid]`. */
type Info = FileEntry extends [path: string, ...info: infer I] ? I : never;

export interface LayerDiff {
  deleted: Record<string, Info>;
  changed: Record<string, Info>;
  created: Record<string, Info>;
}

/**
 * Classifies every path of the top layer. `ancestors` are the listings of the parent, then the
 * grandparent, … (newest to oldest, top image excluded). A path marked deleted in the top layer is
 * `deleted`; otherwise the newest ancestor holding the path decides: present there → `changed`,
 * deleted there → `created`; no ancestor holding it → `created`. When a listing repeats a path its
 * last row wins (as the original's dict did). Keys keep the top listing's order.
 *
 * Differs from the original on one point: with no ancestors at all the original filed deleted
 * paths under `created` (its loop never ran); here they are `deleted`, as §5 describes.
 */
export function computeDiff(top: FileEntry[], ancestors: FileEntry[][]): LayerDiff {
  const diff: LayerDiff = { deleted: record(), changed: record(), created: record() };
  const ancestorMaps = ancestors.map(byPath);
  for (const [path, info] of byPath(top)) {
    let bucket: keyof LayerDiff = 'created';
    if (info[1]) {
      bucket = 'deleted';
    } else {
      for (const ancestor of ancestorMaps) {
        const seen = ancestor.get(path);
        if (seen === undefined) continue;
        bucket = seen[1] ? 'created' : 'changed';
        break;
      }
    }
    diff[bucket][path] = info;
  }
  return diff;
}

/** A prototype-less record, so no path can collide with `Object.prototype` keys. */
function record(): Record<string, Info> {
  return Object.create(null) as Record<string, Info>;
}

function byPath(listing: FileEntry[]): Map<string, Info> {
  const map = new Map<string, Info>();
  for (const [path, ...info] of listing) map.set(path, info);
  return map;
}
