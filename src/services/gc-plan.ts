/**
 * Garbage collection's mark, pure: from what the store holds (images, tags, blobs), what is
 * reachable, what may be deleted after the cut-off, and which storage keys go with it. No I/O;
 * services/gc.ts reads the inputs and sweeps the plan.
 *
 * Reachable:
 * - every image a tag names (a V1 tag, or a bridged one) and its whole ancestry;
 * - every blob a stored manifest references (every manifest is kept: they are removed only by an
 *   explicit DELETE, so untagged manifests pushed by digest, index children, referrers and the
 *   manifests derived from V1 tags stay, and so do their blobs).
 * Collectable: what is not reachable and was last used (updated, created, touched) before the
 * cut-off — and, for an image, has no child that stays (the store never deletes a parent whose
 * child exists, so neither does the plan). Storage keys are marked apart from rows: a key goes
 * only when no row that stays names it (a V1 layer may be a V2 blob's bytes, and the reverse).
 */
import type { CollectableBlob, CollectableImage } from '../db/meta.ts';

/** A storage object to delete and the bytes it frees. */
export interface KeyToFree {
  key: string;
  bytes: number;
}

export interface GcPlan {
  /** image ids to delete, children before their parents */
  images: string[];
  /** blob digests to delete */
  blobs: string[];
  /** the keys of those rows no remaining row names, with their sizes */
  keys: KeyToFree[];
  /** every key a row names (kept or not): the orphan sweep's "named" set */
  named: Set<string>;
  kept: { images: number; blobs: number };
}

/** Every image reachable from the tagged ones: their ancestry lists and parent links. */
function reachableImages(images: Map<string, CollectableImage>, tagged: Iterable<string>): Set<string> {
  const reached = new Set<string>();
  const queue = [...tagged];
  while (queue.length > 0) {
    const id = queue.pop()!;
    if (reached.has(id)) continue;
    reached.add(id);
    const image = images.get(id);
    if (!image) continue;
    for (const a of image.ancestry) if (!reached.has(a)) queue.push(a);
    if (image.parent !== null && !reached.has(image.parent)) queue.push(image.parent);
  }
  return reached;
}

export function planCollection(images: CollectableImage[], tagged: Iterable<string>, blobs: CollectableBlob[], cutoff: number): GcPlan {
  const byId = new Map(images.map((i) => [i.id, i]));
  const reached = reachableImages(byId, tagged);
  const children = new Map<string, string[]>();
  for (const i of images) {
    if (i.parent === null) continue;
    const list = children.get(i.parent);
    if (list) list.push(i.id);
    else children.set(i.parent, [i.id]);
  }

  // children first (a longer ancestry): when an image is decided, its children already are
  const ordered = [...images].sort((a, b) => b.ancestry.length - a.ancestry.length || (a.id < b.id ? -1 : 1));
  const collect = new Set<string>();
  for (const i of ordered) {
    const unused = !reached.has(i.id) && i.lastUsed < cutoff;
    if (unused && (children.get(i.id) ?? []).every((c) => collect.has(c))) collect.add(i.id);
  }
  const collectBlobs = blobs.filter((b) => !b.referenced && b.lastUsed < cutoff);
  const goneBlobs = new Set(collectBlobs.map((b) => b.digest));

  const named = new Set<string>();
  const keptKeys = new Set<string>();
  for (const i of images) {
    if (i.layerKey === null) continue;
    named.add(i.layerKey);
    if (!collect.has(i.id)) keptKeys.add(i.layerKey);
  }
  for (const b of blobs) {
    named.add(b.key);
    if (!goneBlobs.has(b.digest)) keptKeys.add(b.key);
  }
  const keys = new Map<string, number>();
  for (const i of ordered) if (collect.has(i.id) && i.layerKey !== null && !keptKeys.has(i.layerKey)) keys.set(i.layerKey, i.layerSize);
  for (const b of collectBlobs) if (!keptKeys.has(b.key)) keys.set(b.key, b.size);

  return {
    images: ordered.filter((i) => collect.has(i.id)).map((i) => i.id),
    blobs: collectBlobs.map((b) => b.digest),
    keys: [...keys].map(([key, bytes]) => ({ key, bytes })),
    named,
    kept: { images: images.length - collect.size, blobs: blobs.length - collectBlobs.length },
  };
}
