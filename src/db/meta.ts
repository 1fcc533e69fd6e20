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
   * The digest of the V2 blob whose bytes these are (`key` is that blob's key, not a fresh
   * upload; the V2 → V1 bridge): the layer is recorded only while that blob still names the key,
   * since bytes no row names may be garbage-collected at any moment.
   */
  blob?: string;
  /**
   * The image json the checksums were computed over (they cover json + layer). When given, the
   * layer is recorded only while the image still has exactly this json: a PUT json that replaced
   * it during the upload leaves checksums about a json the image no longer has.
   */
  json?: Uint8Array;
}

/**
 * Options of the writes that make content reachable (putTag, putManifest). Garbage collection
 * deletes what nothing reaches, so a write that is about to reach something the caller looked up
 * earlier asks the store to `verify`, inside its transaction, that it still exists (the rows it
 * reaches are locked against a concurrent collection until it commits), and to write nothing
 * otherwise. The services always verify; without it a write is taken as given (tests, imports).
 */
export interface VerifiedWrite {
  verify?: boolean;
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
  /**
   * Records that a push is relying on the image existing (it was found, and the client will not
   * upload it again): its last-used time becomes now, so garbage collection spares it a grace
   * period from here — but only when it was last used (or updated) before `staleBefore`, so a hot
   * path writes rarely. Returns whether the image exists.
   */
  touchImage(id: string, staleBefore: number): Promise<boolean>;
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
  /**
   * Records a complete image in one step (the pull-through mirror's copy of an upstream image,
   * its layer committed and verified): it appears `ready`, never `uploading`. Returns false
   * (writes nothing) when an image with this id exists in any state; the caller then deletes its
   * layer.
   */
  putReadyImage(image: NewImage, layer: StoredLayer): Promise<boolean>;
  getImageCache(id: string, kind: ImageCacheKind): Promise<string | null>;
  /** Kept only while the image is ready (a reset image starts without caches). */
  setImageCache(id: string, kind: ImageCacheKind, value: string): Promise<void>;
}

export interface RepositoryStore {
  getRepository(ref: RepoRef): Promise<RepositoryRecord | null>;
  /** Deletes a repository with its tags (what they and its manifests named is touched, see CollectorStore); false if it did not exist. */
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
  /**
   * Creates the repository if needed; replaces the tag atomically (a V2 manifest it pointed at is
   * cleared; the image it named is touched, see CollectorStore). With `verify`, only while the image and every image of its ancestry exist (in the
   * same transaction, their rows locked against garbage collection); false when not written.
   */
  putTag(ref: RepoRef, tag: TagRecord, options?: VerifiedWrite): Promise<boolean>;
  /** Deletes the tag, whichever protocol set it; the image it named is touched (see CollectorStore). */
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
  /**
   * Records that a push is relying on the blob existing (a HEAD, GET, or a PUT of bytes stored
   * already): as touchImage — its last-used time becomes now when it was last used (or created)
   * before `staleBefore`. Returns whether the blob exists.
   */
  touchBlob(digest: string, staleBefore: number): Promise<boolean>;
  /** The blob when `ref` links it (pushed, mounted or bridged there); null otherwise. */
  getLinkedBlob(ref: RepoRef, digest: string): Promise<BlobRecord | null>;
  /**
   * Records a committed blob and links it into `ref` (creating the repository if needed), in one
   * transaction. `blob.key` must be bytes the caller has just written under a key of their own
   * (paths.ts newBlobKey): a key another row names is shared only through linkBlob or
   * putLayerBlob, which check that row still exists. The first record of a digest stands: when
   * the digest is known already, the existing record is kept, linked and touched (see
   * touchBlob), and `created` is false (the caller deletes its own copy unless it is the same key).
   */
  putBlob(ref: RepoRef, blob: NewBlob): Promise<{ blob: BlobRecord; created: boolean }>;
  /**
   * Records the layer of V1 image `imageId` as a blob of `ref` without copying it (the V1 → V2
   * bridge): `blob.key` is that image's layer key, and the blob is recorded only while the image
   * still names it (null otherwise, nothing written). A known digest is kept, linked and touched,
   * as putBlob does.
   */
  putLayerBlob(ref: RepoRef, imageId: string, blob: NewBlob): Promise<BlobRecord | null>;
  /**
   * Links an existing blob into `ref` (a cross-repository mount, or a push of bytes stored
   * already) and touches it (its last-used time becomes now); null (nothing written) when no such
   * blob.
   */
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
  /** chunks received so far (see `chunkNames` for the objects holding them) */
  chunks: number;
  /**
   * `sha256:<hex>` of the bytes received so far, recorded by the process that received all of
   * them (so completion through any process or node need not read them back); null when unknown.
   * Followed by `@<epoch>` when those bytes were not durable yet (services/blobs.ts: trusted only
   * while the storage's `volatileEpoch` is still that one). Stored and returned as given.
   */
  digest: string | null;
  /**
   * Where each PATCH stores an object of its own (S3): the names of the session's chunk objects
   * under `uploads/<id>/`, in order, space-separated (services/blobs.ts names them; a PATCH that
   * lost the race for the session's next chunk has a name of its own, so it can neither replace
   * nor delete the winner's). '' otherwise, and in rows from before the column, whose chunks are
   * named `0`, `1`, ….
   */
  chunkNames: string;
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
   * concurrent PATCH won). `chunkNames`, when given, replaces the session's chunk names (the
   * caller's record's, plus the new chunk's: the check above makes them current).
   */
  appendUpload(id: string, expected: { offset: number; chunks: number }, size: number, digest?: string | null, chunkNames?: string): Promise<UploadRecord | null>;
  /**
   * Ends a session (completed or cancelled); false when it did not exist (only one caller gets
   * true). With `idleBefore` (a purge of idle sessions), only while it was last touched before
   * that time (epoch ms), atomically: a session a PATCH moved on since it was listed stays.
   */
  deleteUpload(id: string, idleBefore?: number): Promise<boolean>;
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
   * if needed. One transaction. With `verify`, a new manifest is stored only while every blob it
   * references is linked in `ref` and every child manifest is in `ref` (those rows locked against
   * garbage collection until commit); returns the first reference missing (nothing written), or
   * null when written. A manifest stored already needs no check: what a stored manifest
   * references is never collected. A verified write also holds the repository and a stored
   * manifest of that digest until it commits: a deleteRepository or a deleteManifest of that
   * digest running meanwhile comes after it and removes what it wrote (never a tag left naming a
   * manifest that is gone, nor a manifest left in a repository recreated without its blobs).
   */
  putManifest(ref: RepoRef, manifest: NewManifest, tag?: string, options?: VerifiedWrite): Promise<string | null>;
  /**
   * Deletes the manifest, its references and every tag pointing at it (what it referenced and the
   * images of those tags are touched, see CollectorStore); false when absent.
   */
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
   * wins), and while the image, every image of its ancestry and the manifest exist (verified as
   * putTag and putManifest do). Returns whether it did.
   */
  bridgeTag(ref: RepoRef, tag: string, imageId: string, manifestDigest: string): Promise<boolean>;
}

