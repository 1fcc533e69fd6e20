import { describe, expect, test } from 'bun:test';
import { Database } from 'bun:sqlite';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/bun-sqlite';
import type { RepoRef } from '../../src/db/meta.ts';
import { repositories } from '../../src/db/sqlite/schema.ts';
import { openSqlite, sqliteFailure, type Db } from '../../src/db/sqlite/client.ts';
import { MIGRATIONS, migrateSqlite } from '../../src/db/sqlite/migrate.ts';
import * as schema from '../../src/db/sqlite/schema.ts';
import { SqliteMetaStore } from '../../src/db/sqlite/store.ts';
import { WalIndexHeader } from '../../src/db/sqlite/wal-index.ts';
import { RegistryError } from '../../src/errors.ts';
import { runMetaStoreSuite } from './meta.suite.ts';

const describer = (store: SqliteMetaStore) => async (ref: RepoRef, description: string) => {
  store.db.update(repositories).set({ description }).where(eq(repositories.fullName, `${ref.namespace}/${ref.name}`)).run();
};

const counter = (store: SqliteMetaStore) => async (table: string) =>
  (store.db.$client.query(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;

runMetaStoreSuite('sqlite (:memory:)', async () => {
  const store = SqliteMetaStore.open(':memory:');
  return { store, cleanup: async () => store.close(), setDescription: describer(store), countRows: counter(store) };
});

runMetaStoreSuite('sqlite (file)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'registry-db-'));
  const store = SqliteMetaStore.open(join(dir, 'registry.db'));
  return {
    store,
    setDescription: describer(store),
    countRows: counter(store),
    cleanup: async () => {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('sqlite settings for several processes', () => {
  test('WAL, busy timeout and foreign keys are on; migrations are idempotent', () => {
    const dir = mkdtempSync(join(tmpdir(), 'registry-db-'));
    try {
      const path = join(dir, 'registry.db');
      SqliteMetaStore.open(path).close();
      const store = SqliteMetaStore.open(path);
      const client = store.db.$client;
      expect(client.query('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' });
      expect(client.query('PRAGMA busy_timeout').get()).toEqual({ timeout: 10000 });
      expect(client.query('PRAGMA foreign_keys').get()).toEqual({ foreign_keys: 1 });
      const tables = client
        .query("SELECT name FROM sqlite_master WHERE type IN ('table') AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '%fts_%' ORDER BY name")
        .all()
        .map((r) => (r as { name: string }).name);
      expect(tables).toEqual([
        '__drizzle_migrations',
        'blobs',
        'images',
        'leases',
        'manifest_references',
        'manifests',
        'repositories',
        'repositories_fts',
        'repository_blobs',
        'tags',
        'upload_sessions',
        'users',
      ]);
      store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  test('4 processes writing tags at once: no SQLITE_BUSY, nothing lost', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'registry-db-'));
    try {
      const path = join(dir, 'registry.db');
      SqliteMetaStore.open(path).close();
      const script = `
        import { SqliteMetaStore } from ${JSON.stringify(join(import.meta.dir, '../../src/db/sqlite/store.ts'))};
        const s = SqliteMetaStore.open(process.argv[2], { migrate: false });
        const w = process.argv[3];
        for (let i = 0; i < 200; i++) {
          await s.putTag({ namespace: 'ns', name: 'shared' }, { name: 'w' + w + '-' + i, imageId: 'x', metadata: '{}' });
          await s.putTag({ namespace: 'ns', name: 'shared' }, { name: 'latest', imageId: w + ':' + i, metadata: '{}' });
        }
        s.close();`;
      const file = join(dir, 'writer.ts');
      await Bun.write(file, script);
      const procs = [0, 1, 2, 3].map((w) =>
        Bun.spawn([process.execPath, file, path, String(w)], { stdout: 'pipe', stderr: 'pipe' }),
      );
      const codes = await Promise.all(procs.map((p) => p.exited));
      const errors = await Promise.all(procs.map((p) => new Response(p.stderr).text()));
      expect(errors.join('')).toBe('');
      expect(codes).toEqual([0, 0, 0, 0]);
      const store = SqliteMetaStore.open(path, { migrate: false });
      const tags = await store.listTags({ namespace: 'ns', name: 'shared' });
      expect(tags?.length).toBe(4 * 200 + 1);
      expect(tags?.find((t) => t.name === 'latest')?.imageId).toMatch(/^[0-3]:199$/);
      store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('the V2 migrations over a database holding V1 data', () => {
  test('tags, images and search survive the tags rebuild (0003) and the new column (0004)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'registry-db-'));
    try {
      const path = join(dir, 'registry.db');
      const db = openSqlite(path);
      // the database as the release before V2 left it: 0000_init … 0002_users
      migrateSqlite(db, MIGRATIONS.slice(0, 3));
      const c = db.$client;
      expect(c.query("SELECT count(*) AS n FROM pragma_table_info('tags') WHERE name = 'manifest_digest'").get()).toEqual({ n: 0 });
      c.exec(`INSERT INTO repositories (namespace, name, full_name, description, private, created_at, updated_at)
        VALUES ('library', 'ubuntu', 'library/ubuntu', 'Ubuntu base', 0, 1, 1), ('acme', 'tools', 'acme/tools', '', 1, 2, 2)`);
      c.exec(`INSERT INTO images (id, json, ancestry, state, created_at, updated_at) VALUES ('img1', x'7b7d', '["img1"]', 'ready', 1, 1)`);
      c.exec(`INSERT INTO tags (repository_id, name, image_id, metadata, updated_at) VALUES
        (1, 'latest', 'img1', '{"m":1}', 5), (1, 'B', 'img1', '{}', 6), (2, 'v1', 'img2', '{}', 7)`);
      db.$client.close();

      const store = SqliteMetaStore.open(path);
      try {
        const client = store.db.$client;
        expect(client.query('SELECT count(*) AS n FROM __drizzle_migrations').get()).toEqual({ n: MIGRATIONS.length });
        expect(client.query('SELECT * FROM tags ORDER BY repository_id, name').all()).toEqual([
          { repository_id: 1, name: 'B', image_id: 'img1', manifest_digest: null, metadata: '{}', updated_at: 6 },
          { repository_id: 1, name: 'latest', image_id: 'img1', manifest_digest: null, metadata: '{"m":1}', updated_at: 5 },
          { repository_id: 2, name: 'v1', image_id: 'img2', manifest_digest: null, metadata: '{}', updated_at: 7 },
        ]);
        expect(client.query('PRAGMA foreign_key_check').all()).toEqual([]);
        expect(client.query('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' });
        const ubuntu = { namespace: 'library', name: 'ubuntu' };
        expect(await store.listTags(ubuntu)).toEqual([
          { name: 'B', imageId: 'img1', metadata: '{}' },
          { name: 'latest', imageId: 'img1', metadata: '{"m":1}' },
        ]);
        expect(await store.listTagNames(ubuntu)).toEqual(['B', 'latest']);
        expect((await store.getImage('img1'))?.state).toBe('ready');
        // the FTS index and its triggers (0001) still follow the repositories table
        expect((await store.search('ubun', 10, 0)).results.map((r) => r.name)).toEqual(['library/ubuntu']);
        await store.putTag({ namespace: 'zed', name: 'ubuntu-x' }, { name: 't', imageId: 'img1', metadata: '{}' });
        expect((await store.search('ubuntu', 10, 0)).results.map((r) => r.name)).toEqual(['library/ubuntu', 'zed/ubuntu-x']);
        // deleting a repository still cascades to the rebuilt tags table
        expect(await store.deleteRepository(ubuntu)).toBe(true);
        expect(client.query('SELECT count(*) AS n FROM tags WHERE repository_id = 1').get()).toEqual({ n: 0 });
        expect((await store.search('ubuntu', 10, 0)).results.map((r) => r.name)).toEqual(['zed/ubuntu-x']);
      } finally {
        store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the read cache never outlives a commit', () => {
  const ref = { namespace: 'ns', name: 'cached' };
  const tag = (name: string, imageId: string) => ({ name, imageId, metadata: '{}' });

  test("another connection's commit (another worker) is seen by the next read", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'registry-db-'));
    const path = join(dir, 'registry.db');
    const a = SqliteMetaStore.open(path);
    const b = SqliteMetaStore.open(path, { migrate: false });
    try {
      await b.putTag(ref, tag('latest', 'one'));
      // a reads (and remembers) twice, then b changes everything a remembered
      for (let i = 0; i < 2; i++) {
        expect((await a.getTag(ref, 'latest'))?.imageId).toBe('one');
        expect((await a.listTags(ref))?.map((t) => t.imageId)).toEqual(['one']);
        expect((await a.getRepository(ref))?.private).toBe(false);
      }
      await b.putTag(ref, tag('latest', 'two'));
      await b.putTag(ref, tag('v2', 'two'));
      await b.setPrivate(ref, true);
      expect((await a.getTag(ref, 'latest'))?.imageId).toBe('two');
      expect((await a.listTags(ref))?.map((t) => `${t.name}=${t.imageId}`)).toEqual(['latest=two', 'v2=two']);
      expect((await a.getRepository(ref))?.private).toBe(true);
      // the V2 reads it remembers too
      const m = { digest: 'sha256:m', mediaType: 'm', content: new Uint8Array([1]), subject: null, artifactType: null, references: [] };
      for (let i = 0; i < 2; i++) {
        expect(await a.listTagNames(ref)).toEqual(['latest', 'v2']);
        expect(await a.getTaggedManifest(ref, 'latest')).toBeNull();
      }
      await b.putManifest(ref, m, 'latest');
      expect((await a.getTaggedManifest(ref, 'latest'))?.digest).toBe('sha256:m');
      await b.putManifest(ref, m, 'new');
      expect(await a.listTagNames(ref)).toEqual(['latest', 'new', 'v2']);
      expect(await a.listTagNames(ref, { n: 1 })).toEqual(['latest']);
      await b.deleteManifest(ref, 'sha256:m');
      expect(await a.getTaggedManifest(ref, 'latest')).toBeNull();
      expect(await a.listTagNames(ref)).toEqual(['v2']);
      await b.deleteRepository(ref);
      expect(await a.listTagNames(ref)).toBeNull();
      expect(await a.listTags(ref)).toBeNull();
      expect(await a.getTag(ref, 'latest')).toBeNull();
      expect(await a.getRepository(ref)).toBeNull();
    } finally {
      a.close();
      b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('its own commits are seen at once, and cached records cannot be altered by a caller', async () => {
    const store = SqliteMetaStore.open(':memory:');
    try {
      expect(await store.listTags(ref)).toBeNull();
      await store.putTag(ref, tag('latest', 'one'));
      const first = await store.listTags(ref);
      expect(first?.map((t) => t.imageId)).toEqual(['one']);
      expect(() => first!.push(tag('x', 'y'))).toThrow();
      expect(() => ((first![0] as { imageId: string }).imageId = 'evil')).toThrow();
      await store.deleteTag(ref, 'latest');
      expect(await store.listTags(ref)).toEqual([]);
      expect(await store.getTag(ref, 'latest')).toBeNull();
      // a cached manifest record is frozen, and its bytes are the caller's own copy
      await store.putManifest(ref, { digest: 'sha256:m', mediaType: 'm', content: new Uint8Array([1, 2]), subject: null, artifactType: null, references: [] }, 'm');
      const got = (await store.getTaggedManifest(ref, 'm'))!;
      got.content[0] = 9;
      expect((await store.getTaggedManifest(ref, 'm'))?.content).toEqual(new Uint8Array([1, 2]));
      const names = (await store.listTagNames(ref))!;
      expect(() => names.push('x')).toThrow();
      expect(await store.listTagNames(ref)).toEqual(['m']);
    } finally {
      store.close();
    }
  });
});

describe('the WAL-index header stands in for the pragma only while nobody has committed', () => {
  const ref = { namespace: 'ns', name: 'shm' };
  const tag = (name: string, imageId: string) => ({ name, imageId, metadata: '{}' });
  const withDir = async (fn: (dir: string, path: string) => Promise<void>) => {
    const dir = mkdtempSync(join(tmpdir(), 'registry-db-'));
    try {
      await fn(dir, join(dir, 'registry.db'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  test("another process's commits are seen by the very next read, every time", async () => {
    await withDir(async (dir, path) => {
      const a = SqliteMetaStore.open(path);
      try {
        // the header is in use for this store (else this test would prove only the pragma)
        expect(WalIndexHeader.of(a.db.$client)).not.toBeNull();
        const file = join(dir, 'writer.ts');
        await Bun.write(
          file,
          `import { SqliteMetaStore } from ${JSON.stringify(join(import.meta.dir, '../../src/db/sqlite/store.ts'))};
          const s = SqliteMetaStore.open(process.argv[2], { migrate: false });
          const ref = { namespace: 'ns', name: 'shm' };
          if (process.argv[3] === 'delete') await s.deleteRepository(ref);
          else await s.putTag(ref, { name: 'latest', imageId: process.argv[3], metadata: '{}' });
          s.close();`,
        );
        const commit = async (arg: string) => {
          const p = Bun.spawn([process.execPath, file, path, arg], { stdout: 'pipe', stderr: 'pipe' });
          expect(await p.exited).toBe(0);
        };
        for (const id of ['one', 'two', 'three']) {
          await commit(id);
          // twice: the second read is the one the header answers
          for (let i = 0; i < 2; i++) {
            expect((await a.getTag(ref, 'latest'))?.imageId).toBe(id);
            expect((await a.listTags(ref))?.map((t) => t.imageId)).toEqual([id]);
          }
        }
        await commit('delete');
        expect(await a.getTag(ref, 'latest')).toBeNull();
        expect(await a.listTags(ref)).toBeNull();
      } finally {
        a.close();
      }
    });
  }, 60_000);

  test('the header is mapped (no read per check), and mapped or read it changes with every commit, of this process or another', async () => {
    await withDir(async (dir, path) => {
      const a = SqliteMetaStore.open(path);
      const b = SqliteMetaStore.open(path, { migrate: false });
      try {
        const mapped = WalIndexHeader.of(a.db.$client)!;
        const read = WalIndexHeader.of(a.db.$client, { map: false })!;
        // glibc Linux, where this runs: the mapping is made (elsewhere it falls back to pread)
        expect(mapped.mapped).toBe(true);
        expect(read.mapped).toBe(false);
        const file = join(dir, 'writer.ts');
        await Bun.write(
          file,
          `import { SqliteMetaStore } from ${JSON.stringify(join(import.meta.dir, '../../src/db/sqlite/store.ts'))};
          const s = SqliteMetaStore.open(process.argv[2], { migrate: false });
          await s.putTag({ namespace: 'ns', name: 'shm' }, { name: 'latest', imageId: process.argv[3], metadata: '{}' });
          s.close();`,
        );
        const commits: [string, () => Promise<unknown>][] = [
          ['this process', () => b.putTag(ref, tag('latest', 'here'))],
          [
            'another process',
            async () => {
              const p = Bun.spawn([process.execPath, file, path, 'there'], { stdout: 'pipe', stderr: 'pipe' });
              expect(await p.exited).toBe(0);
            },
          ],
        ];
        for (const [, commit] of commits) {
          for (const header of [mapped, read]) header.mark();
          for (const header of [mapped, read]) expect(header.unchanged()).toBe(true);
          await commit();
          for (const header of [mapped, read]) expect(header.unchanged()).toBe(false);
        }
        expect((await a.getTag(ref, 'latest'))?.imageId).toBe('there');
      } finally {
        a.close();
        b.close();
      }
    });
  }, 60_000);

  test('a checkpoint that resets the WAL, then a commit of the same size, is seen', async () => {
    await withDir(async (_dir, path) => {
      const a = SqliteMetaStore.open(path);
      const b = SqliteMetaStore.open(path, { migrate: false });
      const checkpoint = () => b.db.$client.prepare('PRAGMA wal_checkpoint(TRUNCATE)').values()[0];
      try {
        // [busy, frames in the WAL, frames checkpointed]: nobody reading, so the WAL is emptied
        expect(checkpoint()).toEqual([0, 0, 0]);
        await b.putTag(ref, tag('latest', 'aaaa'));
        expect((await a.getTag(ref, 'latest'))?.imageId).toBe('aaaa');
        expect((await a.listTags(ref))?.map((t) => t.imageId)).toEqual(['aaaa']);
        for (const id of ['bbbb', 'cccc']) {
          expect(checkpoint()?.[0]).toBe(0);
          // as many WAL frames as the header a remembered held: only the reset shows in it
          await b.putTag(ref, tag('latest', id));
          expect((await a.getTag(ref, 'latest'))?.imageId).toBe(id);
          expect((await a.listTags(ref))?.map((t) => t.imageId)).toEqual([id]);
        }
        // a checkpoint alone changes nothing a reader sees
        checkpoint();
        expect((await a.getTag(ref, 'latest'))?.imageId).toBe('cccc');
      } finally {
        a.close();
        b.close();
      }
    });
  });

  test('without a -shm to read (in memory, rollback journal) every read does the real check', async () => {
    const memory = SqliteMetaStore.open(':memory:');
    expect(WalIndexHeader.of(memory.db.$client)).toBeNull();
    memory.close();
    await withDir(async (_dir, path) => {
      const open = (migrate = false) => {
        const client = new Database(path, { create: true, strict: true });
        client.exec('PRAGMA busy_timeout = 10000');
        client.exec('PRAGMA journal_mode = DELETE');
        const db = drizzle({ client, schema }) as Db;
        if (migrate) migrateSqlite(db);
        return new SqliteMetaStore(db);
      };
      const a = open(true);
      const b = open();
      try {
        expect(WalIndexHeader.of(a.db.$client)).toBeNull();
        for (const id of ['one', 'two']) {
          await b.putTag(ref, tag('latest', id));
          for (let i = 0; i < 2; i++) expect((await a.listTags(ref))?.map((t) => t.imageId)).toEqual([id]);
        }
      } finally {
        a.close();
        b.close();
      }
    });
  });

  test("reading the header leaves SQLite's locks on the -shm in place", async () => {
    await withDir(async (_dir, path) => {
      const a = SqliteMetaStore.open(path);
      const b = SqliteMetaStore.open(path, { migrate: false });
      try {
        await b.putTag(ref, tag('latest', 'one'));
        await a.listTags(ref);
        const { ino } = statSync(`${path}-shm`);
        // /proc/locks: "1: POSIX ADVISORY READ <pid> <maj:min:inode> <start> <end>"; closing any
        // descriptor of the file (Bun.mmap does) would drop them all, and other processes would
        // then think nobody has the database open
        const held = readFileSync('/proc/locks', 'utf8')
          .split('\n')
          .filter((line) => line.split(/\s+/)[4] === String(process.pid) && line.split(/\s+/)[5]?.endsWith(`:${ino}`));
        expect(held.length).toBeGreaterThan(0);
      } finally {
        a.close();
        b.close();
      }
    });
  });
});

describe('backend failures become METADATA_UNAVAILABLE (the contract in src/db/meta.ts)', () => {
  test('a write locked out past the busy timeout rejects with the typed 503 error; other errors pass unchanged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'registry-db-'));
    const path = join(dir, 'registry.db');
    const store = SqliteMetaStore.open(path);
    const holder = new Database(path);
    try {
      store.db.$client.exec('PRAGMA busy_timeout = 50');
      holder.exec('BEGIN IMMEDIATE');
      const locked = await store.putTag({ namespace: 'ns', name: 'r' }, { name: 't', imageId: 'i', metadata: '{}' }).catch((e: unknown) => e);
      expect(locked).toBeInstanceOf(RegistryError);
      expect((locked as RegistryError).code).toBe('METADATA_UNAVAILABLE');
      expect((locked as RegistryError).status).toBe(503);
      expect(sqliteFailure((locked as Error).cause)).toBe('unavailable');
      holder.exec('ROLLBACK');
      // an error of the operation itself is not the backend failing
      const thrown = new Error('merge failed');
      const failed = await store.updateIndexImages({ namespace: 'ns', name: 'r' }, () => {
        throw thrown;
      }).catch((e: unknown) => e);
      expect(failed).toBe(thrown);
      await store.putTag({ namespace: 'ns', name: 'r' }, { name: 't', imageId: 'i', metadata: '{}' });
      expect((await store.getTag({ namespace: 'ns', name: 'r' }, 't'))?.imageId).toBe('i');
    } finally {
      holder.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
