/**
 * (Over 300 lines on purpose: the one contract both stores implement, V1 and V2, each method's
 * semantics written beside it.)
 *
 * The metadata store contract: dialect-neutral and async at the boundary, so the SQLite and the
 * PostgreSQL stores (sqlite/store.ts, pg/store.ts) are interchangeable behind services and
 * routes. One contract suite (test/db/meta.suite.ts) runs against every implementation.
 *
 * The contract is split by what the services use (images, repositories, tags, search, users);
 * a service takes only the parts it calls, and `MetaStore`, all of them plus `close()`, is what
 * the opener (open.ts) hands out.
 *
 * Every store, every method:
 * - conditional writes (`…IfUploading`, `markReady`) check and write atomically, so concurrent
 *   workers (and nodes) cannot complete, overwrite or tear an image;
 * - when the backend cannot serve (connection lost or refused, database locked past its wait,
 *   I/O error, disk full) the call rejects with `RegistryError('METADATA_UNAVAILABLE')` (503),
 *   the backend's error as its `cause` (failures.ts); any other error is passed on unchanged.
 *
 * Only the SQLite store remembers reads (repository, tag list, tag, V2 tag names, tagged manifest) between calls, and only until
 * any connection commits (see sqlite/store.ts): no store returns data older than the last commit
 * the caller could have seen. Records it hands out from that cache are frozen.
 */

export type ImageState = 'uploading' | 'ready';

export interface ImageRecord {
  id: string;
  parent: string | null;
  /** raw json bytes exactly as PUT */
  json: Uint8Array;
  /** self first, root last */
  ancestry: string[];
  state: ImageState;
  layerSize: number | null;
  /** storage key of the layer's bytes; may name a superseded upload while layerSize is null */
  layerKey: string | null;
  checksums: string[];
  createdAt: number;
  updatedAt: number;
}

export interface NewImage {
  id: string;
  parent: string | null;
  json: Uint8Array;
  ancestry: string[];
}

export interface StoredLayer {
  key: string;
  size: number;
  checksums: string[];
  /**
   * The image json the checksums were computed over (they cover json + layer). When given, the
   * layer is recorded only while the image still has exactly this json: a PUT json that replaced
   * it during the upload leaves checksums about a json the image no longer has.
   */
  json?: Uint8Array;
}

export interface RepoRef {
  namespace: string;
  name: string;
}

export interface RepositoryRecord extends RepoRef {
  id: number;
  description: string;
  private: boolean;
  /** raw JSON text of the index image list, or null if none was ever pushed */
  indexImages: string | null;
}

export interface TagRecord {
  name: string;
  imageId: string;
  metadata: string;
}

interface SearchHit {
  name: string;
  description: string;
}

/** Which private repositories a search may list: all, or those of these namespaces (public ones always). */
export type PrivateVisibility = 'all' | { namespaces: string[] };

export interface UserRecord {
  username: string;
  /** PHC string (Bun.password) */
  passwordHash: string;
  email: string;
  admin: boolean;
  createdAt: number;
}

export interface NewUser {
  username: string;
  passwordHash: string;
  email: string;
  admin?: boolean;
}

export interface SearchPage {
  total: number;
  results: SearchHit[];
}

/**
 * What is computed once from a complete image and kept with it: its file list (E9), its diff
 * (E10), and its layer as V2 sees it (blob digest, diff_id, compression; services/bridge.ts).
 */
export type ImageCacheKind = 'files' | 'diff' | 'layer';

/** What `setLayerIfUploading` did. */
export interface LayerOutcome {
  recorded: boolean;
  /** the upload the recorded layer replaced (the caller deletes it) */
  replacedKey: string | null;
}

export interface UserChanges {
  email?: string;
  passwordHash?: string;
}

export interface ImageStore {
  /** Creates or resets an image to `uploading`. Returns false (writes nothing) if it is `ready`. */
  putImageIfUploading(image: NewImage): Promise<boolean>;
  getImage(id: string): Promise<ImageRecord | null>;
  /**
   * Records a committed layer upload. Returns whether it was recorded (false if the image is
   * missing or no longer uploading, or no longer has `layer.json`) and the key of the upload it
   * replaced, which the caller deletes (on false: the caller deletes its own upload).
   */
  setLayerIfUploading(id: string, layer: StoredLayer): Promise<LayerOutcome>;
  /**
   * uploading → ready. Returns false if the image is missing or not uploading, or, when
   * `layerKey` is given (the layer the caller verified), if that is no longer the image's
   * recorded layer: a PUT json (which clears the layer) or PUT layer since the verification
   * changed what would be completed.
   */
  markReady(id: string, layerKey?: string): Promise<boolean>;
  getImageCache(id: string, kind: ImageCacheKind): Promise<string | null>;
  /** Kept only while the image is ready (a reset image starts without caches). */
  setImageCache(id: string, kind: ImageCacheKind, value: string): Promise<void>;
}

