/** Validation of the names clients send (v1-api.md §2). Pure. */
import { RegistryError } from '../errors.ts';
import type { RepoRef } from '../db/meta.ts';
import { isValidImageId } from '../domain/image-id.ts';

/** ASCII \w as in the original's tag rule; PUT only. */
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Throws 404 `Invalid image ID` unless `id` is 16 or 64 lower-case hex characters. */
export function requireImageId(id: string): string {
  if (!isValidImageId(id)) throw new RegistryError('INVALID_IMAGE_ID');
  return id;
}

/** A tag name as V1 and the OCI spec both define it (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`). */
export const isTagName = (tag: string): boolean => TAG.test(tag);

export function requireTagName(tag: string): string {
  if (!TAG.test(tag)) throw new RegistryError('INVALID_TAG');
  return tag;
}

function nameOk(part: string): boolean {
  return part.length > 0 && part.length <= 255 && !part.includes('/') && !CONTROL.test(part);
}

/**
 * The original accepted any non-empty text (its own test pushes `abcde%$_-test`); names never
 * reach storage here, so we keep that, refusing only what cannot be a name: empty parts,
 * slashes inside a part, control characters and overlong parts.
 */
export function repoRef(namespace: string, name: string): RepoRef {
  if (!nameOk(namespace) || !nameOk(name)) throw new RegistryError('INVALID_REPOSITORY_NAME');
  return { namespace, name };
}

/**
 * A repository name as the original wrote it in tokens: each part percent-encoded like Python's
 * `quote_plus` (letters, digits and `_.-` kept, space as `+`), so any name fits in a header.
 */
export function encodedRepoName(ref: RepoRef): string {
  return `${quotePlus(ref.namespace)}/${quotePlus(ref.name)}`;
}

const quotePlus = (s: string) =>
  encodeURIComponent(s)
    .replace(/[!'()*~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');

/** The OCI Distribution repository name grammar (path components joined by `/`). */
const OCI_NAME = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;

/**
 * A V2 repository name as a RepoRef: the first component is the namespace, the rest the name
 * (`a/b/c` → `a` + `b/c`); a one-part name means `library/<name>`, as in V1, so both protocols
 * address one repository. NAME_INVALID for anything outside the spec's grammar or over 255
 * characters.
 */
export function v2RepoRef(name: string): RepoRef {
  if (name.length > 255 || !OCI_NAME.test(name)) throw new RegistryError('V2_NAME_INVALID');
  const slash = name.indexOf('/');
  return slash === -1 ? { namespace: 'library', name } : { namespace: name.slice(0, slash), name: name.slice(slash + 1) };
}
