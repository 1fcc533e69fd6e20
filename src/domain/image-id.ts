/**
 * What a V1 image id is (v1-api.md §2): the rule every layer applies to ids, from route
 * validation and the OpenAPI document to the storage keys. Pure.
 */

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
