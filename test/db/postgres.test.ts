/**
 * PgMetaStore: the MetaStore contract on a real PostgreSQL 15 (dev/postgres.ts), then
 * what only PostgreSQL has to prove: migrations raced by several processes, byte-exact bytea,
 * atomic conditional writes across stores (as across nodes), dropped and unreachable servers,
 * prepared hot reads, and search served by trigram indexes.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { SQL } from 'bun';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/bun-sql';
import { migrate as migrateFromFolder } from 'drizzle-orm/bun-sql/migrator';
import type { RepoRef } from '../../src/db/meta.ts';
import { PG_MIGRATIONS, migratePostgres } from '../../src/db/pg/migrate.ts';
import { repositories } from '../../src/db/pg/schema.ts';
import { PG_APPLICATION_NAME, PgMetaStore, connectionFailure } from '../../src/db/pg/store.ts';
import { pgFailure } from '../../src/db/pg/client.ts';
import { RegistryError } from '../../src/errors.ts';
import { errorToResponse } from '../../src/http/errors.ts';
import { startCluster, startPostgres, type TestPostgres } from '../../dev/postgres.ts';
import { runMetaStoreSuite } from './meta.suite.ts';

const ROOT = join(import.meta.dir, '..', '..');
const enc = new TextEncoder();

let pg: TestPostgres;
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(async () => {
  await pg?.stop();
});

const databaseOf = (url: string) => new URL(url).pathname.slice(1);

/** A fresh migrated database, a store on it, and everything to throw both away. */
async function fresh(options: { max?: number } = {}) {
  const url = await pg.newDatabase();
  const store = await PgMetaStore.open(url, { migrate: false, ...options });
  return {
    url,
    store,
    setDescription: async (ref: RepoRef, description: string) => {
      await store.db
        .update(repositories)
        .set({ description })
        .where(eq(repositories.fullName, `${ref.namespace}/${ref.name}`));
    },
    countRows: async (table: string) => {
      const [row] = await store.db.$client.unsafe(`SELECT count(*)::int AS n FROM ${table}`);
      return (row as { n: number }).n;
    },
    cleanup: async () => {
      store.close();
      await pg.dropDatabase(url);
    },
  };
}

runMetaStoreSuite('postgres', () => fresh());

/** Runs `fn` on a fresh store and always drops the database. */
async function withStore(fn: (h: Awaited<ReturnType<typeof fresh>>) => Promise<void>, options: { max?: number } = {}) {
  const h = await fresh(options);
  try {
    await fn(h);
  } finally {
    await h.cleanup();
  }
}

async function withClient<T>(url: string, fn: (sql: SQL) => Promise<T>): Promise<T> {
  const sql = new SQL({ url, max: 1 });
  try {
    return await fn(sql);
  } finally {
    await sql.close();
  }
}

