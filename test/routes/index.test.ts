/**
 * Standalone index emulation E21–E26 (v1-api.md §1.3), the original's tests/test_index.py (§7
 * items 12–14), and the always-present E1 `_ping` / E2 `/` routes (whose standalone header
 * depends on the same setting).
 */
import { describe, expect, test } from 'bun:test';
import { withApp } from '../helpers/app.ts';
import { expectError, expectNoCacheHeaders, newId, randomName, upload } from '../helpers/layers.ts';

const tokenRe = (repo: string, access: string) =>
  new RegExp(`^Token signature=[A-Z0-9]{16},repository="${repo.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}",access=${access}$`);

/** Asserts the generate_headers(access) trio. */
function expectIndexHeaders(r: Response, repo: string, access: 'read' | 'write' | 'delete', endpoint = 'localhost'): void {
  expect(r.headers.get('x-docker-endpoints')).toBe(endpoint);
  const token = r.headers.get('x-docker-token');
  expect(token).not.toBeNull();
  expect(token!).toMatch(tokenRe(repo, access));
  expect(r.headers.get('www-authenticate')).toBe(token);
}

// -------------------------------------------------------------------------------------------------
// tests/test_index.py (§7 items 12–14)
// -------------------------------------------------------------------------------------------------

describe('test_index.py (§7)', () => {
  test('12. test_users: GET /v1/users/ 200; POST /v1/users/ JSON string 201; PUT /v1/users/<x>/ 204', async () => {
    await withApp(async (app) => {
      let r = await app.req('GET', '/v1/users/');
      expect(r.status).toBe(200);
      r = await app.req('POST', '/v1/users/', { body: JSON.stringify(randomName(16)) });
      expect(r.status).toBe(201);
      r = await app.req('PUT', `/v1/users/${randomName(16)}/`);
      expect(r.status).toBe(204);
    });
  });

  test('13. test_repository_images: PUT repo 200, PUT images 204, GET images 200 with 2 ids, DELETE images 204', async () => {
    await withApp(async (app) => {
      const repo = `test/${randomName(16)}`;
      const images = [{ id: randomName(16) }, { id: randomName(16) }];
      let r = await app.req('PUT', `/v1/repositories/${repo}/`, { body: JSON.stringify(images) });
      expect(r.status).toBe(200);
      r = await app.req('PUT', `/v1/repositories/${repo}/images`, { body: JSON.stringify(images) });
      expect(r.status).toBe(204);
      r = await app.req('GET', `/v1/repositories/${repo}/images`);
      expect(r.status).toBe(200);
      const data = (await r.json()) as { id: string }[];
      expect(data.length).toBe(2);
      expect('id' in data[0]!).toBe(true);
      r = await app.req('DELETE', `/v1/repositories/${repo}/images`);
      expect(r.status).toBe(204);
    });
  });

  test('14. test_auth: PUT /v1/repositories/test/<r>/auth → 200', async () => {
    await withApp(async (app) => {
      const r = await app.req('PUT', `/v1/repositories/test/${randomName(16)}/auth`);
      expect(r.status).toBe(200);
    });
  });
});

// -------------------------------------------------------------------------------------------------
// E21 / E22 users
// -------------------------------------------------------------------------------------------------

