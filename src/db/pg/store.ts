/**
 * (Over 300 lines on purpose: one class is one backend's whole contract, V1 and V2, because every
 * method shares its pool, its guarded-run and transaction helpers; the rules themselves live in
 * ../rules.ts and ../records.ts.)
 *
 * MetaStore on PostgreSQL through Drizzle over Bun's built-in client (`drizzle-orm/bun-sql`); the
 * row rules are ../rules.ts and ../records.ts, shared with the SQLite store. What differs is how
 * the rules are made safe for many processes on many nodes:
 * - conditional writes are single statements (`INSERT … ON CONFLICT … DO UPDATE … WHERE`,
 *   `UPDATE … WHERE state = 'uploading' RETURNING`) or transactions that lock the row they read
 *   (`SELECT … FOR UPDATE`), so a check and its write never interleave with another node's;
 * - hot reads are prepared once (Bun then keeps a named server-side statement per connection);
 * - orderings use `COLLATE "C"`, SQLite's byte order, whatever the database's collation;
 * - every operation runs through ../failures.ts `runGuarded` with pg/client.ts's classifier: a
 *   dropped connection costs one retry of the whole operation, an unreachable server fails with
 *   METADATA_UNAVAILABLE instead of hanging.
 */
import { and, count, eq, inArray, sql } from 'drizzle-orm';
import { catalogueError, runGuarded } from '../failures.ts';
import type { ImageCacheKind, ImageRecord, LayerOutcome, MetaStore, NewImage, NewUser, PrivateVisibility } from '../meta.ts';
import type { RepoRef, RepositoryRecord, SearchPage, StoredLayer, TagRecord, UserChanges, UserRecord } from '../meta.ts';
import type { BlobRecord, ListOptions, ManifestRecord, NewBlob, NewManifest, UploadRecord, VerifiedWrite } from '../meta.ts';
import type { CollectableBlob, CollectableImage, LeaseState } from '../meta.ts';
import * as gc from '../gc-rules.ts';
import * as rec from '../records.ts';
import * as rule from '../rules.ts';
import { openPg, pgFailure, type PgDb } from './client.ts';
import { migratePostgres } from './migrate.ts';
import { byteOrder, listsImage, match, prepareQueries } from './queries.ts';
import * as schema from './schema.ts';
import { blobs, images, leases, manifestReferences, manifests, repositories, repositoryBlobs, tags, uploadSessions, users } from './schema.ts';

export { PG_APPLICATION_NAME, connectionFailure, type PgDb } from './client.ts';

type Tx = Parameters<Parameters<PgDb['transaction']>[0]>[0];
type RepoRow = typeof repositories.$inferSelect;

export interface PgOpenOptions {
  /** apply the embedded migrations first (under an advisory lock) */
  migrate: boolean;
  /** pool size of this process (Bun's default: 10) */
  max?: number;
  /** seconds to wait for a connection before the operation fails with METADATA_UNAVAILABLE */
  connectTimeout?: number;
}

/** Attempts at creating a repository that other nodes keep deleting before giving up. */
const ENSURE_ATTEMPTS = 5;

export class PgMetaStore implements MetaStore {
  readonly db: PgDb;
  readonly #q: ReturnType<typeof prepareQueries>;

  constructor(db: PgDb) {
    this.db = db;
    this.#q = prepareQueries(db);
  }

  /**
   * Connects (migrating first when told to) and checks the server answers, so a wrong URL or an
   * unreachable server fails at start-up.
   */
  static async open(url: string, opts: PgOpenOptions): Promise<PgMetaStore> {
    const connectTimeout = opts.connectTimeout ?? 5;
    if (opts.migrate) {
      try {
        await migratePostgres(url, { connectTimeout });
      } catch (e) {
        throw catalogueError(e, pgFailure);
      }
    }
    const db = openPg(url, { max: opts.max ?? 10, connectTimeout });
    const store = new PgMetaStore(db);
    try {
      await store.#run(() => db.$client`SELECT 1`);
    } catch (e) {
      store.close();
      throw e;
    }
    return store;
  }

