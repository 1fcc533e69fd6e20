/**
 * (Over 300 lines on purpose: one class is one backend's whole contract, V1 and V2, because every
 * method shares its connection, its write-transaction helper and its commit-aware read cache;
 * the rules themselves live in ../rules.ts and ../records.ts.)
 *
 * MetaStore on SQLite through Drizzle; the row rules are ../rules.ts and ../records.ts, shared
 * with the PostgreSQL store. bun:sqlite is synchronous, so every transaction here is a sync
 * function run with `behavior: 'immediate'` (several worker processes share the file: a deferred
 * read-then-write transaction would fail with SQLITE_BUSY_SNAPSHOT). Hot reads are prepared once.
 *
 * The reads a pull repeats (repository, tag list, tag; V2's tag names and tagged manifest) are
 * also remembered, for as long as the database has not changed: SQLite's `PRAGMA data_version`
 * changes whenever another connection (another worker process, another tool) commits, and this
 * store counts its own commits, so one cheap pragma per read tells whether anything cached may be
 * stale; if so, everything cached is dropped. A read therefore never returns data older than the last commit it could have seen.
 * While the WAL-index header (./wal-index.ts) is as it was at the last pragma, nobody has
 * committed since, and the pragma is skipped.
 */
import { and, asc, count, eq, inArray, sql } from 'drizzle-orm';
import { catalogueError } from '../failures.ts';
import type { ImageCacheKind, ImageRecord, LayerOutcome, MetaStore, NewImage, NewUser, PrivateVisibility } from '../meta.ts';
import type { RepoRef, RepositoryRecord, SearchPage, StoredLayer, TagRecord, UserChanges, UserRecord } from '../meta.ts';
import type { BlobRecord, ListOptions, ManifestRecord, NewBlob, NewManifest, UploadRecord, VerifiedWrite } from '../meta.ts';
import type { CollectableBlob, CollectableImage, LeaseState } from '../meta.ts';
import * as gc from '../gc-rules.ts';
import * as rec from '../records.ts';
import * as rule from '../rules.ts';
import { openSqlite, sqliteFailure, type Db } from './client.ts';
import { migrateSqlite } from './migrate.ts';
import { match, prepareQueries } from './queries.ts';
import * as schema from './schema.ts';
import { blobs, images, leases, manifestReferences, manifests, repositories, repositoryBlobs, tags, uploadSessions, users } from './schema.ts';
import { WalIndexHeader } from './wal-index.ts';

type RepoRow = typeof repositories.$inferSelect;

/** Entries the read cache holds before it starts over (a guard against unbounded growth). */
const READ_CACHE_ENTRIES = 10_000;

/** Freezes a cached value and what it holds one level down (records, arrays of records). */
function freeze<T>(value: T): T {
  if (Array.isArray(value)) value.forEach((v) => Object.freeze(v));
  return Object.freeze(value);
}

/** A manifest row as a record of its own (bun:sqlite's Buffers may share one allocation). */
const manifestRecord = (row: ManifestRecord): ManifestRecord => ({ ...row, content: new Uint8Array(row.content) });

/** `op`, its backend failures as catalogue errors (the methods are async: a throw rejects). */
function guard<T>(op: () => T): T {
  try {
    return op();
  } catch (e) {
    throw catalogueError(e, sqliteFailure);
  }
}

export class SqliteMetaStore implements MetaStore {
  readonly db: Db;
  readonly #q: ReturnType<typeof prepareQueries>;
  readonly #dataVersion: { values(): unknown[][] };
  /** commits made through this connection (data_version does not count them) */
  #commits = 0;
  #cacheVersion = -1;
  #cacheCommits = -1;
  readonly #cache = new Map<string, unknown>();
  /** the WAL-index header, read instead of the pragma while it is unchanged (null: always the pragma) */
  #walIndex: WalIndexHeader | null;

  constructor(db: Db) {
    this.db = db;
    this.#dataVersion = db.$client.prepare('PRAGMA data_version');
    this.#q = prepareQueries(db);
    this.#walIndex = WalIndexHeader.of(db.$client);
  }

  /** Opens (and migrates, unless told not to) the database file. */
  static open(path: string, options: { migrate?: boolean } = {}): SqliteMetaStore {
    const db = openSqlite(path);
    if (options.migrate ?? true) migrateSqlite(db);
    return new SqliteMetaStore(db);
  }

