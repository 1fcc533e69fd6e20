/**
 * The only builder of storage keys. Every key a driver ever sees comes from a function here, so
 * the layout is defined in one place:
 *
 * ```
 * <root>/
 * ├── images/
 * │   └── <image id>/          16 or 64 lowercase hex digits
 * │       └── layer            the layer tarball, written via temp + commit
 * └── .tmp/                    driver-private temp files (fs driver); never a valid key
 * ```
 *
 * Image metadata (json, ancestry, checksums), tags and repositories live in SQLite; layers are
 * the only objects kept in storage.
 */
import { InvalidKeyError } from './driver.ts';

/**
 * A V1 image id: 16 or 64 lowercase hex digits. JavaScript's `$` (without the `m` flag) matches
 * only at the very end of the input, so unlike Python's `$` it cannot match before a trailing
 * `\n`: `"<id>\n"` is rejected.
 */
export const IMAGE_ID_PATTERN = /^([a-f0-9]{16}|[a-f0-9]{64})$/;

/** True when `id` is a well-formed image id (see `IMAGE_ID_PATTERN`). */
export function isValidImageId(id: string): boolean {
  return typeof id === 'string' && IMAGE_ID_PATTERN.test(id);
}

/**
 * Key of an image's layer: `images/<id>/layer`.
 * @throws InvalidKeyError when `id` is not a valid image id (checked again here on purpose).
 */
export function layerKey(imageId: string): string {
  if (!isValidImageId(imageId)) throw new InvalidKeyError('paths', `images/${imageId}/layer`);
  return `images/${imageId}/layer`;
}