export interface RepositoryStore {
  getRepository(ref: RepoRef): Promise<RepositoryRecord | null>;
  /** Deletes a repository with its tags; false if it did not exist. */
  deleteRepository(ref: RepoRef): Promise<boolean>;
  /** Creates the repository if needed. */
  setPrivate(ref: RepoRef, isPrivate: boolean): Promise<void>;
  /**
   * Replaces the index image list, computed by `merge` from the current text (null if none)
   * inside the write transaction; creates the repository if needed. `created`: there was no list.
   */
  updateIndexImages(ref: RepoRef, merge: (current: string | null) => string): Promise<{ created: boolean }>;
  /** The repositories whose index image list names this image id, by name. */
  repositoriesListingImage(id: string): Promise<RepositoryRecord[]>;
}

/**
 * V1's view of the tags: only tags that point at a V1 image (a tag a V2 push set, not yet
 * bridged to a V1 image, is not listed nor found here; ManifestStore sees every tag).
 */
export interface TagStore {
  /** Sorted by name; null when the repository does not exist. */
  listTags(ref: RepoRef): Promise<TagRecord[] | null>;
  getTag(ref: RepoRef, tag: string): Promise<TagRecord | null>;
  /** Creates the repository if needed; replaces the tag atomically (a V2 manifest it pointed at is cleared). */
  putTag(ref: RepoRef, tag: TagRecord): Promise<void>;
  /** Deletes the tag, whichever protocol set it. */
  deleteTag(ref: RepoRef, tag: string): Promise<boolean>;
}

export interface SearchStore {
  /**
   * Case-insensitive substring search on `namespace/name` and description; name matches first,
   * then by name in byte order (every store gives the same pages). An empty query lists all.
   * `visible` limits which private repositories are listed (default: all).
   */
  search(query: string, limit: number, offset: number, visible?: PrivateVisibility): Promise<SearchPage>;
}

export interface UserStore {
  /** Creates an account; false (nothing written) when the username is taken. */
  createUser(user: NewUser): Promise<boolean>;
  getUser(username: string): Promise<UserRecord | null>;
  /** Changes the email and/or password hash; false when the user does not exist. */
  updateUser(username: string, changes: UserChanges): Promise<boolean>;
  /** false when the user does not exist */
  setUserAdmin(username: string, admin: boolean): Promise<boolean>;
  /** false when the user did not exist */
  deleteUser(username: string): Promise<boolean>;
}

// ---- OCI Distribution (V2) ----------------------------------------------------------------
//
// V2 content lives beside V1's in the same repositories (a V2 name `a/b/c` is the RepoRef
// { namespace: 'a', name: 'b/c' }; a one-part name is `library/<name>`, as in V1) and the same
// tags table: a tag points at a V1 image (`imageId`), at a V2 manifest (`manifestDigest`), or both
// once bridged. Digests are always `<algorithm>:<hex>` strings, e.g. `sha256:…`.

/** A blob: stored once per digest, shared by every repository that links it. */
export interface BlobRecord {
  digest: string;
  size: number;
  /** storage key of its bytes (`blobs/<alg>/<hex>`, or a V1 layer's key for a bridged layer) */
  key: string;
  createdAt: number;
}

export interface NewBlob {
  digest: string;
  size: number;
  key: string;
}

export interface BlobStore {
  getBlob(digest: string): Promise<BlobRecord | null>;
  /** The blob when `ref` links it (pushed, mounted or bridged there); null otherwise. */
  getLinkedBlob(ref: RepoRef, digest: string): Promise<BlobRecord | null>;
  /**
   * Records a committed blob and links it into `ref` (creating the repository if needed), in one
   * transaction. The first record of a digest stands: when the digest is known already, the
   * existing record is kept and linked, and `created` is false (the caller deletes its own copy
   * unless it is the same key).
   */
  putBlob(ref: RepoRef, blob: NewBlob): Promise<{ blob: BlobRecord; created: boolean }>;
  /** Links an existing blob into `ref` (cross-repository mount); null (nothing written) when no such blob. */
  linkBlob(ref: RepoRef, digest: string): Promise<BlobRecord | null>;
  /** Removes the link from `ref`; false when there was none. The bytes stay (garbage collection's job). */
  unlinkBlob(ref: RepoRef, digest: string): Promise<boolean>;
}