describe('E21 / E22 users', () => {
  test('GET /v1/users and /v1/users/ → 200 "OK" with JSON headers', async () => {
    await withApp(async (app) => {
      for (const path of ['/v1/users', '/v1/users/']) {
        const r = await app.req('GET', path);
        expect(r.status).toBe(200);
        expectNoCacheHeaders(r);
        expect(await r.text()).toBe('"OK"');
      }
    });
  });

  test('POST /v1/users with any JSON → 201 "User Created" (any Content-Type)', async () => {
    await withApp(async (app) => {
      const bodies: [string, string | undefined][] = [
        [JSON.stringify({ username: 'u', password: 'p', email: 'e@x' }), 'application/json'],
        ['"just a string"', undefined],
        ['42', 'application/x-www-form-urlencoded'],
        ['null', 'text/plain'],
      ];
      for (const path of ['/v1/users', '/v1/users/']) {
        for (const [b, ct] of bodies) {
          const r = await app.req('POST', path, { body: b, headers: ct ? { 'content-type': ct } : {} });
          expect(`${path} ${b}: ${r.status}`).toBe(`${path} ${b}: 201`);
          expectNoCacheHeaders(r);
          expect(await r.text()).toBe('"User Created"');
        }
      }
    });
  });

  test('POST /v1/users with invalid JSON → 400 Error Decoding JSON', async () => {
    await withApp(async (app) => {
      for (const b of ['', '{', 'not json', '{"a":1}}', new Uint8Array([0x22, 0xff, 0x22])]) {
        for (const path of ['/v1/users', '/v1/users/']) {
          await expectError(await app.req('POST', path, { body: b }), 400, 'Error Decoding JSON');
        }
      }
    });
  });

  test('PUT /v1/users/{name} with or without trailing slash → 204 empty body', async () => {
    await withApp(async (app) => {
      for (const path of [`/v1/users/${randomName()}`, `/v1/users/${randomName()}/`]) {
        const r = await app.req('PUT', path, { json: { email: 'x@y' } });
        expect(`${path}: ${r.status}`).toBe(`${path}: 204`);
        expect(r.headers.get('location')).toBeNull();
        expect(await r.text()).toBe('');
      }
    });
  });
});

// -------------------------------------------------------------------------------------------------
// E23–E26 repository image lists and auth
// -------------------------------------------------------------------------------------------------

