/**
 * MetaStore on SQLite through Drizzle. bun:sqlite is synchronous, so every transaction here is a
 * sync function run with `behavior: 'immediate'` (several worker processes share the file: a
 * deferred read-then-write transaction would fail with SQLITE_BUSY_SNAPSHOT). Hot reads are
 * prepared once.
 *
 * The reads a pull repeats (repository, tag list, tag) are also remembered, for as long as the
 * database has not changed: SQLite's `PRAGMA data_version` changes whenever another connection
 * (another worker process, another tool) commits, and this store counts its own commits, so one
 * cheap pragma per read tells whether anything cached may be stale; if so, everything cached is
 * dropped. A read therefore never returns data older than the last commit it could have seen.
 */
import { and, asc, eq, isNotNull, sql, type SQL } from 'drizzle-orm';
import { openSqlite, type Db } from './client.ts';
import { sameBytes } from './meta.ts';
import { fullName, imageRecord, likeEscape, repositoryRecord } from './records.ts';
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
} from './meta.ts';
import { migrateSqlite } from './migrate.ts';
import { images, repositories, tags, users } from './schema.ts';

type RepoRow = typeof repositories.$inferSelect;

/** A query as one FTS5 string literal (no operators can be injected). */
const ftsPhrase = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** The search condition that hides private repositories outside `visible` (`r` is the table alias or ''). */
function visibility(visible: PrivateVisibility, alias: string): SQL {
  if (visible === 'all') return sql`1`;
  const col = (c: string) => sql.raw(alias ? `${alias}.${c}` : c);
  if (visible.namespaces.length === 0) return sql`${col('private')} = 0`;
  const list = sql.join(visible.namespaces.map((n) => sql`${n}`), sql`, `);
  return sql`(${col('private')} = 0 OR ${col('namespace')} IN (${list}))`;
}

/** Entries the read cache holds before it starts over (a guard against unbounded growth). */
const READ_CACHE_ENTRIES = 10_000;

/** Freezes a cached value and what it holds one level down (records, arrays of records). */
function freeze<T>(value: T): T {
  if (Array.isArray(value)) value.forEach((v) => Object.freeze(v));
  return Object.freeze(value);
}

export class SqliteMetaStore implements MetaStore {
  readonly db: Db;
  readonly #q;
  readonly #dataVersion: { values(): unknown[][] };
  /** commits made through this connection (data_version does not count them) */
  #commits = 0;
  #cacheVersion = -1;
  #cacheCommits = -1;
  readonly #cache = new Map<string, unknown>();