/** An upload session (POST …/blobs/uploads/): where it stands, not its bytes (those are chunks in storage). */
export interface UploadRecord {
  /** 32 lowercase hex digits */
  id: string;
  /** the repository's full name (`namespace/name`) */
  repository: string;
  /** bytes received so far (the sum of the chunks' sizes) */
  offset: number;
  /** chunks received so far; chunk i (from 0) is stored under uploadChunkKey(id, i) */
  chunks: number;
  /**
   * `sha256:<hex>` of the bytes received so far, recorded by the process that received all of
   * them (so completion through any process or node need not read them back); null when unknown.
   * Followed by `@<epoch>` when those bytes were not durable yet (services/blobs.ts: trusted only
   * while the storage's `volatileEpoch` is still that one). Stored and returned as given.
   */
  digest: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface UploadStore {
  createUpload(id: string, ref: RepoRef): Promise<UploadRecord>;
  getUpload(id: string): Promise<UploadRecord | null>;
  /**
   * Records one more stored chunk of `size` bytes and the digest of all the session's bytes since
   * (null: unknown), only while the session still stands at `expected` (offset and chunk count),
   * atomically; returns the updated record, or null when the session is gone or has moved on (a
   * concurrent PATCH won).
   */
  appendUpload(id: string, expected: { offset: number; chunks: number }, size: number, digest?: string | null): Promise<UploadRecord | null>;
  /** Ends a session (completed or cancelled); false when it did not exist (only one caller gets true). */
  deleteUpload(id: string): Promise<boolean>;
  /** Sessions last touched before `before` (epoch ms), oldest first, at most `limit`. */
  staleUploads(before: number, limit: number): Promise<UploadRecord[]>;
}

/** What a manifest points at, for existence checks at PUT and for garbage collection. */
export interface ManifestReference {
  digest: string;
  kind: 'blob' | 'manifest';
}

export interface ManifestRecord {
  digest: string;
  mediaType: string;
  /** the manifest exactly as PUT, never re-serialized */
  content: Uint8Array;
  /** the `subject` descriptor's digest (referrers API), if any */
  subject: string | null;
  /** `artifactType`, or the config's media type for an image manifest with a subject (referrers API) */
  artifactType: string | null;
  createdAt: number;
}

export interface NewManifest {
  digest: string;
  mediaType: string;
  content: Uint8Array;
  subject: string | null;
  artifactType: string | null;
  references: ManifestReference[];
}

export interface ListOptions {
  /** return only names after this one (byte order) */
  last?: string;
  /** at most this many */
  n?: number;
}

export interface ManifestStore {
  getManifest(ref: RepoRef, digest: string): Promise<ManifestRecord | null>;
  /** The manifest a tag points at; null when there is no such tag or it has no V2 manifest. */
  getTaggedManifest(ref: RepoRef, tag: string): Promise<ManifestRecord | null>;
  /**
   * Stores a manifest with its references (one with that digest already in `ref` is kept as it
   * is) and, with `tag`, points the tag at it (its V1 image id cleared); creates the repository
   * if needed. One transaction.
   */
  putManifest(ref: RepoRef, manifest: NewManifest, tag?: string): Promise<void>;
  /** Deletes the manifest, its references and every tag pointing at it; false when absent. */
  deleteManifest(ref: RepoRef, digest: string): Promise<boolean>;
  /** The manifests of `ref` whose subject is `digest`, by digest. */
  listReferrers(ref: RepoRef, subject: string): Promise<ManifestRecord[]>;
  /**
   * Names of the tags that point at a V1 image or a V2 manifest, in byte order, paged; null when
   * the repository does not exist.
   */
  listTagNames(ref: RepoRef, options?: ListOptions): Promise<string[] | null>;
  /** Full names of the repositories, in byte order, paged (GET /v2/_catalog). */
  listRepositories(options?: ListOptions): Promise<string[]>;
  /**
   * Makes a tag name both its V1 image and its V2 manifest (the V1 ⇄ V2 bridge): sets both
   * columns, only while the tag still names one of them and not the other (a push in between
   * wins). Returns whether it did.
   */
  bridgeTag(ref: RepoRef, tag: string, imageId: string, manifestDigest: string): Promise<boolean>;
}

/** Every part of the contract, and the connection's end. */
export interface MetaStore
  extends ImageStore,
    RepositoryStore,
    TagStore,
    SearchStore,
    UserStore,
    BlobStore,
    UploadStore,
    ManifestStore {
  close(): void;
}