describe('postgres migrations', () => {
  test('4 processes migrating one empty database at the same instant all succeed; the schema is applied once', async () => {
    const url = await pg.newEmptyDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'registry-pg-migrate-'));
    try {
      const script = join(dir, 'migrate.ts');
      await Bun.write(
        script,
        `import { migratePostgres } from ${JSON.stringify(join(ROOT, 'src/db/pg/migrate.ts'))};
        // start together: every process waits for the same wall-clock instant
        await Bun.sleep(Math.max(0, Number(process.argv[3]) - Date.now()));
        await migratePostgres(process.argv[2]);`,
      );
      const startAt = Date.now() + 2500;
      const procs = [0, 1, 2, 3].map(() =>
        Bun.spawn([process.execPath, script, url, String(startAt)], { stdout: 'pipe', stderr: 'pipe' }),
      );
      const codes = await Promise.all(procs.map((p) => p.exited));
      const errors = await Promise.all(procs.map((p) => new Response(p.stderr).text()));
      expect(errors.join('')).toBe('');
      expect(codes).toEqual([0, 0, 0, 0]);
      await withClient(url, async (sql) => {
        const applied = await sql`SELECT hash, created_at::text AS created_at FROM drizzle.__drizzle_migrations ORDER BY id`;
        expect(applied.map((r: { hash: string; created_at: string }) => [r.hash, Number(r.created_at)])).toEqual(
          PG_MIGRATIONS.map((m) => [m.hash, m.folderMillis]),
        );
        const tables = await sql`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`;
        expect(tables.map((r: { tablename: string }) => r.tablename)).toEqual([
          'blobs',
          'images',
          'leases',
          'manifest_references',
          'manifests',
          'repositories',
          'repository_blobs',
          'tags',
          'upload_sessions',
          'users',
        ]);
        expect(await sql`SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'`).toHaveLength(1);
      });
      // a store opened with migrate: true on it applies nothing more
      const store = await PgMetaStore.open(url, { migrate: true });
      store.close();
      await withClient(url, async (sql) => {
        expect(await sql`SELECT 1 FROM drizzle.__drizzle_migrations`).toHaveLength(PG_MIGRATIONS.length);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await pg.dropDatabase(url);
    }
  }, 60_000);

  test('the V2 migration over a database holding V1 data keeps its tags', async () => {
    const url = await pg.newEmptyDatabase();
    try {
      // the database as the release before V2 left it: 0000_init, 0001_trigram_indexes
      await migratePostgres(url, { migrations: PG_MIGRATIONS.slice(0, 2) });
      await withClient(url, async (sql) => {
        await sql`INSERT INTO repositories (namespace, name, full_name, created_at, updated_at) VALUES ('library', 'ubuntu', 'library/ubuntu', 1, 1)`;
        await sql`INSERT INTO tags (repository_id, name, image_id, metadata, updated_at)
          SELECT id, t.name, 'img1', '{"m":1}', 5 FROM repositories, (VALUES ('latest'), ('B')) AS t(name)`;
      });
      const store = await PgMetaStore.open(url, { migrate: true });
      try {
        const ref = { namespace: 'library', name: 'ubuntu' };
        expect(await store.listTags(ref)).toEqual([
          { name: 'B', imageId: 'img1', metadata: '{"m":1}' },
          { name: 'latest', imageId: 'img1', metadata: '{"m":1}' },
        ]);
        expect(await store.listTagNames(ref)).toEqual(['B', 'latest']);
        expect(await store.getTaggedManifest(ref, 'latest')).toBeNull();
        expect((await store.search('ubun', 10, 0)).results.map((r) => r.name)).toEqual(['library/ubuntu']);
      } finally {
        store.close();
      }
    } finally {
      await pg.dropDatabase(url);
    }
  });

  test('the embedded migrations build the schema drizzle’s folder migrator builds', async () => {
    const fromFolder = await pg.newEmptyDatabase();
    const embedded = await pg.newDatabase();
    try {
      const client = new SQL({ url: fromFolder, max: 1 });
      await migrateFromFolder(drizzle({ client }), { migrationsFolder: join(ROOT, 'drizzle', 'pg') });
      await client.close();
      const snapshot = (url: string) =>
        withClient(url, async (sql) => ({
          columns: [
            ...(await sql`SELECT table_name, column_name, data_type, is_nullable, column_default, is_identity
              FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, column_name`),
          ],
          indexes: [...(await sql`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname`)],
          constraints: [
            ...(await sql`SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
              WHERE connamespace = 'public'::regnamespace ORDER BY conname`),
          ],
          applied: [...(await sql`SELECT hash, created_at::text AS created_at FROM drizzle.__drizzle_migrations ORDER BY id`)],
        }));
      const a = await snapshot(fromFolder);
      expect(await snapshot(embedded)).toEqual(a);
      expect(a.applied).toHaveLength(PG_MIGRATIONS.length);
      expect(a.indexes.map((i: { indexname: string }) => i.indexname)).toEqual(
        expect.arrayContaining(['repositories_full_name_trgm_idx', 'repositories_description_trgm_idx', 'repositories_index_images_trgm_idx']),
      );
      // the image json column holds bytes, and nothing is jsonb (drizzle's bun-sql driver double-encodes it)
      const types = Object.fromEntries(
        a.columns.map((c: { table_name: string; column_name: string; data_type: string }) => [`${c.table_name}.${c.column_name}`, c.data_type]),
      );
      expect(types['images.json']).toBe('bytea');
      expect(types['images.layer_size']).toBe('bigint');
      expect(Object.values(types)).not.toContain('jsonb');
    } finally {
      await pg.dropDatabase(fromFolder);
      await pg.dropDatabase(embedded);
    }
  });
});

