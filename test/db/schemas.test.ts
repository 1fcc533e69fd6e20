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
  const { images, repositories, tags, users } = sqlite;
  const expected = layout({ images, repositories, tags, users });
  expect(layout({ images: pg.images, repositories: pg.repositories, tags: pg.tags, users: pg.users })).toEqual(expected);
  expect(Object.keys(expected)).toEqual(['images=images', 'repositories=repositories', 'tags=tags', 'users=users']);
});
