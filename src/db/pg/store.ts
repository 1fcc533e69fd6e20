/**
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
import { and, count, eq, inArray } from 'drizzle-orm';
import { catalogueError, runGuarded } from '../failures.ts';
import type { ImageCacheKind, ImageRecord, LayerOutcome, MetaStore, NewImage, NewUser, PrivateVisibility } from '../meta.ts';
import type { RepoRef, RepositoryRecord, SearchPage, StoredLayer, TagRecord, UserChanges, UserRecord } from '../meta.ts';
import * as rec from '../records.ts';
import * as rule from '../rules.ts';
import { openPg, pgFailure, type PgDb } from './client.ts';
import { migratePostgres } from './migrate.ts';
import { byteOrder, listsImage, match, prepareQueries } from './queries.ts';
import { images, repositories, tags, users } from './schema.ts';

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
      const outcome = rule.layerOutcome(current, layer);
      if (outcome.recorded) await tx.update(images).set(rec.layerValues(layer, Date.now())).where(eq(images.id, id));
      return outcome;
    });
  }

  async markReady(id: string, layerKey?: string): Promise<boolean> {
    const set = rec.readyValues(Date.now());
    return this.#changed(() => this.db.update(images).set(set).where(rule.completes(images, id, layerKey)).returning({ id: images.id }));
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

  async deleteRepository(ref: RepoRef): Promise<boolean> {
    const named = eq(repositories.fullName, rec.fullName(ref));
    return this.#changed(() => this.db.delete(repositories).where(named).returning({ id: repositories.id }));
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

  async putTag(ref: RepoRef, tag: TagRecord): Promise<void> {
    await this.#transaction(async (tx) => {
      const row = await this.#lockRepo(tx, ref, 'key share');
      const set = rec.tagValues(tag, Date.now());
      await tx
        .insert(tags)
        .values({ repositoryId: row.id, name: tag.name, ...set })
        .onConflictDoUpdate({ target: [tags.repositoryId, tags.name], set });
    });
  }

  async deleteTag(ref: RepoRef, tag: string): Promise<boolean> {
    const repoId = this.db.select({ id: repositories.id }).from(repositories).where(eq(repositories.fullName, rec.fullName(ref)));
    const named = and(inArray(tags.repositoryId, repoId), eq(tags.name, tag));
    return this.#changed(() => this.db.delete(tags).where(named).returning({ name: tags.name }));
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

  /** Closes the pool without waiting: running queries finish, nothing new starts. */
  close(): void {
    this.db.$client.close().catch(() => {});
  }
}