// ---- Garbage collection ----------------------------------------------------------------------
//
// The collector (services/gc.ts) reads what exists page by page, decides in memory what nothing
// reaches, and deletes it row by row with conditional deletes that check again, atomically, that
// nothing reaches the row and nobody has relied on it since the cut-off: a concurrent push that
// starts using a row (a touch, a tag, a manifest reference, a child image) always wins. Bytes go
// only once no row names their key (keysInUse); a key nobody names can never be named again,
// because fresh bytes always get a fresh key and every other way of naming bytes (linkBlob,
// putLayerBlob, a layer with `blob`) requires a row that names them, locked, in its transaction.
// Releasing content (deleting or moving a tag, deleting a manifest or a repository) touches what
// it released, so a pull in flight keeps it for the grace period.

/** An image as garbage collection sees it. */
export interface CollectableImage {
  id: string;
  parent: string | null;
  /** self first, root last */
  ancestry: string[];
  layerKey: string | null;
  /** bytes of its recorded layer (0 when none) */
  layerSize: number;
  /** epoch ms: the later of its last update and its last touch */
  lastUsed: number;
}

/** A blob as garbage collection sees it. */
export interface CollectableBlob {
  digest: string;
  key: string;
  size: number;
  /** epoch ms: the later of its creation and its last touch */
  lastUsed: number;
  /** whether a stored manifest (of any repository) references it */
  referenced: boolean;
}

/** Who holds a lease, after an attempt at taking it. */
export interface LeaseState {
  /** whether the caller holds it now (taken, or renewed) */
  held: boolean;
  holder: string;
  /** epoch ms */
  expiresAt: number;
}

export interface CollectorStore {
  /** Images by id after `after` (exclusive; null: from the first), at most `limit`. */
  collectableImages(after: string | null, limit: number): Promise<CollectableImage[]>;
  /** The distinct image ids tags point at (V1 tags and bridged ones), by id, paged the same way. */
  taggedImageIds(after: string | null, limit: number): Promise<string[]>;
  /** Blobs by digest, paged the same way. */
  collectableBlobs(after: string | null, limit: number): Promise<CollectableBlob[]>;
  /**
   * Deletes the image only while nothing can need it: last updated and last touched before
   * `before`, no tag points at it, no image names it as its parent; checked and deleted
   * atomically. Returns its layer (key, size) when deleted, null when it was kept (or absent).
   */
  deleteImageIfUnused(id: string, before: number): Promise<{ key: string | null; size: number } | null>;
  /**
   * Deletes the blob and its repository links only while nothing can need it: created and last
   * touched before `before`, referenced by no stored manifest; checked and deleted atomically.
   * Returns its key and size when deleted, null when kept (or absent).
   */
  deleteBlobIfUnused(digest: string, before: number): Promise<{ key: string; size: number } | null>;
  /** Which of `keys` an image (as its layer) or a blob still names. */
  keysInUse(keys: string[]): Promise<string[]>;
  /**
   * Takes the lease `name` for `ttlMs` from now when it is free (never taken, or expired) or the
   * caller's already (then it is renewed), atomically across every process sharing the store.
   */
  acquireLease(name: string, holder: string, ttlMs: number): Promise<LeaseState>;
  /** Frees the lease if `holder` holds it; false otherwise. */
  releaseLease(name: string, holder: string): Promise<boolean>;
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
    ManifestStore,
    CollectorStore {
  close(): void;
}