describe('postgres store specifics', () => {
  test('image json: every byte value, NUL and invalid UTF-8 come back exactly; sizes past 2^32 as numbers', () =>
    withStore(async ({ store }) => {
      const all = new Uint8Array(512);
      for (let i = 0; i < all.length; i++) all[i] = i % 256;
      const odd = new Uint8Array([0x7b, 0x00, 0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0x5c, 0x78, 0x30, 0x30, 0x7d]);
      for (const [id, json] of [
        ['all', all],
        ['odd', odd],
        ['empty', new Uint8Array(0)],
      ] as const) {
        expect(await store.putImageIfUploading({ id, parent: null, json, ancestry: [id] })).toBe(true);
        const back = await store.getImage(id);
        expect(back?.json).toBeInstanceOf(Uint8Array);
        expect(back?.json).toEqual(json);
      }
      const big = 10_000_000_123;
      await store.setLayerIfUploading('all', { key: 'k', size: big, checksums: ['sha256:a', 'tarsum+sha256:b'] });
      const img = await store.getImage('all');
      expect(img?.layerSize).toBe(big);
      expect(typeof img?.createdAt).toBe('number');
      expect(img!.createdAt).toBeGreaterThan(1_600_000_000_000);
    }));

  test('hot reads run as named server-side prepared statements', () =>
    withStore(
      async ({ store }) => {
        const ref = { namespace: 'ns', name: 'r' };
        await store.putTag(ref, { name: 'latest', imageId: 'i', metadata: '{}' });
        await store.createUser({ username: 'u', passwordHash: 'h', email: 'e' });
        for (let i = 0; i < 3; i++) {
          await store.getImage('i');
          await store.getRepository(ref);
          await store.listTags(ref);
          await store.getTag(ref, 'latest');
          await store.getUser('u');
          await store.repositoriesListingImage('i');
        }
        // max: 1, so this runs on the very connection that ran the reads
        const prepared: { statement: string }[] = await store.db.$client`SELECT statement FROM pg_prepared_statements`;
        const texts = prepared.map((p) => p.statement);
        for (const fragment of [
          'from "images" where "images"."id" = $1',
          'from "repositories" where "repositories"."full_name" = $1',
          'left join "tags"',
          'inner join "repositories"',
          'from "users" where "users"."username" = $1',
          '"index_images" LIKE $1',
        ]) {
          expect(texts.some((t) => t.includes(fragment))).toBe(true);
        }
      },
      { max: 1 },
    ));

  test('conditional writes stay atomic across stores (as across nodes)', () =>
    withStore(async ({ url, store }) => {
      const others = await Promise.all([1, 2, 3].map(() => PgMetaStore.open(url, { migrate: false, max: 4 })));
      const stores = [store, ...others];
      const pick = (i: number) => stores[i % stores.length]!;
      try {
        // one winner for markReady
        await store.putImageIfUploading({ id: 'a', parent: null, json: enc.encode('{}'), ancestry: ['a'] });
        const ready = await Promise.all(Array.from({ length: 20 }, (_, i) => pick(i).markReady('a')));
        expect(ready.filter(Boolean)).toHaveLength(1);
        expect(await store.putImageIfUploading({ id: 'a', parent: null, json: enc.encode('{}'), ancestry: ['a'] })).toBe(false);

        // layer uploads racing: every key but the surviving one is handed back exactly once
        await store.putImageIfUploading({ id: 'b', parent: null, json: enc.encode('{}'), ancestry: ['b'] });
        const layers = await Promise.all(
          Array.from({ length: 24 }, (_, i) => pick(i).setLayerIfUploading('b', { key: `k${i}`, size: i, checksums: [] })),
        );
        expect(layers.every((l) => l.recorded)).toBe(true);
        const replaced = layers.map((l) => l.replacedKey).filter((k): k is string => k !== null);
        const survivor = (await store.getImage('b'))!.layerKey!;
        expect(new Set(replaced).size).toBe(replaced.length);
        expect([...replaced, survivor].sort()).toEqual(Array.from({ length: 24 }, (_, i) => `k${i}`).sort());

        // index image merges racing: read-modify-write under a row lock loses nothing
        const ref = { namespace: 'ns', name: 'idx' };
        const created = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            pick(i).updateIndexImages(ref, (cur) => JSON.stringify([...(cur ? (JSON.parse(cur) as number[]) : []), i])),
          ),
        );
        expect(created.filter((c) => c.created)).toHaveLength(1);
        const list = JSON.parse((await store.getRepository(ref))!.indexImages!) as number[];
        expect(list.sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));

        // tags pushed while the repository is deleted and recreated: no foreign-key failures
        const churn = { namespace: 'ns', name: 'churn' };
        const ops = Array.from({ length: 30 }, (_, i) =>
          i % 5 === 0 ? pick(i).deleteRepository(churn) : pick(i).putTag(churn, { name: `t${i}`, imageId: 'x', metadata: '{}' }),
        );
        await Promise.all(ops);
        await store.putTag(churn, { name: 'final', imageId: 'x', metadata: '{}' });
        expect((await store.listTags(churn))?.map((t) => t.name)).toContain('final');

        // V2: one first record of a blob, every racer linked to it; one append and one delete per point
        const blobs = await Promise.all(
          Array.from({ length: 12 }, (_, i) => pick(i).putBlob({ namespace: 'race', name: `r${i % 3}` }, { digest: 'sha256:b', size: 1, key: `k${i}` })),
        );
        expect(blobs.filter((b) => b.created)).toHaveLength(1);
        expect(new Set(blobs.map((b) => b.blob.key)).size).toBe(1);
        for (const i of [0, 1, 2]) expect(await store.getLinkedBlob({ namespace: 'race', name: `r${i}` }, 'sha256:b')).not.toBeNull();
        const upload = 'f'.repeat(32);
        await store.createUpload(upload, { namespace: 'race', name: 'r0' });
        const appended = await Promise.all(Array.from({ length: 12 }, (_, i) => pick(i).appendUpload(upload, { offset: 0, chunks: 0 }, i + 1)));
        expect(appended.filter((u) => u !== null)).toHaveLength(1);
        const deleted = await Promise.all(Array.from({ length: 12 }, (_, i) => pick(i).deleteUpload(upload)));
        expect(deleted.filter(Boolean)).toHaveLength(1);
        // manifests PUT at once under one tag: one stored per digest, the tag at one of them
        const manifest = (n: number) => ({ digest: `sha256:m${n % 3}`, mediaType: 'm', content: enc.encode(`${n}`), subject: null, artifactType: null, references: [{ digest: 'sha256:b', kind: 'blob' as const }] });
        await Promise.all(Array.from({ length: 12 }, (_, i) => pick(i).putManifest({ namespace: 'race', name: 'm' }, manifest(i), 'latest')));
        const tagged = await store.getTaggedManifest({ namespace: 'race', name: 'm' }, 'latest');
        expect(['sha256:m0', 'sha256:m1', 'sha256:m2']).toContain(tagged!.digest);
        expect(await store.listTagNames({ namespace: 'race', name: 'm' })).toEqual(['latest']);

        // users: one creator
        const made = await Promise.all(Array.from({ length: 8 }, (_, i) => pick(i).createUser({ username: 'same', passwordHash: `h${i}`, email: 'e' })));
        expect(made.filter(Boolean)).toHaveLength(1);
      } finally {
        for (const s of others) s.close();
      }
    }));

  test('search: within a rank by name in byte order, even in a database whose collation sorts otherwise; trigram indexes serve it', async () => {
    // an ICU en-US database: its default order ignores case and punctuation first
    const name = 'icu_search';
    const url = pg.cluster.url(name);
    await withClient(pg.url, (sql) => sql.unsafe(`CREATE DATABASE ${name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'`));
    const store = await PgMetaStore.open(url, { migrate: true });
    try {
      const names = ['zed/ubuntu', 'acme/ubuntu-tools', 'Acme/ubuntu', 'a-b/ubuntu', 'ab/misc', 'aa/misc'];
      await withClient(url, async (sql) => {
        const [sorted] = await sql.unsafe(`SELECT array_agg(x ORDER BY x) AS a, array_agg(x ORDER BY x COLLATE "C") AS b FROM unnest($1::text[]) x`, [names]);
        expect(sorted.a).not.toEqual(sorted.b);
      });
      for (const full of names) {
        const [namespace, repo] = full.split('/') as [string, string];
        await store.setPrivate({ namespace, name: repo }, false);
      }
      await store.db.update(repositories).set({ description: 'ubuntu things' }).where(eq(repositories.fullName, 'ab/misc'));
      await store.db.update(repositories).set({ description: 'more UBUNTU' }).where(eq(repositories.fullName, 'aa/misc'));
      const search = async (q: string) => (await store.search(q, 10, 0)).results.map((r) => r.name);
      // byte order: 'A' < 'a', '-' < 'c'; name matches first
      const expected = ['Acme/ubuntu', 'a-b/ubuntu', 'acme/ubuntu-tools', 'zed/ubuntu', 'aa/misc', 'ab/misc'];
      expect(await search('ubuntu')).toEqual(expected);
      expect(await search('UB')).toEqual(expected);
      expect(await search('')).toEqual(['Acme/ubuntu', 'a-b/ubuntu', 'aa/misc', 'ab/misc', 'acme/ubuntu-tools', 'zed/ubuntu']);
      await store.putTag({ namespace: 'zed', name: 'ubuntu' }, { name: 'b', imageId: 'x', metadata: '{}' });
      await store.putTag({ namespace: 'zed', name: 'ubuntu' }, { name: 'B', imageId: 'x', metadata: '{}' });
      await store.putTag({ namespace: 'zed', name: 'ubuntu' }, { name: 'a-1', imageId: 'x', metadata: '{}' });
      expect((await store.listTags({ namespace: 'zed', name: 'ubuntu' }))?.map((t) => t.name)).toEqual(['B', 'a-1', 'b']);
      // V2 listings page in byte order too: `last` compares as the order sorts
      const zed = { namespace: 'zed', name: 'ubuntu' };
      const m = { digest: 'sha256:m', mediaType: 'application/vnd.oci.image.manifest.v1+json', content: enc.encode('{}'), subject: null, artifactType: null, references: [] };
      await store.putManifest(zed, m, 'A-2');
      expect((await store.listTags(zed))?.map((t) => t.name)).toEqual(['B', 'a-1', 'b']);
      expect(await store.listTagNames(zed)).toEqual(['A-2', 'B', 'a-1', 'b']);
      expect(await store.listTagNames(zed, { last: 'B' })).toEqual(['a-1', 'b']);
      expect(await store.listTagNames(zed, { last: 'A-2', n: 2 })).toEqual(['B', 'a-1']);
      expect(await store.listRepositories()).toEqual(['Acme/ubuntu', 'a-b/ubuntu', 'aa/misc', 'ab/misc', 'acme/ubuntu-tools', 'zed/ubuntu']);
      expect(await store.listRepositories({ last: 'Acme/ubuntu', n: 2 })).toEqual(['a-b/ubuntu', 'aa/misc']);
      expect(await store.listRepositories({ last: 'ab/misc' })).toEqual(['acme/ubuntu-tools', 'zed/ubuntu']);

      await withClient(url, async (sql) => {
        await sql`SET enable_seqscan = off`;
        const plan = async (query: string) =>
          ((await sql.unsafe(`EXPLAIN ${query}`)) as { 'QUERY PLAN': string }[]).map((r) => r['QUERY PLAN']).join('\n');
        const searchPlan = await plan(`SELECT 1 FROM repositories WHERE lower(full_name) ILIKE '%ubunt%' OR lower(description) ILIKE '%ubunt%'`);
        expect(searchPlan).toContain('repositories_full_name_trgm_idx');
        expect(searchPlan).toContain('repositories_description_trgm_idx');
        expect(await plan(`SELECT 1 FROM repositories WHERE index_images LIKE '%abcdef0123%'`)).toContain('repositories_index_images_trgm_idx');
      });
    } finally {
      store.close();
      await pg.dropDatabase(url);
    }
  });

  test('repositories listing an image: JSON that jsonb would refuse still counts, wildcards in ids are literal', () =>
    withStore(async ({ store }) => {
      const a = { namespace: 'ns', name: 'a' };
      const b = { namespace: 'ns', name: 'b' };
      await store.updateIndexImages(a, () => '[{"id":"i1","comment":"nul \\u0000 and lone \\ud800"}]');
      await store.updateIndexImages(b, () => '[{"id":"i_2"},{"id":"i%"}]');
      expect((await store.repositoriesListingImage('i1')).map((r) => r.name)).toEqual(['a']);
      expect((await store.repositoriesListingImage('i_2')).map((r) => r.name)).toEqual(['b']);
      expect(await store.repositoriesListingImage('ix2')).toEqual([]);
      expect((await store.repositoriesListingImage('i%')).map((r) => r.name)).toEqual(['b']);
      expect(await store.repositoriesListingImage('i')).toEqual([]);
    }));
});