describe('E23 PUT /v1/repositories/{repo}/ and /images', () => {
  test('PUT repository (with and without slash) → 200 body "" and the write headers', async () => {
    await withApp(async (app) => {
      for (const slash of ['/', '']) {
        const name = randomName();
        const r = await app.req('PUT', `/v1/repositories/ns/${name}${slash}`, { body: JSON.stringify([{ id: newId() }]) });
        expect(`${slash}: ${r.status}`).toBe(`${slash}: 200`);
        expect(r.headers.get('location')).toBeNull();
        expect(r.headers.get('content-type')).toBe('application/json');
        expectIndexHeaders(r, `ns/${name}`, 'write');
        expect(await r.text()).toBe('""');
      }
    });
  });

  test('PUT images → 204 empty body and the write headers', async () => {
    await withApp(async (app) => {
      const name = randomName();
      const r = await app.req('PUT', `/v1/repositories/ns/${name}/images`, { body: JSON.stringify([{ id: newId() }]) });
      expect(r.status).toBe(204);
      expectIndexHeaders(r, `ns/${name}`, 'write');
      expect(await r.text()).toBe('');
    });
  });

  test('each reply gets a fresh token signature', async () => {
    await withApp(async (app) => {
      const name = randomName();
      const sigs = new Set<string>();
      for (let i = 0; i < 5; i++) {
        const r = await app.req('PUT', `/v1/repositories/ns/${name}/`, { body: '[]' });
        expect(r.status).toBe(200);
        sigs.add(r.headers.get('x-docker-token')!);
      }
      expect(sigs.size).toBe(5);
    });
  });

  test('X-Docker-Endpoints is the Host header (host:port), or the configured endpoints', async () => {
    await withApp(async (app) => {
      const name = randomName();
      const r = await app.req('PUT', `/v1/repositories/ns/${name}/`, { body: '[]', headers: { host: 'registry.example.com:5000' } });
      expect(r.status).toBe(200);
      expectIndexHeaders(r, `ns/${name}`, 'write', 'registry.example.com:5000');
    });
    await withApp(
      async (app) => {
        const name = randomName();
        const r = await app.req('PUT', `/v1/repositories/ns/${name}/images`, { body: '[]', headers: { host: 'other:1' } });
        expect(r.status).toBe(204);
        expectIndexHeaders(r, `ns/${name}`, 'write', 'reg.internal:5000');
      },
      { registry_endpoints: 'reg.internal:5000' },
    );
  });

  test('a one-part name is library/<name> in the token and the stored list', async () => {
    await withApp(async (app) => {
      const name = randomName();
      const list = `[{"id": "${newId()}"}]`;
      const r = await app.req('PUT', `/v1/repositories/${name}/`, { body: list });
      expect(r.status).toBe(200);
      expectIndexHeaders(r, `library/${name}`, 'write');
      const g = await app.req('GET', `/v1/repositories/library/${name}/images`);
      expect(g.status).toBe(200);
      expect(await g.text()).toBe(list);
      const g2 = await app.req('GET', `/v1/repositories/${name}/images`);
      expectIndexHeaders(g2, `library/${name}`, 'read');
      expect(await g2.text()).toBe(list);
    });
  });

  test('bad bodies: not JSON → 400 Error Decoding JSON; not a list or an item without id → 400 Invalid data', async () => {
    await withApp(async (app) => {
      const name = randomName();
      for (const suffix of ['/', '/images', '']) {
        for (const b of ['', 'not json', '[', new Uint8Array([0x5b, 0xff, 0x5d])]) {
          await expectError(await app.req('PUT', `/v1/repositories/ns/${name}${suffix}`, { body: b }), 400, 'Error Decoding JSON');
        }
        for (const b of ['{}', '{"id": "x"}', '"x"', '42', 'null', '[{"checksum": "sha256:x"}]', '[{"id": "a"}, {}]', '["abc"]', '[null]', '[[]]']) {
          await expectError(await app.req('PUT', `/v1/repositories/ns/${name}${suffix}`, { body: b }), 400, 'Invalid data');
        }
      }
      // nothing was stored
      await expectError(await app.req('GET', `/v1/repositories/ns/${name}/images`), 404, 'images not found');
    });
  });

  test('the body is read whatever its Content-Type', async () => {
    await withApp(async (app) => {
      for (const ct of ['application/x-www-form-urlencoded', undefined, 'text/plain']) {
        const name = randomName();
        const list = `[{"id": "${newId()}"}]`;
        const r = await app.req('PUT', `/v1/repositories/ns/${name}/images`, {
          body: new Blob([list]).stream(),
          headers: ct ? { 'content-type': ct } : {},
        });
        expect(`${ct}: ${r.status}`).toBe(`${ct}: 204`);
        expect(await (await app.req('GET', `/v1/repositories/ns/${name}/images`)).text()).toBe(list);
      }
    });
  });
});