  constructor(db: Db) {
    this.db = db;
    this.#dataVersion = db.$client.prepare('PRAGMA data_version');
    const p = sql.placeholder;
    this.#q = {
      image: db.select().from(images).where(eq(images.id, p('id'))).prepare(),
      imageState: db.select({ state: images.state }).from(images).where(eq(images.id, p('id'))).prepare(),
      repo: db.select().from(repositories).where(eq(repositories.fullName, p('fullName'))).prepare(),
      repoId: db.select({ id: repositories.id }).from(repositories).where(eq(repositories.fullName, p('fullName'))).prepare(),
      tags: db
        .select({ name: tags.name, imageId: tags.imageId, metadata: tags.metadata })
        .from(tags)
        .where(eq(tags.repositoryId, p('repoId')))
        .orderBy(asc(tags.name))
        .prepare(),
      files: db.select({ v: images.files }).from(images).where(eq(images.id, p('id'))).prepare(),
      diff: db.select({ v: images.diff }).from(images).where(eq(images.id, p('id'))).prepare(),
      user: db.select().from(users).where(eq(users.username, p('username'))).prepare(),
      listingImage: db
        .select()
        .from(repositories)
        .where(
          sql`${repositories.indexImages} IS NOT NULL AND instr(${repositories.indexImages}, ${p('id')}) > 0
            AND json_valid(${repositories.indexImages})
            AND EXISTS (SELECT 1 FROM json_each(${repositories.indexImages}) j WHERE json_extract(j.value, '$.id') = ${p('id')})`,
        )
        .orderBy(asc(repositories.fullName))
        .prepare(),
      tag: db
        .select({ name: tags.name, imageId: tags.imageId, metadata: tags.metadata })
        .from(tags)
        .innerJoin(repositories, eq(tags.repositoryId, repositories.id))
        .where(and(eq(repositories.fullName, p('fullName')), eq(tags.name, p('tag'))))
        .prepare(),
    };
  }

  /** Opens (and migrates, unless told not to) the database file. */
  static open(path: string, options: { migrate?: boolean } = {}): SqliteMetaStore {
    const db = openSqlite(path);
    if (options.migrate ?? true) migrateSqlite(db);
    return new SqliteMetaStore(db);
  }

  #write<T>(fn: (tx: Db) => T): T {
    try {
      return this.db.transaction((tx) => fn(tx as unknown as Db), { behavior: 'immediate' });
    } finally {
      this.#commits++;
    }
  }

  /** `load()`'s result, remembered under `key` until the database changes (see the top). */
  #cached<T>(key: string, load: () => T): T {
    const version = this.#dataVersion.values()[0]![0] as number;
    if (version !== this.#cacheVersion || this.#commits !== this.#cacheCommits || this.#cache.size >= READ_CACHE_ENTRIES) {
      this.#cache.clear();
      this.#cacheVersion = version;
      this.#cacheCommits = this.#commits;
    }
    if (this.#cache.has(key)) return this.#cache.get(key) as T;
    const value = freeze(load());
    this.#cache.set(key, value);
    return value;
  }

  async putImageIfUploading(image: NewImage): Promise<boolean> {
    const now = Date.now();
    return this.#write((tx) => {
      const current = tx.select({ state: images.state }).from(images).where(eq(images.id, image.id)).get();
      if (current?.state === 'ready') return false;
      const values = {
        parent: image.parent,
        json: Buffer.from(image.json),
        ancestry: JSON.stringify(image.ancestry),
        state: 'uploading' as const,
        layerSize: null,
        checksums: null,
        files: null,
        diff: null,
        updatedAt: now,
      };
      if (current) tx.update(images).set(values).where(eq(images.id, image.id)).run();
      else tx.insert(images).values({ id: image.id, createdAt: now, ...values }).run();
      return true;
    });
  }

  async getImage(id: string): Promise<ImageRecord | null> {
    const row = this.#q.image.get({ id });
    return row ? imageRecord(row, new Uint8Array(row.json)) : null;
  }

  async setLayerIfUploading(id: string, layer: StoredLayer): Promise<{ recorded: boolean; replacedKey: string | null }> {
    return this.#write((tx) => {
      const current = tx
        .select({ state: images.state, layerKey: images.layerKey, json: images.json })
        .from(images)
        .where(eq(images.id, id))
        .get();
      if (current?.state !== 'uploading') return { recorded: false, replacedKey: null };
      if (layer.json && !sameBytes(current.json, layer.json)) return { recorded: false, replacedKey: null };
      tx.update(images)
        .set({
          layerKey: layer.key,
          layerSize: layer.size,
          checksums: JSON.stringify(layer.checksums),
          files: null,
          diff: null,
          updatedAt: Date.now(),
        })
        .where(eq(images.id, id))
        .run();
      return { recorded: true, replacedKey: current.layerKey === layer.key ? null : current.layerKey };
    });
  }

  async markReady(id: string, layerKey?: string): Promise<boolean> {
    const verified = layerKey === undefined ? [] : [eq(images.layerKey, layerKey), isNotNull(images.layerSize)];
    const res = this.#write((tx) =>
      tx
        .update(images)
        .set({ state: 'ready', updatedAt: Date.now() })
        .where(and(eq(images.id, id), eq(images.state, 'uploading'), ...verified))
        .returning({ id: images.id })
        .all(),
    );
    return res.length > 0;
  }

  async getImageCache(id: string, kind: 'files' | 'diff'): Promise<string | null> {
    return this.#q[kind].get({ id })?.v ?? null;
  }

  async setImageCache(id: string, kind: 'files' | 'diff', value: string): Promise<void> {
    this.#write((tx) =>
      tx
        .update(images)
        .set({ [kind]: value })
        .where(and(eq(images.id, id), eq(images.state, 'ready')))
        .run(),
    );
  }

  async getRepository(ref: RepoRef): Promise<RepositoryRecord | null> {
    const name = fullName(ref);
    return this.#cached(`repo\0${name}`, () => {
      const row = this.#q.repo.get({ fullName: name });
      return row ? repositoryRecord(row) : null;
    });
  }

  #ensureRepo(tx: Db, ref: RepoRef): { row: RepoRow; created: boolean } {
    const name = fullName(ref);
    const existing = tx.select().from(repositories).where(eq(repositories.fullName, name)).get();
    if (existing) return { row: existing, created: false };
    const now = Date.now();
    const row = tx
      .insert(repositories)
      .values({ namespace: ref.namespace, name: ref.name, fullName: name, createdAt: now, updatedAt: now })
      .returning()
      .get();
    return { row, created: true };
  }

  async ensureRepository(ref: RepoRef): Promise<{ repository: RepositoryRecord; created: boolean }> {
    const { row, created } = this.#write((tx) => this.#ensureRepo(tx, ref));
    return { repository: repositoryRecord(row), created };
  }

  async deleteRepository(ref: RepoRef): Promise<boolean> {
    const res = this.#write((tx) =>
      tx.delete(repositories).where(eq(repositories.fullName, fullName(ref))).returning({ id: repositories.id }).all(),
    );
    return res.length > 0;
  }

  async setPrivate(ref: RepoRef, isPrivate: boolean): Promise<void> {
    this.#write((tx) => {
      const { row } = this.#ensureRepo(tx, ref);
      tx.update(repositories).set({ private: isPrivate, updatedAt: Date.now() }).where(eq(repositories.id, row.id)).run();
    });
  }

  async updateIndexImages(ref: RepoRef, merge: (current: string | null) => string): Promise<{ created: boolean }> {
    return this.#write((tx) => {
      const { row } = this.#ensureRepo(tx, ref);
      const created = row.indexImages === null;
      tx.update(repositories)
        .set({ indexImages: merge(row.indexImages), updatedAt: Date.now() })
        .where(eq(repositories.id, row.id))
        .run();
      return { created };
    });
  }

  async listTags(ref: RepoRef): Promise<TagRecord[] | null> {
    const name = fullName(ref);
    return this.#cached(`tags\0${name}`, () => {
      const repo = this.#q.repoId.get({ fullName: name });
      return repo ? this.#q.tags.all({ repoId: repo.id }) : null;
    });
  }

  async getTag(ref: RepoRef, tag: string): Promise<TagRecord | null> {
    const name = fullName(ref);
    return this.#cached(`tag\0${name}\0${tag}`, () => this.#q.tag.get({ fullName: name, tag }) ?? null);
  }

  async putTag(ref: RepoRef, tag: TagRecord): Promise<void> {
    this.#write((tx) => {
      const { row } = this.#ensureRepo(tx, ref);
      const values = { imageId: tag.imageId, metadata: tag.metadata, updatedAt: Date.now() };
      tx.insert(tags)
        .values({ repositoryId: row.id, name: tag.name, ...values })
        .onConflictDoUpdate({ target: [tags.repositoryId, tags.name], set: values })
        .run();
    });
  }

  async deleteTag(ref: RepoRef, tag: string): Promise<boolean> {
    return this.#write((tx) => {
      const repo = tx.select({ id: repositories.id }).from(repositories).where(eq(repositories.fullName, fullName(ref))).get();
      if (!repo) return false;
      const res = tx
        .delete(tags)
        .where(and(eq(tags.repositoryId, repo.id), eq(tags.name, tag)))
        .returning({ name: tags.name })
        .all();
      return res.length > 0;
    });
  }

  async repositoriesListingImage(id: string): Promise<RepositoryRecord[]> {
    return this.#q.listingImage.all({ id }).map(repositoryRecord);
  }

  async search(query: string, limit: number, offset: number, visible: PrivateVisibility = 'all'): Promise<SearchPage> {
    const q = query.trim();
    type Hit = { name: string; description: string };
    const count = (query: ReturnType<typeof sql>) => this.db.all<{ n: number }>(query)[0]?.n ?? 0;
    let total: number;
    let results: Hit[];
    const vis = visibility(visible, '');
    if (q === '') {
      total = count(sql`SELECT count(*) AS n FROM repositories WHERE ${vis}`);
      results = this.db.all<Hit>(
        sql`SELECT full_name AS name, description FROM repositories WHERE ${vis} ORDER BY full_name LIMIT ${limit} OFFSET ${offset}`,
      );
    } else if ([...q].length >= 3) {
      // trigram FTS5 finds the substring; the ranking is the one every store gives (name matches
      // first, then by name: deterministic, so PostgreSQL can give exactly the same pages)
      const match = ftsPhrase(q);
      const rvis = visibility(visible, 'r');
      total = count(sql`
        SELECT count(*) AS n FROM repositories_fts f JOIN repositories r ON r.id = f.rowid
        WHERE repositories_fts MATCH ${match} AND ${rvis}`);
      results = this.db.all<Hit>(sql`
        SELECT r.full_name AS name, r.description AS description
        FROM repositories_fts f JOIN repositories r ON r.id = f.rowid
        WHERE repositories_fts MATCH ${match} AND ${rvis}
        ORDER BY (instr(lower(r.full_name), lower(${q})) > 0) DESC, r.full_name
        LIMIT ${limit} OFFSET ${offset}`);
    } else {
      // trigrams need 3 characters: shorter queries use LIKE (case-insensitive for ASCII)
      const pattern = `%${likeEscape(q)}%`;
      const where = sql`(full_name LIKE ${pattern} ESCAPE '\\' OR description LIKE ${pattern} ESCAPE '\\') AND ${vis}`;
      total = count(sql`SELECT count(*) AS n FROM repositories WHERE ${where}`);
      results = this.db.all<Hit>(sql`
        SELECT full_name AS name, description FROM repositories WHERE ${where}
        ORDER BY (full_name LIKE ${pattern} ESCAPE '\\') DESC, full_name
        LIMIT ${limit} OFFSET ${offset}`);
    }
    return { total, results };
  }

  async createUser(user: NewUser): Promise<boolean> {
    const res = this.#write((tx) =>
      tx
        .insert(users)
        .values({
          username: user.username,
          passwordHash: user.passwordHash,
          email: user.email,
          admin: user.admin ?? false,
          createdAt: Date.now(),
        })
        .onConflictDoNothing()
        .returning({ username: users.username })
        .all(),
    );
    return res.length > 0;
  }

  async getUser(username: string): Promise<UserRecord | null> {
    return this.#q.user.get({ username }) ?? null;
  }

  async updateUser(username: string, changes: { email?: string; passwordHash?: string }): Promise<boolean> {
    const set: { email?: string; passwordHash?: string } = {};
    if (changes.email !== undefined) set.email = changes.email;
    if (changes.passwordHash !== undefined) set.passwordHash = changes.passwordHash;
    if (Object.keys(set).length === 0) return (await this.getUser(username)) !== null;
    const res = this.#write((tx) =>
      tx.update(users).set(set).where(eq(users.username, username)).returning({ username: users.username }).all(),
    );
    return res.length > 0;
  }

  async setUserAdmin(username: string, admin: boolean): Promise<boolean> {
    const res = this.#write((tx) =>
      tx.update(users).set({ admin }).where(eq(users.username, username)).returning({ username: users.username }).all(),
    );
    return res.length > 0;
  }

  async deleteUser(username: string): Promise<boolean> {
    const res = this.#write((tx) =>
      tx.delete(users).where(eq(users.username, username)).returning({ username: users.username }).all(),
    );
    return res.length > 0;
  }

  close(): void {
    this.db.$client.close();
  }
}