/**
 * A transaction of its own on `url` (one reserved connection) that has taken `lock` and holds it
 * until `release()`: a store call meant to run "between" two steps of another is made to wait there.
 */
async function holdLock(url: string, lock: string) {
  const sql = new SQL({ url, max: 1 });
  const conn = await sql.reserve();
  await conn.unsafe('BEGIN');
  await conn.unsafe(lock);
  return {
    release: async () => {
      await conn.unsafe('COMMIT');
      conn.release();
      await sql.close();
    },
  };
}

/**
 * Resolves once `n` backends of the store's database wait on a lock (a call has reached the held
 * one), or as soon as `done()` (the call it waits for has finished instead of waiting).
 */
async function waitersOnLock(store: PgMetaStore, n: number, done: () => boolean = () => false): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) {
    const [row] = await store.db.$client.unsafe(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    if ((row as { n: number }).n >= n) return;
    await Bun.sleep(10);
  }
  if (!done()) throw new Error(`never ${n} backends waiting on a lock`);
}

/** Tags naming a V2 manifest their repository does not hold (a pull by that tag would 404). */
async function danglingTags(store: PgMetaStore): Promise<string[]> {
  const rows = await store.db.$client.unsafe(
    `SELECT t.name FROM tags t WHERE t.manifest_digest IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = t.repository_id AND m.digest = t.manifest_digest)`,
  );
  return (rows as { name: string }[]).map((r) => r.name);
}

