/**
 * The two dialect schemas hold the same tables and columns, under the same TypeScript keys: the
 * shared row rules (src/db/records.ts, src/db/rules.ts) address both by those keys, and data moved
 * between the stores must land in the same columns.
 */
import { expect, test } from 'bun:test';
import { getTableColumns, getTableName, type Table } from 'drizzle-orm';
import * as pg from '../../src/db/pg/schema.ts';
import * as sqlite from '../../src/db/sqlite/schema.ts';

const layout = (tables: Record<string, Table>) =>
  Object.fromEntries(
    Object.entries(tables).map(([key, table]) => [
      `${key}=${getTableName(table)}`,
      Object.entries(getTableColumns(table)).map(([k, c]) => `${k}=${c.name} ${c.notNull ? 'not null' : 'null'}`),
    ]),
  );

test('sqlite and pg schemas: same tables, column keys, column names and nullability', () => {
  const keys = ['images', 'repositories', 'tags', 'users', 'blobs', 'repositoryBlobs', 'manifests', 'manifestReferences', 'uploadSessions', 'leases'] as const;
  const tables = (schema: Record<(typeof keys)[number], Table>) => Object.fromEntries(keys.map((k) => [k, schema[k]]));
  const expected = layout(tables(sqlite));
  expect(layout(tables(pg))).toEqual(expected);
  expect(Object.keys(expected)).toEqual([
    'images=images',
    'repositories=repositories',
    'tags=tags',
    'users=users',
    'blobs=blobs',
    'repositoryBlobs=repository_blobs',
    'manifests=manifests',
    'manifestReferences=manifest_references',
    'uploadSessions=upload_sessions',
    'leases=leases',
  ]);
  // every table of either schema is compared (the schema modules export only tables)
  expect(Object.keys(sqlite).sort()).toEqual([...keys].sort());
  expect(Object.keys(pg).sort()).toEqual([...keys].sort());
});
