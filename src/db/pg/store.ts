/**
 * MetaStore on PostgreSQL through Drizzle over Bun's built-in client (`drizzle-orm/bun-sql`).
 * The SQLite store (../sqlite-store.ts) is the specification; this file keeps its semantics with
 * PostgreSQL's own means, safe for many processes on many nodes:
 * - conditional writes are single statements (`INSERT … ON CONFLICT … DO UPDATE … WHERE`,
 *   `UPDATE … WHERE state = 'uploading' RETURNING`) or transactions that lock the row they read
 *   (`SELECT … FOR UPDATE`), so a check and its write never interleave with another node's;
 * - hot reads are prepared once (Bun then keeps a named server-side statement per connection);
 * - orderings use `COLLATE "C"`, SQLite's byte order, whatever the database's collation;
 * - a dropped connection (failover, restart, `pg_terminate_backend`) costs one retry of the whole
 *   operation; when the server cannot be reached, operations fail with `METADATA_UNAVAILABLE`
 *   (503) instead of hanging or answering 500.
 */
import { SQL as BunSQL } from 'bun';
import { and, eq, inArray, isNotNull, sql, type SQL } from 'drizzle-orm';
import { drizzle, type BunSQLDatabase } from 'drizzle-orm/bun-sql';
import { RegistryError } from '../../errors.ts';
import { sameBytes } from '../meta.ts';
import { fullName, imageRecord, likeEscape, repositoryRecord } from '../records.ts';
import type {
  ImageRecord,
  MetaStore,
  NewImage,
  NewUser,
  PrivateVisibility,
  RepoRef,
  RepositoryRecord,
  SearchPage,
  StoredLayer,
  TagRecord,
  UserRecord,
} from '../meta.ts';
import { migratePostgres } from './migrate.ts';
import * as schema from './schema.ts';

const { images, repositories, tags, users } = schema;

export type PgDb = BunSQLDatabase<typeof schema> & { $client: BunSQL };
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

/** `application_name` of the store's connections (visible in pg_stat_activity). */
export const PG_APPLICATION_NAME = 'v1-registry';

/** Bun's own codes for a connection that closed, could not be opened, or timed out. */
const CLIENT_CONNECTION_CODES = new Set([
  'ERR_POSTGRES_CONNECTION_CLOSED',
  'ERR_POSTGRES_CONNECTION_FAILED',
  'ERR_POSTGRES_CONNECTION_REFUSED',
  'ERR_POSTGRES_CONNECTION_TIMEOUT',
  'ERR_POSTGRES_IDLE_TIMEOUT',
  'ERR_POSTGRES_LIFETIME_TIMEOUT',
]);
/** SQLSTATEs of a lost or refused connection: class 08, admin/crash shutdown, starting up. */
const SERVER_CONNECTION_STATE = /^(08[0-9A-Z]{3}|57P0[123])$/;

/**
 * How an error relates to the connection: `timeout` (a connection could not be opened in time),
 * `lost` (any other connection failure), or null (a real query error). Looks through drizzle's
 * `DrizzleQueryError` wrapper (`cause`) to Bun's `PostgresError` (`code`, SQLSTATE in `errno`).
 */
export function connectionFailure(error: unknown): 'timeout' | 'lost' | null {
  let e: unknown = error;
  for (let depth = 0; depth < 5 && e instanceof Error; depth++) {
    const { code, errno } = e as { code?: unknown; errno?: unknown };
    if (code === 'ERR_POSTGRES_CONNECTION_TIMEOUT') return 'timeout';
    if (typeof code === 'string' && CLIENT_CONNECTION_CODES.has(code)) return 'lost';
    if (typeof errno === 'string' && SERVER_CONNECTION_STATE.test(errno)) return 'lost';
    e = e.cause;
  }
  return null;
}

function unavailable(cause: unknown): RegistryError {
  const error = new RegistryError('METADATA_UNAVAILABLE');
  error.cause = cause;
  return error;
}