describe('postgres V2 races (one step of a call held on a lock while another call runs)', () => {
  const v2 = (n: string, blob: string) => ({
    digest: `sha256:${n}`,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    content: enc.encode(`{"n":"${n}"}`),
    subject: null,
    artifactType: null,
    references: [{ digest: `sha256:${blob}`, kind: 'blob' as const }],
  });

  test('a tag PUT of a stored manifest racing its DELETE by digest: the tag never outlives the manifest', () =>
    withStore(async ({ url, store }) => {
      const ref = { namespace: 'race', name: 'tagdel' };
      await store.putBlob(ref, { digest: 'sha256:x', size: 1, key: 'kx' });
      await store.putManifest(ref, v2('old', 'x'), 'latest', { verify: true });
      await store.putManifest(ref, v2('d', 'x'), undefined, { verify: true });
      // the PUT (tag latest -> d, d stored already) is held at its tag write, after its manifest step
      const held = await holdLock(url, `SELECT 1 FROM tags WHERE name = 'latest' FOR UPDATE`);
      const put = store.putManifest(ref, v2('d', 'x'), 'latest', { verify: true });
      await waitersOnLock(store, 1);
      // the DELETE of d runs meanwhile (and must not finish before the PUT it races)
      let deleted: boolean | null = null;
      const del = store.deleteManifest(ref, 'sha256:d').then((d) => (deleted = d));
      await waitersOnLock(store, 2, () => deleted !== null);
      await held.release();
      expect(await put).toBeNull();
      await del;
      expect(deleted as boolean | null).toBe(true);
      expect(await danglingTags(store)).toEqual([]);
      expect(await store.getTaggedManifest(ref, 'latest')).toBeNull();
      expect(await store.listTagNames(ref)).toEqual([]);
    }));

  test('a manifest PUT racing the deletion of its repository: the manifest is refused or deleted with it, never stored without its blobs', () =>
    withStore(async ({ url, store }) => {
      const ref = { namespace: 'race', name: 'repodel' };
      await store.putBlob(ref, { digest: 'sha256:x', size: 1, key: 'kx' });
      // the PUT is held in its verification, at the lock on the blob row it checks is linked
      const held = await holdLock(url, `SELECT 1 FROM blobs WHERE digest = 'sha256:x' FOR UPDATE`);
      const put = store.putManifest(ref, v2('m', 'x'), 'latest', { verify: true });
      await waitersOnLock(store, 1);
      let removed: boolean | null = null;
      const del = store.deleteRepository(ref).then((r) => (removed = r));
      await waitersOnLock(store, 2, () => removed !== null);
      await held.release();
      const missing = await put;
      await del;
      expect(removed as boolean | null).toBe(true);
      const stored = await store.getManifest(ref, 'sha256:m');
      // stored: then its blob is linked in its repository; refused: nothing of it is left
      if (stored) expect(await store.getLinkedBlob(ref, 'sha256:x')).not.toBeNull();
      else expect(missing === 'sha256:x' || (await store.getRepository(ref)) === null).toBe(true);
      expect(await danglingTags(store)).toEqual([]);
    }));

  test('a manifest PUT moving a tag off a V1 image racing the deletion of its repository: both complete, no deadlock', () =>
    withStore(async ({ url, store }) => {
      const ref = { namespace: 'race', name: 'deadlock' };
      await store.putImageIfUploading({ id: 'i', parent: null, json: enc.encode('{}'), ancestry: ['i'] });
      await store.markReady('i');
      await store.putTag(ref, { name: 'latest', imageId: 'i', metadata: '{}' });
      await store.putBlob(ref, { digest: 'sha256:x', size: 1, key: 'kx' });
      // the PUT is held in its verification, once it holds what it locks first
      const held = await holdLock(url, `SELECT 1 FROM blobs WHERE digest = 'sha256:x' FOR UPDATE`);
      const put = store.putManifest(ref, v2('m', 'x'), 'latest', { verify: true });
      await waitersOnLock(store, 1);
      // the deletion touches the tag's image, then needs the repository row
      let removed: boolean | null = null;
      const del = store.deleteRepository(ref).then((r) => (removed = r));
      await waitersOnLock(store, 2, () => removed !== null);
      await held.release();
      const [p, d] = await Promise.allSettled([put, del]);
      expect(p.status).toBe('fulfilled');
      expect(d.status).toBe('fulfilled');
      expect(removed as boolean | null).toBe(true);
      expect(await danglingTags(store)).toEqual([]);
    }));
});

