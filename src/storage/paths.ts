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
 * │   └── <alg>/<hex>          a V2 blob, stored once per digest (sha256, sha512); written
 * │                            only after its digest is verified
 * ├── uploads/
 * │   └── <session>/<n>        chunk n (from 0) of a V2 upload session (32 hex digits); the
 * │                            session's row says how many there are; gone at completion
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

const SESSION_PATTERN = /^[a-f0-9]{32}$/;

/** A fresh V2 upload session id: 32 random lowercase hex digits. */
export function newSessionId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

export const isSessionId = (id: string): boolean => SESSION_PATTERN.test(id);

/** Key of a V2 blob's bytes: `blobs/<alg>/<hex>`. @throws InvalidKeyError for anything but a valid digest. */
export function blobKey(digest: string): string {
  if (!isDigest(digest)) throw new InvalidKeyError('paths', `blobs/${digest}`);
  return `blobs/${digestAlgorithm(digest)}/${digestHex(digest)}`;
}

/** The folder of a V2 upload session's chunks: `uploads/<session>`. */
export function uploadPrefix(session: string): string {
  if (!SESSION_PATTERN.test(session)) throw new InvalidKeyError('paths', `uploads/${session}`);
  return `uploads/${session}`;
}

/** Key of chunk `n` (from 0) of a V2 upload session: `uploads/<session>/<n>`. */
export function uploadChunkKey(session: string, n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidKeyError('paths', `uploads/${session}/${n}`);
  return `${uploadPrefix(session)}/${n}`;
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