/**
 * The SQLite store's exact test, `json_each(index_images)` holding an object whose `id` is this
 * string. Done here rather than with jsonb: the text is stored as the client sent it, and
 * PostgreSQL's jsonb refuses some JSON that JavaScript accepted (`\u0000`, lone surrogates).
 */
function listsImage(text: string, id: string): boolean {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return false;
  }
  const items = Array.isArray(doc) ? doc : doc !== null && typeof doc === 'object' ? Object.values(doc) : [];
  return items.some((item) => item !== null && typeof item === 'object' && (item as { id?: unknown }).id === id);
}

/** The search condition that hides private repositories outside `visible`. */
function visibility(visible: PrivateVisibility): SQL {
  if (visible === 'all') return sql`TRUE`;
  if (visible.namespaces.length === 0) return sql`NOT ${repositories.private}`;
  return sql`(NOT ${repositories.private} OR ${inArray(repositories.namespace, visible.namespaces)})`;
}

/** Byte order, as SQLite compares text, independent of the database's collation. */
const byteOrder = (column: SQL | typeof repositories.fullName | typeof tags.name) => sql`${column} COLLATE "C"`;

/** Attempts at creating a repository that other nodes keep deleting before giving up. */
const ENSURE_ATTEMPTS = 5;

function prepareQueries(db: PgDb) {
  const p = sql.placeholder;
  const tagFields = { name: tags.name, imageId: tags.imageId, metadata: tags.metadata };
  const cache = (kind: 'files' | 'diff') =>
    db.select({ v: images[kind] }).from(images).where(eq(images.id, p('id'))).prepare(`image_${kind}`);
  return {
    image: db.select().from(images).where(eq(images.id, p('id'))).prepare('image'),
    files: cache('files'),
    diff: cache('diff'),
    repo: db.select().from(repositories).where(eq(repositories.fullName, p('fullName'))).prepare('repo'),
    /** one row per tag, or a single all-null row for a repository without tags, or none if no repository */
    tags: db
      .select({ repoId: repositories.id, name: tags.name, imageId: tags.imageId, metadata: tags.metadata })
      .from(repositories)
      .leftJoin(tags, eq(tags.repositoryId, repositories.id))
      .where(eq(repositories.fullName, p('fullName')))
      .orderBy(byteOrder(tags.name))
      .prepare('tags'),
    tag: db
      .select(tagFields)
      .from(tags)
      .innerJoin(repositories, eq(tags.repositoryId, repositories.id))
      .where(and(eq(repositories.fullName, p('fullName')), eq(tags.name, p('tag'))))
      .prepare('tag'),
    user: db.select().from(users).where(eq(users.username, p('username'))).prepare('user'),
    /** candidates for repositoriesListingImage: the id appears in the text (trigram-indexed) */
    listing: db
      .select()
      .from(repositories)
      .where(sql`${repositories.indexImages} LIKE ${p('pattern')} ESCAPE '\\'`)
      .orderBy(byteOrder(repositories.fullName))
      .prepare('listing'),
  };
}

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
        throw connectionFailure(e) ? unavailable(e) : e;
      }
    }
    const client = new BunSQL({
      url,
      max: opts.max ?? 10,
      connectionTimeout: connectTimeout,
      connection: { application_name: PG_APPLICATION_NAME },
    });
    const store = new PgMetaStore(drizzle({ client, schema }) as PgDb);
    try {
      await store.#run(() => client`SELECT 1`);
    } catch (e) {
      store.close();
      throw e;
    }
    return store;
  }

  /**
   * Runs one operation (a statement or a whole transaction), once more if the connection was
   * lost under it: after a failover or `pg_terminate_backend` the pool's idle connections are
   * dead, and the first use of each fails without the statement having run. A connect timeout is
   * not retried (that would double the wait). Still failing: METADATA_UNAVAILABLE.
   */
  async #run<T>(op: () => PromiseLike<T>): Promise<T> {
    try {
      return await op();
    } catch (first) {
      const kind = connectionFailure(first);
      if (kind === null) throw first;
      if (kind === 'timeout') throw unavailable(first);
    }
    try {
      return await op();
    } catch (second) {
      throw connectionFailure(second) ? unavailable(second) : second;
    }
  }

  #transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.#run(() => this.db.transaction(fn));
  }

  async putImageIfUploading(image: NewImage): Promise<boolean> {
    const now = Date.now();
    const values = {
      parent: image.parent,
      json: image.json,
      ancestry: JSON.stringify(image.ancestry),
      state: 'uploading' as const,
      layerSize: null,
      checksums: null,
      files: null,
      diff: null,
      updatedAt: now,
    };
    // one statement: insert, or reset a row that is not ready (the conflict locks the row and the
    // WHERE sees its latest version, so a concurrent markReady either wins or waits)
    const rows = await this.#run(() =>
      this.db
        .insert(images)
        .values({ id: image.id, createdAt: now, ...values })
        .onConflictDoUpdate({ target: images.id, set: values, setWhere: sql`${images.state} <> 'ready'` })
        .returning({ id: images.id }),
    );
    return rows.length > 0;
  }

  async getImage(id: string): Promise<ImageRecord | null> {
    const [row] = await this.#run(() => this.#q.image.execute({ id }));
    return row ? imageRecord(row) : null;
  }

  async setLayerIfUploading(id: string, layer: StoredLayer): Promise<{ recorded: boolean; replacedKey: string | null }> {
    return this.#transaction(async (tx) => {
      const [current] = await tx
        .select({ state: images.state, layerKey: images.layerKey, json: images.json })
        .from(images)
        .where(eq(images.id, id))
        .for('update');
      if (current?.state !== 'uploading') return { recorded: false, replacedKey: null };
      if (layer.json && !sameBytes(current.json, layer.json)) return { recorded: false, replacedKey: null };
      await tx
        .update(images)
        .set({
          layerKey: layer.key,
          layerSize: layer.size,
          checksums: JSON.stringify(layer.checksums),
          files: null,
          diff: null,
          updatedAt: Date.now(),
        })
        .where(eq(images.id, id));
      return { recorded: true, replacedKey: current.layerKey === layer.key ? null : current.layerKey };
    });
  }

  async markReady(id: string, layerKey?: string): Promise<boolean> {
    const verified = layerKey === undefined ? [] : [eq(images.layerKey, layerKey), isNotNull(images.layerSize)];
    const rows = await this.#run(() =>
      this.db
        .update(images)
        .set({ state: 'ready', updatedAt: Date.now() })
        .where(and(eq(images.id, id), eq(images.state, 'uploading'), ...verified))
        .returning({ id: images.id }),
    );
    return rows.length > 0;
  }

  async getImageCache(id: string, kind: 'files' | 'diff'): Promise<string | null> {
    const [row] = await this.#run(() => this.#q[kind].execute({ id }));
    return row?.v ?? null;
  }

  async setImageCache(id: string, kind: 'files' | 'diff', value: string): Promise<void> {
    await this.#run(() =>
      this.db
        .update(images)
        .set({ [kind]: value })
        .where(and(eq(images.id, id), eq(images.state, 'ready'))),
    );
  }

  async getRepository(ref: RepoRef): Promise<RepositoryRecord | null> {
    const [row] = await this.#run(() => this.#q.repo.execute({ fullName: fullName(ref) }));
    return row ? repositoryRecord(row) : null;
  }

  /** A new repository row, or none when another transaction holds one of that name. */
  async #insertRepo(db: PgDb | Tx, ref: RepoRef): Promise<RepoRow | undefined> {
    const now = Date.now();
    const [row] = await db
      .insert(repositories)
      .values({ namespace: ref.namespace, name: ref.name, fullName: fullName(ref), createdAt: now, updatedAt: now })
      .onConflictDoNothing({ target: repositories.fullName })
      .returning();
    return row;
  }

  /**
   * In a transaction: the repository row, created if needed, locked until commit — `update` for
   * a read-modify-write of the row, `key share` to only keep it from being deleted.
   */
  async #lockRepo(tx: Tx, ref: RepoRef, lock: 'update' | 'key share'): Promise<{ row: RepoRow; created: boolean }> {
    for (let attempt = 0; attempt < ENSURE_ATTEMPTS; attempt++) {
      const [existing] = await tx.select().from(repositories).where(eq(repositories.fullName, fullName(ref))).for(lock);
      if (existing) return { row: existing, created: false };
      // the new row is this transaction's until commit; on a conflict the other one has committed
      // by now, and the next SELECT sees (and locks) it unless it was deleted again
      const inserted = await this.#insertRepo(tx, ref);
      if (inserted) return { row: inserted, created: true };
    }
    throw new Error(`repository ${fullName(ref)} was deleted ${ENSURE_ATTEMPTS} times while being created`);
  }

  async ensureRepository(ref: RepoRef): Promise<{ repository: RepositoryRecord; created: boolean }> {
    return this.#run(async () => {
      // read first: the common case writes nothing (and burns no identity value)
      for (let attempt = 0; attempt < ENSURE_ATTEMPTS; attempt++) {
        const [existing] = await this.#q.repo.execute({ fullName: fullName(ref) });
        if (existing) return { repository: repositoryRecord(existing), created: false };
        const inserted = await this.#insertRepo(this.db, ref);
        if (inserted) return { repository: repositoryRecord(inserted), created: true };
      }
      throw new Error(`repository ${fullName(ref)} was deleted ${ENSURE_ATTEMPTS} times while being created`);
    });
  }

  async deleteRepository(ref: RepoRef): Promise<boolean> {
    const rows = await this.#run(() =>
      this.db.delete(repositories).where(eq(repositories.fullName, fullName(ref))).returning({ id: repositories.id }),
    );
    return rows.length > 0;
  }

  async setPrivate(ref: RepoRef, isPrivate: boolean): Promise<void> {
    const now = Date.now();
    await this.#run(() =>
      this.db
        .insert(repositories)
        .values({ namespace: ref.namespace, name: ref.name, fullName: fullName(ref), private: isPrivate, createdAt: now, updatedAt: now })
        .onConflictDoUpdate({ target: repositories.fullName, set: { private: isPrivate, updatedAt: now } }),
    );
  }

  async updateIndexImages(ref: RepoRef, merge: (current: string | null) => string): Promise<{ created: boolean }> {
    return this.#transaction(async (tx) => {
      const { row } = await this.#lockRepo(tx, ref, 'update');
      await tx
        .update(repositories)
        .set({ indexImages: merge(row.indexImages), updatedAt: Date.now() })
        .where(eq(repositories.id, row.id));
      return { created: row.indexImages === null };
    });
  }

  async listTags(ref: RepoRef): Promise<TagRecord[] | null> {
    const rows = await this.#run(() => this.#q.tags.execute({ fullName: fullName(ref) }));
    if (rows.length === 0) return null;
    const out: TagRecord[] = [];
    for (const r of rows) {
      if (r.name !== null && r.imageId !== null && r.metadata !== null) out.push({ name: r.name, imageId: r.imageId, metadata: r.metadata });
    }
    return out;
  }

  async getTag(ref: RepoRef, tag: string): Promise<TagRecord | null> {
    const [row] = await this.#run(() => this.#q.tag.execute({ fullName: fullName(ref), tag }));
    return row ?? null;
  }

  async putTag(ref: RepoRef, tag: TagRecord): Promise<void> {
    await this.#transaction(async (tx) => {
      const { row } = await this.#lockRepo(tx, ref, 'key share');
      const values = { imageId: tag.imageId, metadata: tag.metadata, updatedAt: Date.now() };
      await tx
        .insert(tags)
        .values({ repositoryId: row.id, name: tag.name, ...values })
        .onConflictDoUpdate({ target: [tags.repositoryId, tags.name], set: values });
    });
  }

  async deleteTag(ref: RepoRef, tag: string): Promise<boolean> {
    const repoId = this.db.select({ id: repositories.id }).from(repositories).where(eq(repositories.fullName, fullName(ref)));
    const rows = await this.#run(() =>
      this.db
        .delete(tags)
        .where(and(inArray(tags.repositoryId, repoId), eq(tags.name, tag)))
        .returning({ name: tags.name }),
    );
    return rows.length > 0;
  }

  async repositoriesListingImage(id: string): Promise<RepositoryRecord[]> {
    const rows = await this.#run(() => this.#q.listing.execute({ pattern: `%${likeEscape(id)}%` }));
    return rows.filter((row) => row.indexImages !== null && listsImage(row.indexImages, id)).map(repositoryRecord);
  }

  /**
   * The SQLite store's semantics: empty query → every visible repository by name; otherwise a
   * case-insensitive substring match on `namespace/name` or description, name matches first,
   * then by name. `lower(column) ILIKE` is what the pg_trgm GIN indexes of
   * drizzle/pg/0001_trigram_indexes.sql serve (for terms of 3+ characters; shorter ones scan).
   */
  async search(query: string, limit: number, offset: number, visible: PrivateVisibility = 'all'): Promise<SearchPage> {
    const q = query.trim();
    const vis = visibility(visible);
    let where: SQL;
    let order: SQL;
    if (q === '') {
      where = vis;
      order = byteOrder(repositories.fullName);
    } else {
      const pattern = `%${likeEscape(q)}%`;
      const inName = sql`lower(${repositories.fullName}) ILIKE ${pattern} ESCAPE '\\'`;
      const inDescription = sql`lower(${repositories.description}) ILIKE ${pattern} ESCAPE '\\'`;
      where = sql`(${inName} OR ${inDescription}) AND ${vis}`;
      order = sql`(${inName}) DESC, ${byteOrder(repositories.fullName)}`;
    }
    const [counted, results] = await Promise.all([
      this.#run(() => this.db.select({ n: sql<number>`count(*)::int` }).from(repositories).where(where)),
      this.#run(() =>
        this.db
          .select({ name: repositories.fullName, description: repositories.description })
          .from(repositories)
          .where(where)
          .orderBy(order)
          .limit(limit)
          .offset(offset),
      ),
    ]);
    return { total: counted[0]?.n ?? 0, results };
  }

  async createUser(user: NewUser): Promise<boolean> {
    const rows = await this.#run(() =>
      this.db
        .insert(users)
        .values({
          username: user.username,
          passwordHash: user.passwordHash,
          email: user.email,
          admin: user.admin ?? false,
          createdAt: Date.now(),
        })
        .onConflictDoNothing()
        .returning({ username: users.username }),
    );
    return rows.length > 0;
  }

  async getUser(username: string): Promise<UserRecord | null> {
    const [row] = await this.#run(() => this.#q.user.execute({ username }));
    return row ?? null;
  }

  async updateUser(username: string, changes: { email?: string; passwordHash?: string }): Promise<boolean> {
    const set: { email?: string; passwordHash?: string } = {};
    if (changes.email !== undefined) set.email = changes.email;
    if (changes.passwordHash !== undefined) set.passwordHash = changes.passwordHash;
    if (Object.keys(set).length === 0) return (await this.getUser(username)) !== null;
    const rows = await this.#run(() =>
      this.db.update(users).set(set).where(eq(users.username, username)).returning({ username: users.username }),
    );
    return rows.length > 0;
  }

  async setUserAdmin(username: string, admin: boolean): Promise<boolean> {
    const rows = await this.#run(() =>
      this.db.update(users).set({ admin }).where(eq(users.username, username)).returning({ username: users.username }),
    );
    return rows.length > 0;
  }

  async deleteUser(username: string): Promise<boolean> {
    const rows = await this.#run(() => this.db.delete(users).where(eq(users.username, username)).returning({ username: users.username }));
    return rows.length > 0;
  }

  /** Closes the pool without waiting: running queries finish, nothing new starts. */
  close(): void {
    this.db.$client.close().catch(() => {});
  }
}