describe('E24 GET / E25 DELETE /v1/repositories/{repo}/images', () => {
  test('first PUT is stored as sent; later PUTs merge by id keeping id and checksum; a checksum wins', async () => {
    await withApp(async (app) => {
      const repo = `ns/${randomName()}`;
      const [a, b, c, d] = [newId(), newId(), newId(), newId()];
      const first = `[ {"id": "${a}", "Tag": "x", "checksum": "sha256:aaa"},\n {"id": "${b}"}, {"id": "${d}", "checksum": "sha256:d-old"} ]`;
      let r = await app.req('PUT', `/v1/repositories/${repo}/`, { body: first });
      expect(r.status).toBe(200);
      r = await app.req('GET', `/v1/repositories/${repo}/images`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('application/json');
      expectIndexHeaders(r, repo, 'read');
      expect(await r.text()).toBe(first);

      const second = JSON.stringify([
        { id: a }, // no checksum: the stored one wins
        { id: b, checksum: 'sha256:bbb', size: 12 }, // gains a checksum; extra keys dropped
        { id: c },
        { id: d, checksum: 'sha256:d-new' },
      ]);
      r = await app.req('PUT', `/v1/repositories/${repo}/images`, { body: second });
      expect(r.status).toBe(204);
      r = await app.req('GET', `/v1/repositories/${repo}/images`);
      expect(r.status).toBe(200);
      const merged = ((await r.json()) as { id: string }[]).sort((x, y) => x.id.localeCompare(y.id));
      const want = [
        { id: a, checksum: 'sha256:aaa' },
        { id: b, checksum: 'sha256:bbb' },
        { id: c },
        { id: d, checksum: 'sha256:d-new' },
      ].sort((x, y) => x.id.localeCompare(y.id));
      expect(merged).toEqual(want);
    });
  });

  test('missing → 404 images not found (also for a repository that only has tags)', async () => {
    await withApp(async (app) => {
      await expectError(await app.req('GET', `/v1/repositories/ns/${randomName()}/images`), 404, 'images not found');
      const id = newId();
      await upload(app, id, null, 'x');
      const repo = `ns/${randomName()}`;
      expect((await app.req('PUT', `/v1/repositories/${repo}/tags/latest`, { body: JSON.stringify(id) })).status).toBe(200);
      await expectError(await app.req('GET', `/v1/repositories/${repo}/images`), 404, 'images not found');
    });
  });

  test('a repository created by PUT images exists with no tags: GET tags → {}', async () => {
    await withApp(async (app) => {
      const repo = `ns/${randomName()}`;
      expect((await app.req('PUT', `/v1/repositories/${repo}/images`, { body: '[]' })).status).toBe(204);
      const r = await app.req('GET', `/v1/repositories/${repo}/tags`);
      expect(r.status).toBe(200);
      expect(await r.text()).toBe('{}');
      expect(await (await app.req('GET', `/v1/repositories/${repo}/images`)).text()).toBe('[]');
    });
  });

  test('DELETE images → 204 with delete headers; the list is kept (no effect)', async () => {
    await withApp(async (app) => {
      const repo = `ns/${randomName()}`;
      const list = `[{"id": "${newId()}"}]`;
      await app.req('PUT', `/v1/repositories/${repo}/`, { body: list });
      for (const path of [`/v1/repositories/${repo}/images`, `/v1/repositories/${repo}/images/`]) {
        const r = await app.req('DELETE', path);
        expect(r.status).toBe(204);
        expectIndexHeaders(r, repo, 'delete');
        expect(await r.text()).toBe('');
      }
      expect(await (await app.req('GET', `/v1/repositories/${repo}/images`)).text()).toBe(list);
      // also for a repository that does not exist
      const other = `ns/${randomName()}`;
      const r = await app.req('DELETE', `/v1/repositories/${other}/images`);
      expect(r.status).toBe(204);
      expectIndexHeaders(r, other, 'delete');
    });
  });

  test('HEAD images: same status and headers as GET, empty body', async () => {
    await withApp(async (app) => {
      const repo = `ns/${randomName()}`;
      await app.req('PUT', `/v1/repositories/${repo}/`, { body: '[]' });
      for (const path of [`/v1/repositories/${repo}/images`, `/v1/repositories/ns/${randomName()}/images`]) {
        const g = await app.req('GET', path);
        await g.text();
        const h = await app.req('HEAD', path);
        expect(h.status).toBe(g.status);
        for (const name of ['content-type', 'x-docker-endpoints', 'cache-control']) {
          expect(`${name}: ${h.headers.get(name)}`).toBe(`${name}: ${g.headers.get(name)}`);
        }
        expect(h.headers.has('x-docker-token')).toBe(g.headers.has('x-docker-token'));
        expect(await h.text()).toBe('');
      }
    });
  });
});

describe('E26 PUT /v1/repositories/{repo}/auth', () => {
  test('200 "OK" with and without a trailing slash, one- and two-part names', async () => {
    await withApp(async (app) => {
      for (const path of [`/v1/repositories/ns/${randomName()}/auth`, `/v1/repositories/ns/${randomName()}/auth/`, `/v1/repositories/${randomName()}/auth`]) {
        const r = await app.req('PUT', path);
        expect(`${path}: ${r.status}`).toBe(`${path}: 200`);
        expectNoCacheHeaders(r);
        expect(await r.text()).toBe('"OK"');
      }
    });
  });
});

// -------------------------------------------------------------------------------------------------
// standalone off
// -------------------------------------------------------------------------------------------------

describe('standalone: false', () => {
  test('index routes are 404 Not found; _ping says False; registry routes still work', async () => {
    await withApp(
      async (app) => {
        const repo = `ns/${randomName()}`;
        const calls: [string, string, string?][] = [
          ['GET', '/v1/users'],
          ['GET', '/v1/users/'],
          ['POST', '/v1/users/', '"x"'],
          ['PUT', '/v1/users/bob/'],
          ['PUT', `/v1/repositories/${repo}/`, '[]'],
          ['PUT', `/v1/repositories/${repo}`, '[]'],
          ['PUT', `/v1/repositories/${repo}/images`, '[]'],
          ['GET', `/v1/repositories/${repo}/images`],
          ['DELETE', `/v1/repositories/${repo}/images`],
          ['PUT', `/v1/repositories/${repo}/auth`],
        ];
        for (const [method, path, b] of calls) {
          const r = await app.req(method, path, { body: b });
          expect(`${method} ${path}: ${r.status}`).toBe(`${method} ${path}: 404`);
          await expectError(r, 404, 'Not found');
        }
        for (const path of ['/_ping', '/v1/_ping']) {
          const r = await app.req('GET', path);
          expect(r.status).toBe(200);
          expect(r.headers.get('x-docker-registry-standalone')).toBe('False');
          expect(await r.text()).toBe('{}');
        }
        const id = newId();
        await upload(app, id, null, 'x');
        expect((await app.req('PUT', `/v1/repositories/${repo}/tags/latest`, { body: JSON.stringify(id) })).status).toBe(200);
      },
      { standalone: false },
    );
  });
});

// -------------------------------------------------------------------------------------------------
// E1 / E2 ping and banner
// -------------------------------------------------------------------------------------------------

describe('E1 / E2 ping and banner', () => {
  test('/_ping and /v1/_ping → 200 {} with X-Docker-Registry-Standalone: True and JSON headers', async () => {
    await withApp(async (app) => {
      for (const path of ['/_ping', '/v1/_ping', '/_ping/', '/v1/_ping/']) {
        const r = await app.req('GET', path);
        expect(`${path}: ${r.status}`).toBe(`${path}: 200`);
        expect(r.headers.get('x-docker-registry-standalone')).toBe('True');
        expectNoCacheHeaders(r);
        expect(await r.text()).toBe('{}');
        const h = await app.req('HEAD', path);
        expect(h.status).toBe(200);
        expect(h.headers.get('x-docker-registry-standalone')).toBe('True');
        expect(await h.text()).toBe('');
      }
    });
  });

  test('mirror mode (mirroring.source set): X-Docker-Registry-Standalone: mirror', async () => {
    await withApp(
      async (app) => {
        for (const path of ['/_ping', '/v1/_ping']) {
          const r = await app.req('GET', path);
          expect(r.status).toBe(200);
          expect(r.headers.get('x-docker-registry-standalone')).toBe('mirror');
        }
      },
      { 'mirroring.source': 'http://127.0.0.1:1' },
    );
  });

  test('GET / → 200, body the JSON string "\\"docker-registry server\\""', async () => {
    await withApp(async (app) => {
      const r = await app.req('GET', '/');
      expect(r.status).toBe(200);
      expectNoCacheHeaders(r);
      const text = await r.text();
      expect(text).toBe('"\\"docker-registry server\\""');
      expect(JSON.parse(text)).toBe('"docker-registry server"');
    });
  });
});