describe('postgres conflicts the server breaks by rolling a transaction back', () => {
  test('a store transaction chosen as the deadlock victim is run again and completes (no 500)', () =>
    withStore(async ({ url, store }) => {
      const ref = { namespace: 'race', name: 'victim' };
      await store.putBlob(ref, { digest: 'sha256:x', size: 1, key: 'kx' });
      await store.putManifest(ref, { digest: 'sha256:m', mediaType: 'application/vnd.oci.image.manifest.v1+json', content: enc.encode('{}'), subject: null, artifactType: null, references: [{ digest: 'sha256:x', kind: 'blob' }] }, 'latest', { verify: true });
      // another session holds the manifest's blob row
      const sql = new SQL({ url, max: 1 });
      const other = await sql.reserve();
      await other.unsafe('BEGIN');
      await other.unsafe(`SELECT 1 FROM blobs WHERE digest = 'sha256:x' FOR UPDATE`);
      try {
        // deleteRepository locks the repository row, then waits for that blob row (it touches what the manifest references)
        let outcome: unknown = null;
        const del = store.deleteRepository(ref).then(
          (r) => (outcome = r),
          (e: unknown) => (outcome = e),
        );
        await waitersOnLock(store, 1);
        // the other session now wants the repository row: a cycle; the store's transaction, waiting
        // the longer, reaches deadlock_timeout first and is rolled back with 40P01
        const cycle = other.unsafe(`SELECT 1 FROM repositories WHERE full_name = 'race/victim' FOR UPDATE`);
        await cycle;
        await other.unsafe('COMMIT');
        await del;
        expect(outcome).toBe(true);
        expect(await store.getRepository(ref)).toBeNull();
      } finally {
        other.release();
        await sql.close();
      }
    }));

  test('a deadlock or serialization failure counts as a retry; other statement errors do not', () => {
    const pgError = (errno: string) => Object.assign(new Error('from the server'), { errno });
    const wrapped = (e: Error) => Object.assign(new Error('Failed query'), { cause: e });
    expect(pgFailure(wrapped(pgError('40P01')))).toBe('retry');
    expect(pgFailure(wrapped(pgError('40001')))).toBe('retry');
    expect(pgFailure(wrapped(pgError('23505')))).toBeNull();
    expect(pgFailure(wrapped(pgError('40002')))).toBeNull();
  });
});

