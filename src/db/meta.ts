/**
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
 * Only the SQLite store remembers reads (repository, tag list, tag) between calls, and only until
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

export type ImageCacheKind = 'files' | 'diff';

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

export interface TagStore {
  /** Sorted by name; null when the repository does not exist. */
  listTags(ref: RepoRef): Promise<TagRecord[] | null>;
  getTag(ref: RepoRef, tag: string): Promise<TagRecord | null>;
  /** Creates the repository if needed; replaces the tag atomically. */
  putTag(ref: RepoRef, tag: TagRecord): Promise<void>;
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

/** Every part of the contract, and the connection's end. */
export interface MetaStore extends ImageStore, RepositoryStore, TagStore, SearchStore, UserStore {
  close(): void;
}
