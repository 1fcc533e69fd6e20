/**
 * The migrations the code carries (src/db/sqlite/migrate.ts for SQLite, src/db/pg/migrate.ts for
 * PostgreSQL, inlined by a Bun macro when the module is transpiled or bundled) are exactly what
 * drizzle's folder reader finds in `drizzle/` and `drizzle/pg/` — in the source tree and in a
 * bundle like the one `bun run build` compiles — and applying the SQLite ones gives the same
 * database as drizzle's own file-based migrator (for PostgreSQL that is checked against a real
 * server in test/db/postgres.test.ts). A migration generated later is read by the macro like the
 * others; these tests fail if that ever stops being true.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { Database } from 'bun:sqlite';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/bun-sqlite';
import { migrate as migrateFromFolder } from 'drizzle-orm/bun-sqlite/migrator';
import { readMigrationFiles, type MigrationMeta } from 'drizzle-orm/migrator';
import { openSqlite, type Db } from '../../src/db/sqlite/client.ts';
import { MIGRATIONS, migrateSqlite } from '../../src/db/sqlite/migrate.ts';
import { MIGRATIONS_FOLDER, PG_MIGRATIONS_FOLDER } from '../../src/db/migration-files.ts';
import { PG_MIGRATIONS } from '../../src/db/pg/migrate.ts';

const ROOT = join(import.meta.dir, '..', '..');
const onDisk = () => readMigrationFiles({ migrationsFolder: join(ROOT, 'drizzle') });
const pgOnDisk = () => readMigrationFiles({ migrationsFolder: join(ROOT, 'drizzle', 'pg') });

let dir: string;
let bundled: { text: string; MIGRATIONS: readonly MigrationMeta[]; migrateSqlite: typeof migrateSqlite };
let pgBundled: { text: string; PG_MIGRATIONS: readonly MigrationMeta[] };

/**
 * The same bundler pass `bun build --compile` runs, without the runtime around it. `packages`:
 * the PostgreSQL migrator imports drizzle at run time, which a bundle in a temp directory can
 * only reach if it is inside.
 */
async function bundle(entry: string, outdir: string, packages: 'external' | 'bundle') {
  const result = await Bun.build({ entrypoints: [entry], outdir, target: 'bun', format: 'esm', packages });
  expect(result.logs).toEqual([]);
  expect(result.success).toBe(true);
  const out = result.outputs[0]!.path;
  return { text: await Bun.file(out).text(), ...(await import(out)) };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'registry-migrations-'));
  bundled = await bundle(join(ROOT, 'src', 'db', 'sqlite', 'migrate.ts'), join(dir, 'sqlite'), 'external');
  pgBundled = await bundle(join(ROOT, 'src', 'db', 'pg', 'migrate.ts'), join(dir, 'pg'), 'bundle');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Schema and migration records, comparable across databases. */
function snapshot(db: Database) {
  return {
    schema: db.query("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").all(),
    applied: db.query('SELECT hash, created_at FROM __drizzle_migrations ORDER BY created_at').all(),
  };
}

describe('embedded migrations', () => {
  test('the folder is drizzle/ and holds at least the initial migration', () => {
    expect(MIGRATIONS_FOLDER).toBe(join(ROOT, 'drizzle'));
    expect(onDisk().length).toBeGreaterThanOrEqual(1);
  });

  test('equal readMigrationFiles(drizzle/): same SQL, breakpoints, timestamps and sha256 hashes', () => {
    expect(MIGRATIONS).toEqual(onDisk());
  });

  test('a bundle carries the same list and no folder reader', () => {
    expect(bundled.MIGRATIONS).toEqual(onDisk());
    expect(bundled.text).not.toContain('_journal.json');
    expect(bundled.text).not.toContain('readMigrationFiles');
    expect(bundled.text).not.toContain('migration-files');
  });

  test('applying them builds the database drizzle’s folder migrator builds', () => {
    const fromFolder = new Database(':memory:');
    migrateFromFolder(drizzle({ client: fromFolder }), { migrationsFolder: join(ROOT, 'drizzle') });
    const fromBundle = openSqlite(':memory:');
    bundled.migrateSqlite(fromBundle);
    expect(snapshot(fromBundle.$client)).toEqual(snapshot(fromFolder));
    expect(snapshot(fromBundle.$client).applied).toHaveLength(onDisk().length);
    fromFolder.close();
    fromBundle.$client.close();
  });

  test('only migrations newer than the last applied one run', () => {
    const db: Db = openSqlite(':memory:');
    const all = [...MIGRATIONS];
    migrateSqlite(db, all.slice(0, 1));
    expect(snapshot(db.$client).applied).toHaveLength(1);
    migrateSqlite(db, all);
    migrateSqlite(db, all);
    expect(snapshot(db.$client).applied).toEqual(all.map((m) => ({ hash: m.hash, created_at: m.folderMillis })));
    db.$client.close();
  });
});

describe('embedded PostgreSQL migrations', () => {
  test('the folder is drizzle/pg/ and holds the generated initial migration and the trigram one', () => {
    expect(PG_MIGRATIONS_FOLDER).toBe(join(ROOT, 'drizzle', 'pg'));
    const tags = (JSON.parse(readFileSync(join(PG_MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8')) as { entries: { tag: string }[] }).entries.map(
      (e) => e.tag,
    );
    expect(tags.slice(0, 2)).toEqual(['0000_init', '0001_trigram_indexes']);
    expect(pgOnDisk()).toHaveLength(tags.length);
  });

  test('equal readMigrationFiles(drizzle/pg/), and differ from the SQLite list', () => {
    expect(PG_MIGRATIONS).toEqual(pgOnDisk());
    expect(PG_MIGRATIONS.map((m) => m.hash)).not.toEqual(MIGRATIONS.map((m) => m.hash));
    expect(PG_MIGRATIONS.flatMap((m) => m.sql).join('\n')).toContain('gin_trgm_ops');
  });

  test('a bundle carries the same list and no folder reader', () => {
    expect(pgBundled.PG_MIGRATIONS).toEqual(pgOnDisk());
    expect(pgBundled.text).not.toContain('_journal.json');
    expect(pgBundled.text).not.toContain('readMigrationFiles');
    expect(pgBundled.text).not.toContain('migration-files');
  });
});