  /** One operation (a statement or a whole transaction), guarded (see the top). */
  #run<T>(op: () => PromiseLike<T>): Promise<T> {
    return runGuarded(op, pgFailure);
  }

  #transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.#run(() => this.db.transaction(fn));
  }

  /** Whether a statement returning its rows changed any. */
  async #changed(op: () => PromiseLike<unknown[]>): Promise<boolean> {
    return (await this.#run(op)).length > 0;
  }

  /** A read first: only a row last used before `staleBefore` costs a write. */
  async touchImage(id: string, staleBefore: number): Promise<boolean> {
    const [row] = await this.#run(() => this.db.select({ base: images.updatedAt, usedAt: images.usedAt }).from(images).where(eq(images.id, id)));
    if (!row) return false;
    if (gc.usedSince(row, staleBefore)) return true;
    const stale = and(eq(images.id, id), gc.lastUsedBefore(images.updatedAt, images.usedAt, staleBefore));
    // the update takes the row lock garbage collection's delete takes: one waits for the other
    const touched = await this.#changed(() => this.db.update(images).set({ usedAt: Date.now() }).where(stale).returning({ id: images.id }));
    return touched || (await this.getImage(id)) !== null;
  }

  async putImageIfUploading(image: NewImage): Promise<boolean> {
    const { values, onConflict } = rule.putImageUpsert(images, image, Date.now());
    return this.#changed(() => this.db.insert(images).values(values).onConflictDoUpdate(onConflict).returning({ id: images.id }));
  }

  async getImage(id: string): Promise<ImageRecord | null> {
    const [row] = await this.#run(() => this.#q.image.execute({ id }));
    return row ? rec.imageRecord(row) : null;
  }

  async setLayerIfUploading(id: string, layer: StoredLayer): Promise<LayerOutcome> {
    return this.#transaction(async (tx) => {
      const [current] = await tx
        .select({ state: images.state, layerKey: images.layerKey, json: images.json })
        .from(images)
        .where(eq(images.id, id))
        .for('update');
      if (layer.blob !== undefined) {
        // another row's bytes: only while that blob still names them (locked until commit)
        const [named] = await tx.select({ d: blobs.digest }).from(blobs).where(and(eq(blobs.digest, layer.blob), eq(blobs.key, layer.key))).for('key share');
        if (!named) return { recorded: false, replacedKey: null };
      }
      const outcome = rule.layerOutcome(current, layer);
      if (outcome.recorded) await tx.update(images).set(rec.layerValues(layer, Date.now())).where(eq(images.id, id));
      return outcome;
    });
  }

  async markReady(id: string, layerKey?: string): Promise<boolean> {
    const set = rec.readyValues(Date.now());
    return this.#changed(() => this.db.update(images).set(set).where(rule.completes(images, id, layerKey)).returning({ id: images.id }));
  }

  async putReadyImage(image: NewImage, layer: StoredLayer): Promise<boolean> {
    const values = rec.readyImageValues(image, layer, Date.now());
    return this.#changed(() => this.db.insert(images).values(values).onConflictDoNothing().returning({ id: images.id }));
  }

  async getImageCache(id: string, kind: ImageCacheKind): Promise<string | null> {
    const [row] = await this.#run(() => this.#q[kind].execute({ id }));
    return row?.v ?? null;
  }

  async setImageCache(id: string, kind: ImageCacheKind, value: string): Promise<void> {
    await this.#run(() => this.db.update(images).set({ [kind]: value }).where(rule.readyImage(images, id)));
  }

  async getRepository(ref: RepoRef): Promise<RepositoryRecord | null> {
    const [row] = await this.#run(() => this.#q.repo.execute({ fullName: rec.fullName(ref) }));
    return row ? rec.repositoryRecord(row) : null;
  }

  /**
   * In a transaction: the repository row, created if needed, locked until commit — `update` for
   * a read-modify-write of the row, `key share` to only keep it from being deleted.
   */
  async #lockRepo(tx: Tx, ref: RepoRef, lock: 'update' | 'key share'): Promise<RepoRow> {
    const name = rec.fullName(ref);
    for (let attempt = 0; attempt < ENSURE_ATTEMPTS; attempt++) {
      const [existing] = await tx.select().from(repositories).where(eq(repositories.fullName, name)).for(lock);
      if (existing) return existing;
      // the new row is this transaction's until commit; on a conflict the other one has committed
      // by now, and the next SELECT sees (and locks) it unless it was deleted again
      const [inserted] = await tx
        .insert(repositories)
        .values(rec.newRepositoryValues(ref, Date.now()))
        .onConflictDoNothing({ target: repositories.fullName })
        .returning();
      if (inserted) return inserted;
    }
    throw new Error(`repository ${name} was deleted ${ENSURE_ATTEMPTS} times while being created`);
  }

  /**
   * What its tags and manifests pointed at is touched: a pull in flight keeps it for the grace period.
   * The repository row is locked first: a write into the repository (putManifest, putTag) takes
   * it (key share) before it updates any row, so taking it after updating some (a tag's image)
   * would deadlock with such a write.
   */
  async deleteRepository(ref: RepoRef): Promise<boolean> {
    const name = rec.fullName(ref);
    return this.#transaction(async (tx) => {
      const [found] = await tx.select({ id: repositories.id }).from(repositories).where(eq(repositories.fullName, name)).for('update');
      if (!found) return false;
      const now = Date.now();
      await tx.update(images).set({ usedAt: now }).where(gc.namedByTags(images, tags, rule.inRepository(schema, tags, name)));
      await tx.update(blobs).set({ usedAt: now }).where(gc.referencedBy(blobs, manifestReferences, rule.inRepository(schema, manifestReferences, name)));
      return (await tx.delete(repositories).where(eq(repositories.fullName, name)).returning({ id: repositories.id })).length > 0;
    });
  }

  async setPrivate(ref: RepoRef, isPrivate: boolean): Promise<void> {
    const now = Date.now();
    await this.#run(() =>
      this.db
        .insert(repositories)
        .values({ ...rec.newRepositoryValues(ref, now), private: isPrivate })
        .onConflictDoUpdate({ target: repositories.fullName, set: { private: isPrivate, updatedAt: now } }),
    );
  }

  async updateIndexImages(ref: RepoRef, merge: (current: string | null) => string): Promise<{ created: boolean }> {
    return this.#transaction(async (tx) => {
      const row = await this.#lockRepo(tx, ref, 'update');
      const set = { indexImages: merge(row.indexImages), updatedAt: Date.now() };
      await tx.update(repositories).set(set).where(eq(repositories.id, row.id));
      return { created: row.indexImages === null };
    });
  }

  async repositoriesListingImage(id: string): Promise<RepositoryRecord[]> {
    const rows = await this.#run(() => this.#q.listing.execute({ pattern: rule.containsPattern(id) }));
    return rows.filter((row) => row.indexImages !== null && listsImage(row.indexImages, id)).map(rec.repositoryRecord);
  }

  async listTags(ref: RepoRef): Promise<TagRecord[] | null> {
    const rows = await this.#run(() => this.#q.tags.execute({ fullName: rec.fullName(ref) }));
    if (rows.length === 0) return null;
    const out: TagRecord[] = [];
    for (const r of rows) {
      if (r.name !== null && r.imageId !== null && r.metadata !== null) out.push({ name: r.name, imageId: r.imageId, metadata: r.metadata });
    }
    return out;
  }

  async getTag(ref: RepoRef, tag: string): Promise<TagRecord | null> {
    const [row] = await this.#run(() => this.#q.tag.execute({ fullName: rec.fullName(ref), tag }));
    return row ?? null;
  }

  async putTag(ref: RepoRef, tag: TagRecord, options: VerifiedWrite = {}): Promise<boolean> {
    return this.#transaction(async (tx) => {
      if (options.verify && !(await this.#lockImageChain(tx, tag.imageId))) return false;
      const row = await this.#lockRepo(tx, ref, 'key share');
      const set = rec.tagValues(tag, Date.now());
      // the image the tag leaves is released: touched (see deleteTag)
      await tx.update(images).set({ usedAt: set.updatedAt }).where(gc.namedByTags(images, tags, and(eq(tags.repositoryId, row.id), eq(tags.name, tag.name))));
      await tx
        .insert(tags)
        .values({ repositoryId: row.id, name: tag.name, ...set })
        .onConflictDoUpdate({ target: [tags.repositoryId, tags.name], set });
      return true;
    });
  }

  /**
   * In a transaction: whether the image and every image of its ancestry exist, locking them (key
   * share) until commit, so that garbage collection's delete (which locks for update) either
   * happened before — then they are not found — or waits and then sees what this transaction wrote.
   */
  async #lockImageChain(tx: Tx, id: string): Promise<boolean> {
    const [top] = await tx.select({ ancestry: images.ancestry }).from(images).where(eq(images.id, id)).for('key share');
    const ancestry = gc.parseAncestry(top);
    if (!ancestry) return false;
    let found = 0;
    for (const ids of gc.slices(ancestry)) found += (await tx.select({ id: images.id }).from(images).where(inArray(images.id, ids)).for('key share')).length;
    return found === new Set(ancestry).size;
  }

  /** The image it pointed at is touched: a pull in flight keeps it for the grace period. */
  async deleteTag(ref: RepoRef, tag: string): Promise<boolean> {
    const named = and(rule.inRepository(schema, tags, rec.fullName(ref)), eq(tags.name, tag));
    return this.#transaction(async (tx) => {
      await tx.update(images).set({ usedAt: Date.now() }).where(gc.namedByTags(images, tags, named));
      return (await tx.delete(tags).where(named).returning({ name: tags.name })).length > 0;
    });
  }

  async search(query: string, limit: number, offset: number, visible: PrivateVisibility = 'all'): Promise<SearchPage> {
    const { where, orderBy } = rule.searchQuery(repositories, query, visible, match, byteOrder(repositories.fullName));
    const hit = { name: repositories.fullName, description: repositories.description };
    const [counted, results] = await Promise.all([
      this.#run(() => this.db.select({ n: count() }).from(repositories).where(where)),
      this.#run(() => this.db.select(hit).from(repositories).where(where).orderBy(...orderBy).limit(limit).offset(offset)),
    ]);
    return { total: counted[0]?.n ?? 0, results };
  }

  async createUser(user: NewUser): Promise<boolean> {
    const values = rec.newUserValues(user, Date.now());
    return this.#changed(() => this.db.insert(users).values(values).onConflictDoNothing().returning({ username: users.username }));
  }

  async getUser(username: string): Promise<UserRecord | null> {
    const [row] = await this.#run(() => this.#q.user.execute({ username }));
    return row ?? null;
  }

  async updateUser(username: string, changes: UserChanges): Promise<boolean> {
    const set = rec.userChanges(changes);
    if (!set) return (await this.getUser(username)) !== null;
    return this.#changed(() => this.db.update(users).set(set).where(eq(users.username, username)).returning({ username: users.username }));
  }

  async setUserAdmin(username: string, admin: boolean): Promise<boolean> {
    return this.#changed(() => this.db.update(users).set({ admin }).where(eq(users.username, username)).returning({ username: users.username }));
  }

  async deleteUser(username: string): Promise<boolean> {
    return this.#changed(() => this.db.delete(users).where(eq(users.username, username)).returning({ username: users.username }));
  }

  // ---- V2 ----

  async getBlob(digest: string): Promise<BlobRecord | null> {
    const [row] = await this.#run(() => this.#q.blob.execute({ digest }));
    return row ?? null;
  }

  async touchBlob(digest: string, staleBefore: number): Promise<boolean> {
    const [row] = await this.#run(() => this.db.select({ base: blobs.createdAt, usedAt: blobs.usedAt }).from(blobs).where(eq(blobs.digest, digest)));
    if (!row) return false;
    if (gc.usedSince(row, staleBefore)) return true;
    const stale = and(eq(blobs.digest, digest), gc.lastUsedBefore(blobs.createdAt, blobs.usedAt, staleBefore));
    const touched = await this.#changed(() => this.db.update(blobs).set({ usedAt: Date.now() }).where(stale).returning({ d: blobs.digest }));
    return touched || (await this.getBlob(digest)) !== null;
  }

  async getLinkedBlob(ref: RepoRef, digest: string): Promise<BlobRecord | null> {
    const [row] = await this.#run(() => this.#q.linkedBlob.execute({ fullName: rec.fullName(ref), digest }));
    return row ?? null;
  }

  /**
   * The insert waits for a concurrent insert of the digest and then does nothing; the SELECT that
   * follows (a new snapshot, at READ COMMITTED) sees the record that won.
   */
  async putBlob(ref: RepoRef, blob: NewBlob): Promise<{ blob: BlobRecord; created: boolean }> {
    return this.#transaction(async (tx) => {
      const now = Date.now();
      const repo = await this.#lockRepo(tx, ref, 'key share');
      const [inserted] = await tx.insert(blobs).values(rec.newBlobValues(blob, now)).onConflictDoNothing().returning(rule.blobFields(blobs));
      const record = inserted ?? (await this.#touchedBlob(tx, blob.digest, now));
      await tx.insert(repositoryBlobs).values(rec.blobLinkValues(repo.id, blob.digest, now)).onConflictDoNothing();
      return { blob: record!, created: inserted !== undefined };
    });
  }

  /**
   * In a transaction: the blob, touched (last used now) and so locked until commit, so that it
   * cannot be deleted before the caller's link or reference is in; undefined when absent.
   */
  async #touchedBlob(tx: Tx, digest: string, now: number): Promise<BlobRecord | undefined> {
    const [row] = await tx.update(blobs).set({ usedAt: now }).where(eq(blobs.digest, digest)).returning(rule.blobFields(blobs));
    return row;
  }

  async putLayerBlob(ref: RepoRef, imageId: string, blob: NewBlob): Promise<BlobRecord | null> {
    return this.#transaction(async (tx) => {
      const now = Date.now();
      let record = await this.#touchedBlob(tx, blob.digest, now);
      if (!record) {
        // the image that names the bytes, locked: it cannot be collected before the blob is in
        const [named] = await tx.select({ id: images.id }).from(images).where(and(eq(images.id, imageId), eq(images.layerKey, blob.key))).for('key share');
        if (!named) return null;
        const [inserted] = await tx.insert(blobs).values(rec.newBlobValues(blob, now)).onConflictDoNothing().returning(rule.blobFields(blobs));
        record = inserted ?? (await this.#touchedBlob(tx, blob.digest, now));
        if (!record) return null;
      }
      const repo = await this.#lockRepo(tx, ref, 'key share');
      await tx.insert(repositoryBlobs).values(rec.blobLinkValues(repo.id, blob.digest, now)).onConflictDoNothing();
      return record;
    });
  }

  async linkBlob(ref: RepoRef, digest: string): Promise<BlobRecord | null> {
    return this.#transaction(async (tx) => {
      const now = Date.now();
      const blob = await this.#touchedBlob(tx, digest, now);
      if (!blob) return null;
      const repo = await this.#lockRepo(tx, ref, 'key share');
      await tx.insert(repositoryBlobs).values(rec.blobLinkValues(repo.id, digest, now)).onConflictDoNothing();
      return blob;
    });
  }

  async unlinkBlob(ref: RepoRef, digest: string): Promise<boolean> {
    const linked = and(rule.inRepository(schema, repositoryBlobs, rec.fullName(ref)), eq(repositoryBlobs.digest, digest));
    return this.#changed(() => this.db.delete(repositoryBlobs).where(linked).returning({ digest: repositoryBlobs.digest }));
  }

  async createUpload(id: string, ref: RepoRef): Promise<UploadRecord> {
    const values = rec.newUploadValues(id, ref, Date.now());
    const [row] = await this.#run(() => this.db.insert(uploadSessions).values(values).returning());
    return row!;
  }

  async getUpload(id: string): Promise<UploadRecord | null> {
    const [row] = await this.#run(() => this.db.select().from(uploadSessions).where(eq(uploadSessions.id, id)));
    return row ?? null;
  }

  async appendUpload(id: string, expected: { offset: number; chunks: number }, size: number, digest: string | null = null, chunkNames?: string): Promise<UploadRecord | null> {
    const set = rec.appendedUploadValues(expected, size, digest, Date.now(), chunkNames);
    const where = rule.uploadAt(uploadSessions, id, expected);
    const [row] = await this.#run(() => this.db.update(uploadSessions).set(set).where(where).returning());
    return row ?? null;
  }

  async deleteUpload(id: string, idleBefore?: number): Promise<boolean> {
    const where = rule.uploadToEnd(uploadSessions, id, idleBefore);
    return this.#changed(() => this.db.delete(uploadSessions).where(where).returning({ id: uploadSessions.id }));
  }

  async staleUploads(before: number, limit: number): Promise<UploadRecord[]> {
    const { where, orderBy } = rule.staleUploadQuery(uploadSessions, before);
    return this.#run(() => this.db.select().from(uploadSessions).where(where).orderBy(...orderBy).limit(limit));
  }

  async getManifest(ref: RepoRef, digest: string): Promise<ManifestRecord | null> {
    const [row] = await this.#run(() => this.#q.manifest.execute({ fullName: rec.fullName(ref), digest }));
    return row ?? null;
  }

  async getTaggedManifest(ref: RepoRef, tag: string): Promise<ManifestRecord | null> {
    const [row] = await this.#run(() => this.#q.taggedManifest.execute({ fullName: rec.fullName(ref), tag }));
    return row ?? null;
  }

  /** A concurrent PUT of the same digest waits at the insert, then keeps what the first stored. */
  async putManifest(ref: RepoRef, manifest: NewManifest, tag?: string, options: VerifiedWrite = {}): Promise<string | null> {
    return this.#transaction(async (tx) => {
      const now = Date.now();
      if (options.verify) {
        // before the repository is created: a refused manifest leaves nothing behind
        const missing = await this.#lockReferences(tx, rec.fullName(ref), manifest);
        if (missing !== null) return missing;
      }
      const repo = await this.#lockRepo(tx, ref, 'key share');
      const stored = await tx.insert(manifests).values(rec.newManifestValues(repo.id, manifest, now)).onConflictDoNothing().returning({ d: manifests.digest });
      const references = rec.manifestReferenceValues(repo.id, manifest);
      if (stored.length > 0 && references.length > 0) await tx.insert(manifestReferences).values(references).onConflictDoNothing();
      if (tag === undefined) return null;
      const set = rec.manifestTagValues(manifest.digest, now);
      // a V1 image the tag named is released: touched (see deleteTag)
      await tx.update(images).set({ usedAt: now }).where(gc.namedByTags(images, tags, and(eq(tags.repositoryId, repo.id), eq(tags.name, tag))));
      await tx
        .insert(tags)
        .values({ repositoryId: repo.id, name: tag, ...set })
        .onConflictDoUpdate({ target: [tags.repositoryId, tags.name], set });
      return null;
    });
  }

  /**
   * In a transaction: what a new manifest references that the repository lacks (see putManifest),
   * the blobs found locked (key share) against garbage collection until commit. The repository
   * row and a stored manifest of that digest are locked (key share) first: a repository deleted
   * after the check (its links cascading away) or that manifest deleted by digest after it was
   * found (its tags with it) would otherwise leave this write storing a manifest whose blobs are
   * not linked, or a tag naming a manifest that is gone; locked, the delete waits for the commit
   * and then takes what was written with it.
   */
  async #lockReferences(tx: Tx, name: string, manifest: NewManifest): Promise<string | null> {
    const [repo] = await tx.select({ id: repositories.id }).from(repositories).where(eq(repositories.fullName, name)).for('key share');
    const repositoryId = repo?.id ?? -1;
    const inRepo = and(eq(manifests.repositoryId, repositoryId), eq(manifests.digest, manifest.digest));
    if ((await tx.select({ d: manifests.digest }).from(manifests).where(inRepo).for('key share')).length > 0) return null;
    const wanted = gc.referencesByKind(manifest.references);
    const linked: string[] = [];
    for (const digests of gc.slices(wanted.blobs)) {
      const isLinked = sql`EXISTS (SELECT 1 FROM ${repositoryBlobs} WHERE ${repositoryBlobs.repositoryId} = ${repositoryId} AND ${repositoryBlobs.digest} = ${blobs.digest})`;
      const rows = await tx.select({ d: blobs.digest }).from(blobs).where(and(inArray(blobs.digest, digests), isLinked)).for('key share');
      linked.push(...rows.map((r) => r.d));
    }
    const children: string[] = [];
    for (const digests of gc.slices(wanted.manifests)) {
      const rows = await tx.select({ d: manifests.digest }).from(manifests).where(and(eq(manifests.repositoryId, repositoryId), inArray(manifests.digest, digests))).for('key share');
      children.push(...rows.map((r) => r.d));
    }
    return gc.missingReference(manifest.references, linked, children);
  }

  /** What it referenced, and the images of the tags deleted with it, are touched (see deleteTag). */
  async deleteManifest(ref: RepoRef, digest: string): Promise<boolean> {
    const named = rule.manifestIn(schema, rec.fullName(ref), digest);
    return this.#transaction(async (tx) => {
      const [found] = await tx.select({ repositoryId: manifests.repositoryId }).from(manifests).where(named).for('update');
      if (!found) return false;
      const now = Date.now();
      const ofManifest = and(eq(manifestReferences.repositoryId, found.repositoryId), eq(manifestReferences.manifestDigest, digest));
      await tx.update(blobs).set({ usedAt: now }).where(gc.referencedBy(blobs, manifestReferences, ofManifest));
      const itsTags = rule.tagsOfManifest(tags, found.repositoryId, digest);
      await tx.update(images).set({ usedAt: now }).where(gc.namedByTags(images, tags, itsTags));
      // its references go with it (foreign key ON DELETE CASCADE)
      await tx.delete(manifests).where(named);
      await tx.delete(tags).where(itsTags);
      return true;
    });
  }

  async listReferrers(ref: RepoRef, subject: string): Promise<ManifestRecord[]> {
    const where = rule.referrersOf(schema, rec.fullName(ref), subject);
    return this.#run(() => this.db.select(rule.manifestFields(manifests)).from(manifests).where(where).orderBy(byteOrder(manifests.digest)));
  }

  async listTagNames(ref: RepoRef, options: ListOptions = {}): Promise<string[] | null> {
    const [repo] = await this.#run(() => this.#q.repo.execute({ fullName: rec.fullName(ref) }));
    if (!repo) return null;
    const page = rule.namePage(byteOrder(tags.name), options);
    const where = and(eq(tags.repositoryId, repo.id), rule.anyTag(tags), page.where);
    const rows = await this.#run(() => this.db.select({ name: tags.name }).from(tags).where(where).orderBy(page.orderBy).limit(page.limit));
    return rows.map((r) => r.name);
  }

  async listRepositories(options: ListOptions = {}): Promise<string[]> {
    const page = rule.namePage(byteOrder(repositories.fullName), options);
    const names = this.db.select({ name: repositories.fullName }).from(repositories);
    const rows = await this.#run(() => names.where(page.where).orderBy(page.orderBy).limit(page.limit));
    return rows.map((r) => r.name);
  }

  async bridgeTag(ref: RepoRef, tag: string, imageId: string, manifestDigest: string): Promise<boolean> {
    const where = rule.bridgeable(schema, rec.fullName(ref), tag, imageId, manifestDigest);
    const manifest = rule.manifestIn(schema, rec.fullName(ref), manifestDigest);
    return this.#transaction(async (tx) => {
      if (!(await this.#lockImageChain(tx, imageId))) return false;
      if ((await tx.select({ d: manifests.digest }).from(manifests).where(manifest).for('key share')).length === 0) return false;
      const rows = await tx.update(tags).set(rec.bridgedTagValues(imageId, manifestDigest, Date.now())).where(where).returning({ name: tags.name });
      return rows.length > 0;
    });
  }

  // ---- garbage collection ----

  async collectableImages(after: string | null, limit: number): Promise<CollectableImage[]> {
    const page = rule.namePage(byteOrder(images.id), { last: after ?? undefined, n: limit });
    const rows = await this.#run(() => this.db.select(gc.collectableImageFields(images)).from(images).where(page.where).orderBy(page.orderBy).limit(page.limit));
    return rows.map(gc.collectableImage);
  }

  async taggedImageIds(after: string | null, limit: number): Promise<string[]> {
    const ordered = byteOrder(tags.imageId);
    const page = rule.namePage(ordered, { last: after ?? undefined, n: limit });
    const where = and(gc.taggedImage(tags), page.where);
    // DISTINCT sorts by what it selects: the id in byte order
    const rows = await this.#run(() => this.db.selectDistinct({ id: sql<string>`${ordered}` }).from(tags).where(where).orderBy(page.orderBy).limit(page.limit));
    return rows.map((r) => r.id);
  }

  async collectableBlobs(after: string | null, limit: number): Promise<CollectableBlob[]> {
    const page = rule.namePage(byteOrder(blobs.digest), { last: after ?? undefined, n: limit });
    const fields = { digest: blobs.digest, key: blobs.key, size: blobs.size, createdAt: blobs.createdAt, usedAt: blobs.usedAt, referenced: gc.blobReferenced(blobs, manifestReferences) };
    const rows = await this.#run(() => this.db.select(fields).from(blobs).where(page.where).orderBy(page.orderBy).limit(page.limit));
    return rows.map(gc.collectableBlob);
  }

  /**
   * The row is locked for update first; the condition is then evaluated by a later statement,
   * which (READ COMMITTED) sees every transaction that committed while we waited for the lock.
   */
  async deleteImageIfUnused(id: string, before: number): Promise<{ key: string | null; size: number } | null> {
    return this.#transaction(async (tx) => {
      if ((await tx.select({ id: images.id }).from(images).where(eq(images.id, id)).for('update')).length === 0) return null;
      const [row] = await tx.delete(images).where(gc.unusedImage(images, tags, id, before)).returning({ key: images.layerKey, size: images.layerSize });
      return row ? { key: row.key, size: row.size ?? 0 } : null;
    });
  }

  async deleteBlobIfUnused(digest: string, before: number): Promise<{ key: string; size: number } | null> {
    return this.#transaction(async (tx) => {
      if ((await tx.select({ d: blobs.digest }).from(blobs).where(eq(blobs.digest, digest)).for('update')).length === 0) return null;
      const [row] = await tx.select({ key: blobs.key, size: blobs.size }).from(blobs).where(gc.unusedBlob(blobs, manifestReferences, digest, before));
      if (!row) return null;
      await tx.delete(repositoryBlobs).where(eq(repositoryBlobs.digest, digest));
      await tx.delete(blobs).where(eq(blobs.digest, digest));
      return row;
    });
  }

  async keysInUse(keys: string[]): Promise<string[]> {
    const out: string[] = [];
    for (const some of gc.slices(keys)) {
      const rows = await this.#run(() => this.db.execute<{ k: string }>(gc.keysNamed(images, blobs, some)));
      out.push(...rows.map((r) => r.k));
    }
    return out;
  }

  async acquireLease(name: string, holder: string, ttlMs: number): Promise<LeaseState> {
    const { values, onConflict } = gc.leaseUpsert(leases, name, holder, ttlMs, Date.now());
    const [taken] = await this.#run(() => this.db.insert(leases).values(values).onConflictDoUpdate(onConflict).returning());
    if (taken) return gc.leaseState(taken, holder);
    const [current] = await this.#run(() => this.db.select().from(leases).where(eq(leases.name, name)));
    // freed between the two statements: nobody holds it, the next attempt takes it
    return current ? gc.leaseState(current, holder) : { held: false, holder: '', expiresAt: 0 };
  }

  async releaseLease(name: string, holder: string): Promise<boolean> {
    return this.#changed(() => this.db.delete(leases).where(and(eq(leases.name, name), eq(leases.holder, holder))).returning({ n: leases.name }));
  }

  /** Closes the pool without waiting: running queries finish, nothing new starts. */
  close(): void {
    this.db.$client.close().catch(() => {});
  }
}
