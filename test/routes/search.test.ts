/**
 * E20 search (v1-api.md §1.2), the original's tests/test_search.py (§7 item 15), and our
 * extensions: pagination (`n`, `page`), case-insensitive substring matching, robustness against
 * FTS syntax in the query.
 */
import { describe, expect, test } from 'bun:test';
import { withApp, type TestApp } from '../helpers/app.ts';
import { expectError, expectNoCacheHeaders, newId, randomName, upload } from '../helpers/layers.ts';
import type { SearchResults as SearchReply } from '../../src/routes/v1/search.model.ts';

async function search(app: TestApp, qs: string): Promise<SearchReply> {
  const r = await app.req('GET', `/v1/search${qs}`);
  const text = await r.text();
  expect(`${qs}: ${r.status} ${text.slice(0, 200)}`).toBe(`${qs}: 200 ${text.slice(0, 200)}`);
  expectNoCacheHeaders(r);
  const body = JSON.parse(text) as SearchReply;
  expect(Object.keys(body).sort()).toEqual(['num_pages', 'num_results', 'page', 'page_size', 'query', 'results']);
  for (const hit of body.results) expect(Object.keys(hit).sort()).toEqual(['description', 'name']);
  return body;
}

const names = (r: SearchReply) => r.results.map((h) => h.name).sort();

/** Creates a repository through PUT index images. */
async function createByIndex(app: TestApp, repo: string): Promise<void> {
  const r = await app.req('PUT', `/v1/repositories/${repo}/`, { body: '[]' });
  expect(r.status).toBe(200);
}

/** Creates a repository through PUT tag (uploads an image first). */
async function createByTag(app: TestApp, repo: string): Promise<void> {
  const id = newId();
  await upload(app, id, null, 'x');
  const r = await app.req('PUT', `/v1/repositories/${repo}/tags/latest`, { body: JSON.stringify(id) });
  expect(r.status).toBe(200);
}

describe('test_search.py (§7)', () => {
  test('15. test_search: GET /v1/search?q=<random> → 200', async () => {
    await withApp(async (app) => {
      const q = randomName(16);
      const r = await search(app, `?q=${q}`);
      expect(r.query).toBe(q);
      expect(r.num_results).toBe(0);
      expect(r.results).toEqual([]);
    });
  });
});