  #write<T>(fn: (tx: Db) => T): T {
    try {
      return guard(() => this.db.transaction((tx) => fn(tx as unknown as Db), { behavior: 'immediate' }));
    } finally {
      this.#commits++;
    }
  }

  /** Whether a write returning its rows changed any. */
  #changed(fn: (tx: Db) => unknown[]): boolean {
    return this.#write(fn).length > 0;
  }

  /** `load()`'s result, remembered under `key` until the database changes (see the top). */
  #cached<T>(key: string, load: () => T): T {
    return guard(() => {
      if (this.#commits !== this.#cacheCommits || !this.#walIndex?.unchanged()) this.#checkVersion();
      if (this.#cache.size >= READ_CACHE_ENTRIES) this.#cache.clear();
      if (this.#cache.has(key)) return this.#cache.get(key) as T;
      const value = freeze(load());
      this.#cache.set(key, value);
      return value;
    });
  }

  /** The real check: drops everything cached if anyone has committed since the last one. */
  #checkVersion(): void {
    // the header first: a commit landing between the two shows as a change at the next read
    this.#walIndex?.mark();
    const version = this.#dataVersion.values()[0]![0] as number;
    if (version !== this.#cacheVersion || this.#commits !== this.#cacheCommits) {
      this.#cache.clear();
      this.#cacheVersion = version;
      this.#cacheCommits = this.#commits;
    }
  }

  /** A read first: only a row last used before `staleBefore` costs a write (and every cache its entries). */
  async touchImage(id: string, staleBefore: number): Promise<boolean> {
    const row = guard(() => this.db.select({ base: images.updatedAt, usedAt: images.usedAt }).from(images).where(eq(images.id, id)).get());
    if (!row) return false;
    if (gc.usedSince(row, staleBefore)) return true;
    const stale = and(eq(images.id, id), gc.lastUsedBefore(images.updatedAt, images.usedAt, staleBefore));
    const touched = this.#changed((tx) => tx.update(images).set({ usedAt: Date.now() }).where(stale).returning({ id: images.id }).all());
    return touched || (await this.getImage(id)) !== null;
  }

  async putImageIfUploading(image: NewImage): Promise<boolean> {
    const { values, onConflict } = rule.putImageUpsert(images, image, Date.now());
    return this.#changed((tx) => tx.insert(images).values(values).onConflictDoUpdate(onConflict).returning({ id: images.id }).all());
  }

  async getImage(id: string): Promise<ImageRecord | null> {
    const row = guard(() => this.#q.image.get({ id }));
    return row ? rec.imageRecord(row, new Uint8Array(row.json)) : null;
  }

  async setLayerIfUploading(id: string, layer: StoredLayer): Promise<LayerOutcome> {
    return this.#write((tx) => {
      const current = tx
        .select({ state: images.state, layerKey: images.layerKey, json: images.json })
        .from(images)
        .where(eq(images.id, id))
        .get();
      // another row's bytes: only while that blob still names them
      if (layer.blob !== undefined && !tx.select({ d: blobs.digest }).from(blobs).where(and(eq(blobs.digest, layer.blob), eq(blobs.key, layer.key))).get()) {
        return { recorded: false, replacedKey: null };
      }
      const outcome = rule.layerOutcome(current, layer);
      if (outcome.recorded) tx.update(images).set(rec.layerValues(layer, Date.now())).where(eq(images.id, id)).run();
      return outcome;
    });
  }

  async markReady(id: string, layerKey?: string): Promise<boolean> {
    const set = rec.readyValues(Date.now());
    return this.#changed((tx) => tx.update(images).set(set).where(rule.completes(images, id, layerKey)).returning({ id: images.id }).all());
  }

  async putReadyImage(image: NewImage, layer: StoredLayer): Promise<boolean> {
    const values = rec.readyImageValues(image, layer, Date.now());
    return this.#changed((tx) => tx.insert(images).values(values).onConflictDoNothing().returning({ id: images.id }).all());
  }

  async getImageCache(id: string, kind: ImageCacheKind): Promise<string | null> {
    return guard(() => this.#q[kind].get({ id })?.v ?? null);
  }

  async setImageCache(id: string, kind: ImageCacheKind, value: string): Promise<void> {
    this.#write((tx) => tx.update(images).set({ [kind]: value }).where(rule.readyImage(images, id)).run());
  }

  async getRepository(ref: RepoRef): Promise<RepositoryRecord | null> {
    const name = rec.fullName(ref);
    return this.#cached(`repo\0${name}`, () => {
      const row = this.#q.repo.get({ fullName: name });
      return row ? rec.repositoryRecord(row) : null;
    });
  }

  /** In a write transaction (the file's only writer until commit): the row, created if needed. */
  #ensureRepo(tx: Db, ref: RepoRef): RepoRow {
    const existing = tx.select().from(repositories).where(eq(repositories.fullName, rec.fullName(ref))).get();
    return existing ?? tx.insert(repositories).values(rec.newRepositoryValues(ref, Date.now())).returning().get();
  }

  /** What its tags and manifests pointed at is touched: a pull in flight keeps it for the grace period. */
  async deleteRepository(ref: RepoRef): Promise<boolean> {
    const name = rec.fullName(ref);
    return this.#changed((tx) => {
      const now = Date.now();
      tx.update(images).set({ usedAt: now }).where(gc.namedByTags(images, tags, rule.inRepository(schema, tags, name))).run();
      tx.update(blobs).set({ usedAt: now }).where(gc.referencedBy(blobs, manifestReferences, rule.inRepository(schema, manifestReferences, name))).run();
      return tx.delete(repositories).where(eq(repositories.fullName, name)).returning({ id: repositories.id }).all();
    });
  }

  async setPrivate(ref: RepoRef, isPrivate: boolean): Promise<void> {
    this.#write((tx) => {
      const row = this.#ensureRepo(tx, ref);
      tx.update(repositories).set({ private: isPrivate, updatedAt: Date.now() }).where(eq(repositories.id, row.id)).run();
    });
  }

  async updateIndexImages(ref: RepoRef, merge: (current: string | null) => string): Promise<{ created: boolean }> {
    return this.#write((tx) => {
      const row = this.#ensureRepo(tx, ref);
      const set = { indexImages: merge(row.indexImages), updatedAt: Date.now() };
      tx.update(repositories).set(set).where(eq(repositories.id, row.id)).run();
      return { created: row.indexImages === null };
    });
  }

  async repositoriesListingImage(id: string): Promise<RepositoryRecord[]> {
    return guard(() => this.#q.listingImage.all({ id }).map(rec.repositoryRecord));
  }

  async listTags(ref: RepoRef): Promise<TagRecord[] | null> {
    const name = rec.fullName(ref);
    return this.#cached(`tags\0${name}`, () => {
      const repo = this.#q.repoId.get({ fullName: name });
      return repo ? this.#q.tags.all({ repoId: repo.id }) : null;
    });
  }

  async getTag(ref: RepoRef, tag: string): Promise<TagRecord | null> {
    const name = rec.fullName(ref);
    return this.#cached(`tag\0${name}\0${tag}`, () => this.#q.tag.get({ fullName: name, tag }) ?? null);
  }

  async putTag(ref: RepoRef, tag: TagRecord, options: VerifiedWrite = {}): Promise<boolean> {
    return this.#write((tx) => {
      if (options.verify && !this.#imageChainExists(tx, tag.imageId)) return false;
      const row = this.#ensureRepo(tx, ref);
      const set = rec.tagValues(tag, Date.now());
      // the image the tag leaves is released: touched (see deleteTag)
      tx.update(images).set({ usedAt: set.updatedAt }).where(gc.namedByTags(images, tags, and(eq(tags.repositoryId, row.id), eq(tags.name, tag.name)))).run();
      tx.insert(tags)
        .values({ repositoryId: row.id, name: tag.name, ...set })
        .onConflictDoUpdate({ target: [tags.repositoryId, tags.name], set })
        .run();
      return true;
    });
  }

  /** In a write transaction: the image and every image of its ancestry exist. */
  #imageChainExists(tx: Db, id: string): boolean {
    const ancestry = gc.parseAncestry(tx.select({ ancestry: images.ancestry }).from(images).where(eq(images.id, id)).get());
    if (!ancestry) return false;
    const found = gc.slices(ancestry).reduce((n, ids) => n + tx.select({ id: images.id }).from(images).where(inArray(images.id, ids)).all().length, 0);
    return found === new Set(ancestry).size;
  }

  /** The image it pointed at is touched: a pull in flight keeps it for the grace period. */
  async deleteTag(ref: RepoRef, tag: string): Promise<boolean> {
    const named = and(rule.inRepository(schema, tags, rec.fullName(ref)), eq(tags.name, tag));
    return this.#changed((tx) => {
      tx.update(images).set({ usedAt: Date.now() }).where(gc.namedByTags(images, tags, named)).run();
      return tx.delete(tags).where(named).returning({ name: tags.name }).all();
    });
  }

  async search(query: string, limit: number, offset: number, visible: PrivateVisibility = 'all'): Promise<SearchPage> {
    const { where, orderBy } = rule.searchQuery(repositories, query, visible, match, sql`${repositories.fullName}`);
    const hit = { name: repositories.fullName, description: repositories.description };
    return guard(() => ({
      total: this.db.select({ n: count() }).from(repositories).where(where).get()?.n ?? 0,
      results: this.db.select(hit).from(repositories).where(where).orderBy(...orderBy).limit(limit).offset(offset).all(),
    }));
  }

  async createUser(user: NewUser): Promise<boolean> {
    const values = rec.newUserValues(user, Date.now());
    return this.#changed((tx) => tx.insert(users).values(values).onConflictDoNothing().returning({ username: users.username }).all());
  }

  async getUser(username: string): Promise<UserRecord | null> {
    return guard(() => this.#q.user.get({ username }) ?? null);
  }

  async updateUser(username: string, changes: UserChanges): Promise<boolean> {
    const set = rec.userChanges(changes);
    if (!set) return (await this.getUser(username)) !== null;
    return this.#changed((tx) => tx.update(users).set(set).where(eq(users.username, username)).returning({ username: users.username }).all());
  }

  async setUserAdmin(username: string, admin: boolean): Promise<boolean> {
    return this.#changed((tx) => tx.update(users).set({ admin }).where(eq(users.username, username)).returning({ username: users.username }).all());
  }

  async deleteUser(username: string): Promise<boolean> {
    return this.#changed((tx) => tx.delete(users).where(eq(users.username, username)).returning({ username: users.username }).all());
  }

  // ---- V2 ----

  async getBlob(digest: string): Promise<BlobRecord | null> {
    return guard(() => this.#q.blob.get({ digest }) ?? null);
  }

  async touchBlob(digest: string, staleBefore: number): Promise<boolean> {
    const row = guard(() => this.db.select({ base: blobs.createdAt, usedAt: blobs.usedAt }).from(blobs).where(eq(blobs.digest, digest)).get());
    if (!row) return false;
    if (gc.usedSince(row, staleBefore)) return true;
    const stale = and(eq(blobs.digest, digest), gc.lastUsedBefore(blobs.createdAt, blobs.usedAt, staleBefore));
    const touched = this.#changed((tx) => tx.update(blobs).set({ usedAt: Date.now() }).where(stale).returning({ d: blobs.digest }).all());
    return touched || (await this.getBlob(digest)) !== null;
  }

  async getLinkedBlob(ref: RepoRef, digest: string): Promise<BlobRecord | null> {
    return guard(() => this.#q.linkedBlob.get({ fullName: rec.fullName(ref), digest }) ?? null);
  }

  async putBlob(ref: RepoRef, blob: NewBlob): Promise<{ blob: BlobRecord; created: boolean }> {
    return this.#write((tx) => {
      const now = Date.now();
      const repo = this.#ensureRepo(tx, ref);
      const inserted = tx.insert(blobs).values(rec.newBlobValues(blob, now)).onConflictDoNothing().returning(rule.blobFields(blobs)).get();
      const record = inserted ?? this.#touchedBlob(tx, blob.digest, now)!;
      tx.insert(repositoryBlobs).values(rec.blobLinkValues(repo.id, blob.digest, now)).onConflictDoNothing().run();
      return { blob: record, created: inserted !== undefined };
    });
  }

  /** In a write transaction: the blob, touched (last used now); undefined when absent. */
  #touchedBlob(tx: Db, digest: string, now: number): BlobRecord | undefined {
    return tx.update(blobs).set({ usedAt: now }).where(eq(blobs.digest, digest)).returning(rule.blobFields(blobs)).get();
  }

  async putLayerBlob(ref: RepoRef, imageId: string, blob: NewBlob): Promise<BlobRecord | null> {
    return this.#write((tx) => {
      const now = Date.now();
      let record = this.#touchedBlob(tx, blob.digest, now);
      if (!record) {
        const named = tx.select({ id: images.id }).from(images).where(and(eq(images.id, imageId), eq(images.layerKey, blob.key))).get();
        if (!named) return null;
        record = tx.insert(blobs).values(rec.newBlobValues(blob, now)).returning(rule.blobFields(blobs)).get();
      }
      const repo = this.#ensureRepo(tx, ref);
      tx.insert(repositoryBlobs).values(rec.blobLinkValues(repo.id, blob.digest, now)).onConflictDoNothing().run();
      return record;
    });
  }

  async linkBlob(ref: RepoRef, digest: string): Promise<BlobRecord | null> {
    return this.#write((tx) => {
      const now = Date.now();
      const blob = this.#touchedBlob(tx, digest, now);
      if (!blob) return null;
      const repo = this.#ensureRepo(tx, ref);
      tx.insert(repositoryBlobs).values(rec.blobLinkValues(repo.id, digest, now)).onConflictDoNothing().run();
      return blob;
    });
  }

  async unlinkBlob(ref: RepoRef, digest: string): Promise<boolean> {
    const linked = and(rule.inRepository(schema, repositoryBlobs, rec.fullName(ref)), eq(repositoryBlobs.digest, digest));
    return this.#changed((tx) => tx.delete(repositoryBlobs).where(linked).returning({ digest: repositoryBlobs.digest }).all());
  }

  async createUpload(id: string, ref: RepoRef): Promise<UploadRecord> {
    const values = rec.newUploadValues(id, ref, Date.now());
    return this.#write((tx) => tx.insert(uploadSessions).values(values).returning().get());
  }

  async getUpload(id: string): Promise<UploadRecord | null> {
    return guard(() => this.db.select().from(uploadSessions).where(eq(uploadSessions.id, id)).get() ?? null);
  }

  async appendUpload(id: string, expected: { offset: number; chunks: number }, size: number, digest: string | null = null, chunkNames?: string): Promise<UploadRecord | null> {
    const set = rec.appendedUploadValues(expected, size, digest, Date.now(), chunkNames);
    const where = rule.uploadAt(uploadSessions, id, expected);
    return this.#write((tx) => tx.update(uploadSessions).set(set).where(where).returning().get() ?? null);
  }

  async deleteUpload(id: string, idleBefore?: number): Promise<boolean> {
    const where = rule.uploadToEnd(uploadSessions, id, idleBefore);
    return this.#changed((tx) => tx.delete(uploadSessions).where(where).returning({ id: uploadSessions.id }).all());
  }

  async staleUploads(before: number, limit: number): Promise<UploadRecord[]> {
    const { where, orderBy } = rule.staleUploadQuery(uploadSessions, before);
    return guard(() => this.db.select().from(uploadSessions).where(where).orderBy(...orderBy).limit(limit).all());
  }

  async getManifest(ref: RepoRef, digest: string): Promise<ManifestRecord | null> {
    const row = guard(() => this.#q.manifest.get({ fullName: rec.fullName(ref), digest }));
    return row ? manifestRecord(row) : null;
  }

  async getTaggedManifest(ref: RepoRef, tag: string): Promise<ManifestRecord | null> {
    const name = rec.fullName(ref);
    // the cached record is frozen; its bytes are copied for each caller
    const row = this.#cached(`tagm\0${name}\0${tag}`, () => this.#q.taggedManifest.get({ fullName: name, tag }) ?? null);
    return row ? manifestRecord(row) : null;
  }

  async putManifest(ref: RepoRef, manifest: NewManifest, tag?: string, options: VerifiedWrite = {}): Promise<string | null> {
    return this.#write((tx) => {
      const now = Date.now();
      if (options.verify) {
        // before the repository is created: a refused manifest leaves nothing behind
        const missing = this.#missingReference(tx, rec.fullName(ref), manifest);
        if (missing !== null) return missing;
      }
      const repo = this.#ensureRepo(tx, ref);
      const stored = tx.insert(manifests).values(rec.newManifestValues(repo.id, manifest, now)).onConflictDoNothing().returning({ d: manifests.digest }).all();
      const references = rec.manifestReferenceValues(repo.id, manifest);
      if (stored.length > 0 && references.length > 0) tx.insert(manifestReferences).values(references).onConflictDoNothing().run();
      if (tag === undefined) return null;
      const set = rec.manifestTagValues(manifest.digest, now);
      // a V1 image the tag named is released: touched (see deleteTag)
      tx.update(images).set({ usedAt: now }).where(gc.namedByTags(images, tags, and(eq(tags.repositoryId, repo.id), eq(tags.name, tag)))).run();
      tx.insert(tags)
        .values({ repositoryId: repo.id, name: tag, ...set })
        .onConflictDoUpdate({ target: [tags.repositoryId, tags.name], set })
        .run();
      return null;
    });
  }

  /** In a write transaction: what a new manifest references that the repository lacks (see putManifest). */
  #missingReference(tx: Db, name: string, manifest: NewManifest): string | null {
    const repositoryId = tx.select({ id: repositories.id }).from(repositories).where(eq(repositories.fullName, name)).get()?.id ?? -1;
    const inRepo = and(eq(manifests.repositoryId, repositoryId), eq(manifests.digest, manifest.digest));
    if (tx.select({ d: manifests.digest }).from(manifests).where(inRepo).get()) return null;
    const wanted = gc.referencesByKind(manifest.references);
    const linked = gc.slices(wanted.blobs).flatMap((digests) =>
      tx
        .select({ d: repositoryBlobs.digest })
        .from(repositoryBlobs)
        .where(and(eq(repositoryBlobs.repositoryId, repositoryId), inArray(repositoryBlobs.digest, digests)))
        .all(),
    );
    const children = gc.slices(wanted.manifests).flatMap((digests) =>
      tx.select({ d: manifests.digest }).from(manifests).where(and(eq(manifests.repositoryId, repositoryId), inArray(manifests.digest, digests))).all(),
    );
    return gc.missingReference(manifest.references, linked.map((r) => r.d), children.map((r) => r.d));
  }

  /** What it referenced, and the images of the tags deleted with it, are touched (see deleteTag). */
  async deleteManifest(ref: RepoRef, digest: string): Promise<boolean> {
    const named = rule.manifestIn(schema, rec.fullName(ref), digest);
    return this.#write((tx) => {
      const found = tx.select({ repositoryId: manifests.repositoryId }).from(manifests).where(named).get();
      if (!found) return false;
      const now = Date.now();
      const ofManifest = and(eq(manifestReferences.repositoryId, found.repositoryId), eq(manifestReferences.manifestDigest, digest));
      tx.update(blobs).set({ usedAt: now }).where(gc.referencedBy(blobs, manifestReferences, ofManifest)).run();
      const itsTags = rule.tagsOfManifest(tags, found.repositoryId, digest);
      tx.update(images).set({ usedAt: now }).where(gc.namedByTags(images, tags, itsTags)).run();
      // its references go with it (foreign key ON DELETE CASCADE)
      tx.delete(manifests).where(named).run();
      tx.delete(tags).where(itsTags).run();
      return true;
    });
  }

  async listReferrers(ref: RepoRef, subject: string): Promise<ManifestRecord[]> {
    const where = rule.referrersOf(schema, rec.fullName(ref), subject);
    const rows = guard(() => this.db.select(rule.manifestFields(manifests)).from(manifests).where(where).orderBy(asc(manifests.digest)).all());
    return rows.map(manifestRecord);
  }

  async listTagNames(ref: RepoRef, options: ListOptions = {}): Promise<string[] | null> {
    const name = rec.fullName(ref);
    return this.#cached(`tagnames\0${name}\0${options.last ?? ''}\0${options.last === undefined}\0${options.n ?? ''}`, () => {
      const repo = this.#q.repoId.get({ fullName: name });
      if (!repo) return null;
      const page = rule.namePage(tags.name, options);
      const where = and(eq(tags.repositoryId, repo.id), rule.anyTag(tags), page.where);
      return this.db.select({ name: tags.name }).from(tags).where(where).orderBy(page.orderBy).limit(page.limit).all().map((r) => r.name);
    });
  }

  async listRepositories(options: ListOptions = {}): Promise<string[]> {
    const page = rule.namePage(repositories.fullName, options);
    const rows = guard(() => this.db.select({ name: repositories.fullName }).from(repositories).where(page.where).orderBy(page.orderBy).limit(page.limit).all());
    return rows.map((r) => r.name);
  }

  async bridgeTag(ref: RepoRef, tag: string, imageId: string, manifestDigest: string): Promise<boolean> {
    const where = rule.bridgeable(schema, rec.fullName(ref), tag, imageId, manifestDigest);
    const manifest = rule.manifestIn(schema, rec.fullName(ref), manifestDigest);
    return this.#changed((tx) => {
      if (!this.#imageChainExists(tx, imageId) || !tx.select({ d: manifests.digest }).from(manifests).where(manifest).get()) return [];
      return tx.update(tags).set(rec.bridgedTagValues(imageId, manifestDigest, Date.now())).where(where).returning({ name: tags.name }).all();
    });
  }

  // ---- garbage collection ----

  async collectableImages(after: string | null, limit: number): Promise<CollectableImage[]> {
    const page = rule.namePage(images.id, { last: after ?? undefined, n: limit });
    const rows = guard(() => this.db.select(gc.collectableImageFields(images)).from(images).where(page.where).orderBy(page.orderBy).limit(page.limit).all());
    return rows.map(gc.collectableImage);
  }

  async taggedImageIds(after: string | null, limit: number): Promise<string[]> {
    const page = rule.namePage(tags.imageId, { last: after ?? undefined, n: limit });
    const where = and(gc.taggedImage(tags), page.where);
    const rows = guard(() => this.db.selectDistinct({ id: tags.imageId }).from(tags).where(where).orderBy(page.orderBy).limit(page.limit).all());
    return rows.map((r) => r.id!);
  }

  async collectableBlobs(after: string | null, limit: number): Promise<CollectableBlob[]> {
    const page = rule.namePage(blobs.digest, { last: after ?? undefined, n: limit });
    const fields = { digest: blobs.digest, key: blobs.key, size: blobs.size, createdAt: blobs.createdAt, usedAt: blobs.usedAt, referenced: gc.blobReferenced(blobs, manifestReferences) };
    const rows = guard(() => this.db.select(fields).from(blobs).where(page.where).orderBy(page.orderBy).limit(page.limit).all());
    return rows.map(gc.collectableBlob);
  }

  async deleteImageIfUnused(id: string, before: number): Promise<{ key: string | null; size: number } | null> {
    const where = gc.unusedImage(images, tags, id, before);
    const row = this.#write((tx) => tx.delete(images).where(where).returning({ key: images.layerKey, size: images.layerSize }).get());
    return row ? { key: row.key, size: row.size ?? 0 } : null;
  }

  async deleteBlobIfUnused(digest: string, before: number): Promise<{ key: string; size: number } | null> {
    return this.#write((tx) => {
      const row = tx.select({ key: blobs.key, size: blobs.size }).from(blobs).where(gc.unusedBlob(blobs, manifestReferences, digest, before)).get();
      if (!row) return null;
      tx.delete(repositoryBlobs).where(eq(repositoryBlobs.digest, digest)).run();
      tx.delete(blobs).where(eq(blobs.digest, digest)).run();
      return row;
    });
  }

  async keysInUse(keys: string[]): Promise<string[]> {
    return guard(() => gc.slices(keys).flatMap((some) => this.db.all<{ k: string }>(gc.keysNamed(images, blobs, some)).map((r) => r.k)));
  }

  async acquireLease(name: string, holder: string, ttlMs: number): Promise<LeaseState> {
    const { values, onConflict } = gc.leaseUpsert(leases, name, holder, ttlMs, Date.now());
    return this.#write((tx) => {
      const taken = tx.insert(leases).values(values).onConflictDoUpdate(onConflict).returning().get();
      return gc.leaseState(taken ?? tx.select().from(leases).where(eq(leases.name, name)).get()!, holder);
    });
  }

  async releaseLease(name: string, holder: string): Promise<boolean> {
    return this.#changed((tx) => tx.delete(leases).where(and(eq(leases.name, name), eq(leases.holder, holder))).returning({ n: leases.name }).all());
  }

  close(): void {
    this.#walIndex = null;
    this.db.$client.close();
  }
}
