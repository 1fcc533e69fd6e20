/**
 * The only builder of storage keys. Every key a driver ever sees comes from a function here, so
 * the layout is defined in one place:
 *
 * ```
 * <root>/
 * ├── images/
 * │   └── <image id>/          16 or 64 lowercase hex digits
 * │       └── layer-<upload>   one layer upload (16 hex digits), written via temp + commit;
 * │                            the image's database row names the one that counts
 * ├── blobs/
 * │   └── <alg>/<hex>-<n>      a V2 blob (sha256, sha512) under a key of its own (n: 16 hex
 * │                            digits), written only after its digest is verified; the blob's
 * │                            row names the one that counts (`<alg>/<hex>`: before the suffix)
 * ├── uploads/
 * │   └── <session>/<n>[-<hex>]
 * │                            chunk n (from 0) of a V2 upload session (32 hex digits): on disk
 * │                            one object `0` every PATCH continues; elsewhere (S3) one object
 * │                            per PATCH, named `<n>-<16 hex digits>`, the session's row listing
 * │                            the names that count; gone at completion
 * ├── mirror/v2/<repository>/_tags/<hex of tag>
 * │                            pull-through mirror: a tag that came from upstream, the digest it
 * │                            had and when upstream was last asked (small JSON, services/
 * │                            mirror-v2-tags.ts); `_tags` cannot be a repository component
 * ├── mirror/v1/<kind>/<hash>  what the V1 pull-through mirror last fetched about a repository
 * │                            (kind: tags, images, json; hash: sha256 of `namespace/name`),
 * │                            small JSON documents written whole (services/mirror-v1-repos.ts)
 * └── .tmp/                    driver-private temp files (fs driver); never a valid key
 * ```
 *
 * Image metadata (json, ancestry, checksums), tags and repositories live in SQLite; layers are
 * the only objects kept in storage. Each upload of a layer gets its own key and the database row
 * records which key belongs to the image, so concurrent uploads of one image can never leave a
 * row whose checksum describes another upload's bytes; superseded uploads are deleted.
 *
 * Blobs get a key of their own per write too, although their content is addressed by digest:
 * garbage collection deletes the bytes of a blob nobody references, and a push of the same
 * content at that moment must not write where the collector is deleting. Bytes written are never
 * written over, so a key no row names stays unnamed for good and can be deleted safely
 * (services/gc.ts). Two concurrent uploads of one digest each write their own copy; the first
 * recorded stands and the other is deleted.
 */
import { digestAlgorithm, digestHex, isDigest } from '../domain/digest.ts';
import { isValidImageId } from '../domain/image-id.ts';
import { InvalidKeyError } from './driver.ts';

const UPLOAD_ID_PATTERN = /^[a-f0-9]{16}$/;

/** A fresh upload id: 16 random lowercase hex digits. */
export function newUploadId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Key of one upload of an image's layer: `images/<id>/layer-<uploadId>`.
 * @throws InvalidKeyError when `imageId` or `uploadId` is malformed (checked again here on purpose).
 */
export function layerKey(imageId: string, uploadId: string): string {
  const key = `images/${imageId}/layer-${uploadId}`;
  if (!isValidImageId(imageId) || !UPLOAD_ID_PATTERN.test(uploadId)) throw new InvalidKeyError('paths', key);
  return key;
}

/** Whether `key` is one of `imageId`'s own layer uploads (not bytes it shares with a V2 blob). */
export const isLayerKeyOf = (imageId: string, key: string): boolean => key.startsWith(`images/${imageId}/layer-`);

const SESSION_PATTERN = /^[a-f0-9]{32}$/;

/** A fresh V2 upload session id: 32 random lowercase hex digits. */
export function newSessionId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

export const isSessionId = (id: string): boolean => SESSION_PATTERN.test(id);

/**
 * A fresh key for a V2 blob's bytes: `blobs/<alg>/<hex>-<16 random hex digits>`.
 * @throws InvalidKeyError for anything but a valid digest.
 */
export function newBlobKey(digest: string): string {
  if (!isDigest(digest)) throw new InvalidKeyError('paths', `blobs/${digest}`);
  return `blobs/${digestAlgorithm(digest)}/${digestHex(digest)}-${newUploadId()}`;
}

/**
 * The folders content lives in, each two levels deep (`images/<id>/<layer>`, `blobs/<alg>/<blob>`),
 * which garbage collection walks for bytes no row names.
 */
export const CONTENT_FOLDERS = ['images', 'blobs'] as const;

/** The folder of the V2 upload sessions' chunks (`uploads/<session>/<name>`). */
export const UPLOADS_FOLDER = 'uploads';

/** The folder of a V2 upload session's chunks: `uploads/<session>`. */
export function uploadPrefix(session: string): string {
  if (!SESSION_PATTERN.test(session)) throw new InvalidKeyError('paths', `uploads/${session}`);
  return `${UPLOADS_FOLDER}/${session}`;
}

/**
 * Key of chunk `n` (from 0) of a V2 upload session: `uploads/<session>/<n>` (on disk the one
 * object every PATCH continues, `0`; on S3 the chunks of sessions from before chunk names).
 */
export function uploadChunkKey(session: string, n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidKeyError('paths', `uploads/${session}/${n}`);
  return `${uploadPrefix(session)}/${n}`;
}

const CHUNK_NAME_PATTERN = /^(?:0|[1-9][0-9]{0,15})(?:-[a-f0-9]{16})?$/;

/**
 * A fresh name for chunk `n` of a session whose PATCHes each store an object of their own (S3):
 * `<n>-<16 random hex digits>`, so that two PATCHes racing for the same chunk never write (or
 * delete) each other's object; the session's row records the names of the chunks that count.
 */
export function newChunkName(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidKeyError('paths', `uploads/…/${n}`);
  return `${n}-${newUploadId()}`;
}

/** Key of a V2 upload session's chunk object by its name (`<n>` or `<n>-<hex>`): `uploads/<session>/<name>`. */
export function uploadObjectKey(session: string, name: string): string {
  if (!CHUNK_NAME_PATTERN.test(name)) throw new InvalidKeyError('paths', `uploads/${session}/${name}`);
  return `${uploadPrefix(session)}/${name}`;
}

/** A V2 repository name: lowercase components of the OCI grammar (services/names.ts v2RepoRef). */
const V2_REPOSITORY = /^[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*$/;

/**
 * Key of the mirror's record of a tag fetched from upstream:
 * `mirror/v2/<repository>/_tags/<tag as hex>` (a tag may hold capitals, which keys may not).
 * @throws InvalidKeyError for a repository outside the V2 grammar or an empty or overlong tag.
 */
export function mirrorTagKey(repository: string, tag: string): string {
  const key = `mirror/v2/${repository}/_tags/${Buffer.from(tag, 'utf8').toString('hex')}`;
  if (!V2_REPOSITORY.test(repository) || tag.length === 0 || tag.length > 128) throw new InvalidKeyError('paths', key);
  return key;
}

/** What the V1 mirror keeps about a repository: the upstream's tag list, its image list, its repository json. */
export type MirrorRecordKind = 'tags' | 'images' | 'json';

/**
 * Key of the V1 mirror's record of one kind about a repository: `mirror/v1/<kind>/<sha256 of
 * its full name>` (names may hold characters keys cannot).
 */
export function mirrorRecordKey(kind: MirrorRecordKind, fullName: string): string {
  return `mirror/v1/${kind}/${new Bun.CryptoHasher('sha256').update(fullName).digest('hex')}`;
}