describe('E20 GET /v1/search', () => {
  test('reply shape and defaults', async () => {
    await withApp(async (app) => {
      const name = randomName(12);
      await createByIndex(app, `ns/${name}`);
      const r = await search(app, `?q=${name}`);
      expect(r).toEqual({
        num_results: 1,
        num_pages: 1,
        page: 1,
        page_size: 25,
        query: name,
        results: [{ name: `ns/${name}`, description: '' }],
      });
    });
  });

  test('finds repositories created by PUT index images and by PUT tag (one-part names under library/)', async () => {
    await withApp(async (app) => {
      const stem = randomName(10);
      await createByIndex(app, `alpha/${stem}one`);
      await createByTag(app, `beta/${stem}two`);
      await createByTag(app, `${stem}three`);
      await createByIndex(app, `${stem}four`);
      const r = await search(app, `?q=${stem}`);
      expect(r.num_results).toBe(4);
      expect(names(r)).toEqual([`alpha/${stem}one`, `beta/${stem}two`, `library/${stem}four`, `library/${stem}three`].sort());
    });
  });

  test('case-insensitive substring: UBU finds library/ubuntu; 2- and 1-character queries work', async () => {
    await withApp(async (app) => {
      await createByIndex(app, 'ubuntu');
      await createByIndex(app, 'ns/debian');
      for (const q of ['UBU', 'ubu', 'buntu', 'Ntu', 'library/ub', 'y/ubuntu', 'LIBRARY/UBUNTU']) {
        const r = await search(app, `?q=${encodeURIComponent(q)}`);
        expect(`${q}: ${names(r).join(',')}`).toBe(`${q}: library/ubuntu`);
        expect(r.query).toBe(q);
      }
      for (const q of ['ub', 'UB', 'tu']) {
        const r = await search(app, `?q=${q}`);
        expect(`${q}: ${names(r).join(',')}`).toBe(`${q}: library/ubuntu`);
      }
      expect(names(await search(app, '?q=an'))).toEqual(['ns/debian']);
      expect(names(await search(app, '?q=b'))).toEqual(['library/ubuntu', 'ns/debian']);
      expect((await search(app, '?q=zz')).num_results).toBe(0);
      expect((await search(app, '?q=ubuntux')).num_results).toBe(0);
    });
  });

  test('LIKE wildcards in short queries are literal', async () => {
    await withApp(async (app) => {
      await createByIndex(app, 'ns/abc');
      expect((await search(app, '?q=%25')).num_results).toBe(0);
      expect((await search(app, '?q=_')).num_results).toBe(0);
      expect((await search(app, '?q=a_')).num_results).toBe(0);
    });
  });

  test('deleted repositories disappear', async () => {
    await withApp(async (app) => {
      const stem = randomName(10);
      await createByTag(app, `ns/${stem}a`);
      await createByTag(app, `ns/${stem}b`);
      expect((await search(app, `?q=${stem}`)).num_results).toBe(2);
      expect((await app.req('DELETE', `/v1/repositories/ns/${stem}a/`)).status).toBe(200);
      const r = await search(app, `?q=${stem}`);
      expect(r.num_results).toBe(1);
      expect(names(r)).toEqual([`ns/${stem}b`]);
      expect((await search(app, `?q=${stem}a`)).num_results).toBe(0);
      expect(names(await search(app, ''))).toEqual([`ns/${stem}b`]);
    });
  });

  test('pagination: n and page', async () => {
    await withApp(async (app) => {
      const stem = randomName(10);
      for (const s of ['a', 'b', 'c']) await createByIndex(app, `ns/${stem}${s}`);
      const p1 = await search(app, `?q=${stem}&n=1&page=1`);
      const p2 = await search(app, `?q=${stem}&n=1&page=2`);
      const p3 = await search(app, `?q=${stem}&n=1&page=3`);
      const p4 = await search(app, `?q=${stem}&n=1&page=4`);
      for (const [p, page] of [[p1, 1], [p2, 2], [p3, 3], [p4, 4]] as const) {
        expect(p.num_results).toBe(3);
        expect(p.num_pages).toBe(3);
        expect(p.page).toBe(page);
        expect(p.page_size).toBe(1);
      }
      expect(p1.results.length).toBe(1);
      expect(p2.results.length).toBe(1);
      expect(p3.results.length).toBe(1);
      expect(p4.results).toEqual([]);
      expect([...names(p1), ...names(p2), ...names(p3)].sort()).toEqual([`ns/${stem}a`, `ns/${stem}b`, `ns/${stem}c`]);
      const two = await search(app, `?q=${stem}&n=2&page=2`);
      expect(two.num_pages).toBe(2);
      expect(two.results.length).toBe(1);
      const all = await search(app, `?q=${stem}&n=100`);
      expect(all.page_size).toBe(100);
      expect(all.results.length).toBe(3);
      // empty n / page mean the defaults
      const dflt = await search(app, `?q=${stem}&n=&page=`);
      expect(dflt.page_size).toBe(25);
      expect(dflt.page).toBe(1);
    });
  });

  test('invalid n or page → 400 JSON error', async () => {
    await withApp(async (app) => {
      for (const qs of ['?n=0', '?n=abc', '?n=101', '?n=-1', '?n=1.5', '?page=0', '?page=abc', '?page=-2', '?q=x&n=99999999999999999999']) {
        const r = await app.req('GET', `/v1/search${qs}`);
        await expectError(r, 400, /^Invalid search parameters/);
      }
    });
  });

  test('a NUL in q → 400 JSON error, not a 500 (found by the route fuzz)', async () => {
    await withApp(async (app) => {
      for (const qs of ['?q=%00', '?q=..%00', '?q=a%00b&n=5']) {
        const r = await app.req('GET', `/v1/search${qs}`);
        await expectError(r, 400, /^Invalid search parameters/);
      }
    });
  });

  test('FTS / SQL syntax in q → 200, no crash, literal matching', async () => {
    await withApp(async (app) => {
      await createByIndex(app, 'ns/andromeda');
      for (const q of ['"', '""', '*', 'AND', 'a AND b', '(', ')', 'ns/and*', 'NEAR(a b)', 'a OR b', 'NOT x', "'; DROP TABLE repositories; --", '^abc', 'col:val', '\\', '%', '{}', '-x', '+']) {
        const r = await search(app, `?q=${encodeURIComponent(q)}`);
        expect(r.query).toBe(q);
      }
      // "AND" as plain text still matches by substring
      expect(names(await search(app, '?q=AND'))).toEqual(['ns/andromeda']);
      expect(names(await search(app, `?q=${encodeURIComponent('"andro')}`))).toEqual([]);
      // the table survived
      expect(names(await search(app, ''))).toEqual(['ns/andromeda']);
    });
  });

  test('empty or missing q lists every repository', async () => {
    await withApp(async (app) => {
      const stem = randomName(10);
      await createByIndex(app, `a/${stem}`);
      await createByTag(app, `b/${stem}`);
      for (const qs of ['', '?q=', '?q=%20%20', '?n=10']) {
        const r = await search(app, qs);
        expect(`${qs}: ${names(r).join(',')}`).toBe(`${qs}: a/${stem},b/${stem}`);
        expect(r.num_results).toBe(2);
      }
      expect((await search(app, '')).query).toBe('');
    });
  });

  test('a trailing slash works; HEAD answers like GET', async () => {
    await withApp(async (app) => {
      await createByIndex(app, 'ns/thing');
      const r = await app.req('GET', '/v1/search/?q=thing');
      expect(r.status).toBe(200);
      expect(((await r.json()) as SearchReply).num_results).toBe(1);
      const h = await app.req('HEAD', '/v1/search?q=thing');
      expect(h.status).toBe(200);
      expect(h.headers.get('content-type')).toBe('application/json');
      expect(await h.text()).toBe('');
    });
  });

  test('search off ({ search: false }) → /v1/search 404 JSON', async () => {
    await withApp(
      async (app) => {
        for (const qs of ['', '?q=x']) {
          await expectError(await app.req('GET', `/v1/search${qs}`), 404, 'Not found');
        }
      },
      { search: false },
    );
  });
});
