/**
 * The migrations the code carries (src/db/migrate.ts, inlined by a Bun macro when the module is
 * transpiled or bundled) are exactly what drizzle's folder reader finds in `drizzle/` — in the
 * source tree and in a bundle like the one `bun run build` compiles — and applying them gives the
 * same database as drizzle's own file-based migrator. A migration generated later is read by the
 * macro like the others; these tests fail if that ever stops being true.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { Database } from 'bun:sqlite';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/bun-sqlite';
import { migrate as migrateFromFolder } from 'drizzle-orm/bun-sqlite/migrator';
import { readMigrationFiles, type MigrationMeta } from 'drizzle-orm/migrator';
import { openSqlite, type Db } from '../../src/db/client.ts';
import { MIGRATIONS, migrateSqlite } from '../../src/db/migrate.ts';
import { MIGRATIONS_FOLDER } from '../../src/db/migration-files.ts';

const ROOT = join(import.meta.dir, '..', '..');
const onDisk = () => readMigrationFiles({ migrationsFolder: join(ROOT, 'drizzle') });

let dir: string;
let bundled: { text: string; MIGRATIONS: readonly MigrationMeta[]; migrateSqlite: typeof migrateSqlite };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'registry-migrations-'));
  // The same bundler pass `bun build --compile` runs, without the runtime around it.
  const result = await Bun.build({
    entrypoints: [join(ROOT, 'src', 'db', 'migrate.ts')],
    outdir: dir,
    target: 'bun',
    format: 'esm',
    packages: 'external',
  });
  expect(result.logs).toEqual([]);
  expect(result.success).toBe(true);
  const out = result.outputs[0]!.path;
  bundled = { text: await Bun.file(out).text(), ...(await import(out)) };
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