describe('postgres connections', () => {
  test('after pg_terminate_backend of every pooled connection, the next calls succeed', () =>
    withStore(
      async ({ url, store }) => {
        const ref = { namespace: 'ns', name: 'r' };
        await store.putTag(ref, { name: 'latest', imageId: 'img', metadata: '{}' });
        await store.putImageIfUploading({ id: 'img', parent: null, json: enc.encode('{"id":"img"}'), ancestry: ['img'] });
        await store.createUser({ username: 'u', passwordHash: 'h', email: 'e' });
        const admin = new SQL({ url: pg.url, max: 1 });
        try {
          for (let round = 0; round < 4; round++) {
            // open pooled connections (Bun may pipeline some queries on one), then kill all at once
            await Promise.all(Array.from({ length: 4 }, () => store.db.$client`SELECT pg_sleep(0.02)`));
            const killed = await admin`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
              WHERE datname = ${databaseOf(url)} AND application_name = ${PG_APPLICATION_NAME}`;
            expect(killed.length).toBeGreaterThanOrEqual(1);
            expect(killed.every((r: { ok: boolean }) => r.ok)).toBe(true);
            const [tag, list, image, repo, user, listing, , , found, ready] = await Promise.all([
              store.getTag(ref, 'latest'),
              store.listTags(ref),
              store.getImage('img'),
              store.getRepository(ref),
              store.getUser('u'),
              store.repositoriesListingImage('img'),
              store.putTag(ref, { name: `r${round}`, imageId: 'img', metadata: '{}' }),
              store.updateIndexImages(ref, () => '[{"id":"img"}]'),
              store.search('ns/', 10, 0),
              store.setLayerIfUploading('img', { key: `k${round}`, size: round, checksums: [] }),
            ]);
            expect(tag?.imageId).toBe('img');
            expect(list?.length).toBeGreaterThanOrEqual(1);
            expect(image?.id).toBe('img');
            expect(repo?.name).toBe('r');
            expect(user?.username).toBe('u');
            expect(listing.length).toBeLessThanOrEqual(1);
            expect(found.total).toBe(1);
            expect(ready.recorded).toBe(true);
          }
          expect((await store.listTags(ref))!.map((t) => t.name)).toEqual(['latest', 'r0', 'r1', 'r2', 'r3']);
        } finally {
          await admin.close();
        }
      },
      { max: 4 },
    ));

  test('server stopped: a typed 503 error at once, not a hang; calls work again once it is back', async () => {
    const cluster = await startCluster();
    try {
      const store = await PgMetaStore.open(cluster.url(), { migrate: true, connectTimeout: 2 });
      try {
        const ref = { namespace: 'ns', name: 'r' };
        await store.putTag(ref, { name: 'latest', imageId: 'img', metadata: '{}' });
        await cluster.stopServer();
        const started = performance.now();
        const failures = await Promise.all([
          store.getTag(ref, 'latest').catch((e: unknown) => e),
          store.putTag(ref, { name: 'other', imageId: 'img', metadata: '{}' }).catch((e: unknown) => e),
          store.search('', 10, 0).catch((e: unknown) => e),
          store.markReady('img').catch((e: unknown) => e),
        ]);
        expect(performance.now() - started).toBeLessThan(5000);
        for (const e of failures) {
          expect(e).toBeInstanceOf(RegistryError);
          expect((e as RegistryError).code).toBe('METADATA_UNAVAILABLE');
          expect((e as RegistryError).status).toBe(503);
          expect(connectionFailure((e as Error).cause)).not.toBeNull();
        }
        // what a route answers: 503 with a V1 JSON body, never 500
        const reply = errorToResponse('UNKNOWN', failures[0], () => {
          throw new Error('a RegistryError must not be logged as unhandled');
        });
        expect(reply.status).toBe(503);
        expect(await reply.json()).toEqual({ error: 'Metadata store unavailable, retry later' });

        await cluster.startServer();
        expect((await store.getTag(ref, 'latest'))?.imageId).toBe('img');
        await store.putTag(ref, { name: 'after', imageId: 'img', metadata: '{}' });
        expect((await store.listTags(ref))!.map((t) => t.name)).toEqual(['after', 'latest']);
      } finally {
        store.close();
      }
    } finally {
      await cluster.destroy();
    }
  }, 60_000);

  test('a server that never answers: open fails with the typed 503 error after the connect timeout', async () => {
    const silent = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
    try {
      const started = performance.now();
      const error = await PgMetaStore.open(`postgres://postgres@127.0.0.1:${silent.port}/x`, { migrate: false, connectTimeout: 1 }).catch(
        (e: unknown) => e,
      );
      const elapsed = performance.now() - started;
      expect(error).toBeInstanceOf(RegistryError);
      expect((error as RegistryError).code).toBe('METADATA_UNAVAILABLE');
      expect(connectionFailure((error as Error).cause)).toBe('timeout');
      expect(elapsed).toBeGreaterThanOrEqual(900);
      expect(elapsed).toBeLessThan(4000);
      // the same through the migrator
      const viaMigrate = await PgMetaStore.open(`postgres://postgres@127.0.0.1:${silent.port}/x`, { migrate: true, connectTimeout: 1 }).catch(
        (e: unknown) => e,
      );
      expect((viaMigrate as RegistryError).code).toBe('METADATA_UNAVAILABLE');
    } finally {
      silent.stop(true);
    }
  });

  test('query errors are not connection errors: they surface as they are, without a retry', () =>
    withStore(async ({ store }) => {
      const error = await store.db.$client`SELECT * FROM no_such_table`.catch((e: unknown) => e);
      expect(connectionFailure(error)).toBeNull();
      await store.createUser({ username: 'u', passwordHash: 'h', email: 'e' });
      const dup = await store.db.$client`INSERT INTO users (username, password_hash, email, created_at) VALUES ('u', 'h', 'e', 0)`.catch(
        (e: unknown) => e,
      );
      expect((dup as { errno?: string }).errno).toBe('23505');
      expect(connectionFailure(dup)).toBeNull();
    }));
});
