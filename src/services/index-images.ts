/** The standalone index's image lists (E23, E24): their validation and how two are merged. Pure. */
import { RegistryError } from '../errors.ts';
import type { IndexImage } from '../routes/v1/index.model.ts';

export type IndexImageEntry = IndexImage;

/** Validates an index image list (E23): a JSON array of objects with a string `id`. */
export function parseIndexImages(data: unknown): IndexImage[] {
  if (!Array.isArray(data)) throw new RegistryError('INVALID_DATA');
  for (const item of data) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new RegistryError('INVALID_DATA');
    const o = item as Record<string, unknown>;
    if (typeof o.id !== 'string' || o.id === '') throw new RegistryError('INVALID_DATA');
    if (o.checksum !== undefined && o.checksum !== null && typeof o.checksum !== 'string') {
      throw new RegistryError('INVALID_DATA');
    }
  }
  return data as IndexImage[];
}

/** Merges by id keeping `id` and `checksum`; an entry with a checksum wins (E23). */
export function mergeIndexImages(current: IndexImage[], incoming: IndexImage[]): IndexImage[] {
  const merged = new Map<string, IndexImage>();
  for (const item of [...current, ...incoming]) {
    const prev = merged.get(item.id);
    const next: IndexImage = { id: item.id };
    if (typeof item.checksum === 'string' && item.checksum) next.checksum = item.checksum;
    if (!prev?.checksum || next.checksum) merged.set(item.id, next);
  }
  return [...merged.values()];
}
