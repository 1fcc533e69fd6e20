import { describe, expect, test } from 'bun:test';
import { Database } from 'bun:sqlite';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import type { RepoRef } from '../../src/db/meta.ts';
import { repositories } from '../../src/db/sqlite/schema.ts';
import { sqliteFailure } from '../../src/db/sqlite/client.ts';
import { SqliteMetaStore } from '../../src/db/sqlite/store.ts';
import { RegistryError } from '../../src/errors.ts';
import { runMetaStoreSuite } from './meta.suite.ts';

const describer = (store: SqliteMetaStore) => async (ref: RepoRef, description: string) => {
  store.db.update(repositories).set({ description }).where(eq(repositories.fullName, `${ref.namespace}/${ref.name}`)).run();
};

runMetaStoreSuite('sqlite (:memory:)', async () => {
  const store = SqliteMetaStore.open(':memory:');
  return { store, cleanup: async () => store.close(), setDescription: describer(store) };
});

runMetaStoreSuite('sqlite (file)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'registry-db-'));
  const store = SqliteMetaStore.open(join(dir, 'registry.db'));
  return {
    store,
    setDescription: describer(store),
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
      expect(tables).toEqual(['__drizzle_migrations', 'images', 'repositories', 'repositories_fts', 'tags', 'users']);
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
      await b.deleteRepository(ref);
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
    } finally {
      store.close();
    }
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
