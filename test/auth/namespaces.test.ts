/** Token mode: who may push where (namespaces), private repositories, and search visibility. */
import { afterEach, describe, expect, test } from 'bun:test';
import type { TestApp } from '../helpers/app.ts';
import { hexId, makeAdmin, push, signUp, tokenApp, uploadWithToken, writeToken } from './helpers.ts';

let app: TestApp;
afterEach(() => app?.close());

const readToken = async (auth: string | null, repo: string) => {
  const r = await app.req('GET', `/v1/repositories/${repo}/images`, { headers: auth ? { authorization: auth } : {} });
  return { status: r.status, token: r.headers.get('x-docker-token') };
};

describe('namespaces', () => {
  test("bob cannot push alice/x (403 Access denied on every index write); alice can", async () => {
    app = tokenApp();
    const alice = await signUp(app, 'alice');
    const bob = await signUp(app, 'bobby');
    for (const [method, path] of [
      ['PUT', '/v1/repositories/alice/x/'],
      ['PUT', '/v1/repositories/alice/x/images'],
      ['DELETE', '/v1/repositories/alice/x/images'],
    ] as const) {
      const r = await app.req(method, path, { json: [{ id: hexId() }], headers: { authorization: bob } });
      expect(r.status).toBe(403);
      expect(r.headers.get('x-docker-token')).toBeNull();
      expect(((await r.json()) as { error: string }).error).toBe('Access denied: bobby may not push to alice/x');
    }
    expect(await app.meta.getRepository({ namespace: 'alice', name: 'x' })).toBeNull();
    await push(app, 'alice/x', alice);
  });

  test('index writes without credentials → 401 Login required with a Basic challenge', async () => {
    app = tokenApp();
    const r = await app.req('PUT', '/v1/repositories/alice/x/', { json: [] });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe('Basic realm="registry"');
    expect(await r.json()).toEqual({ error: 'Login required' });
  });

  test('an admin can push library/x and anyone else\'s namespace; a non-admin cannot push library/x', async () => {
    app = tokenApp();
    const admin = await makeAdmin(app, 'rooty');
    const alice = await signUp(app, 'alice');
    await push(app, 'library/x', admin);
    await push(app, 'alice/made-by-admin', admin);
    const r = await app.req('PUT', '/v1/repositories/library/y/', { json: [], headers: { authorization: alice } });
    expect(r.status).toBe(403);
    // one-part names are library/<name>
    expect((await app.req('PUT', '/v1/repositories/y/', { json: [], headers: { authorization: alice } })).status).toBe(403);
    expect((await app.req('PUT', '/v1/repositories/y/', { json: [], headers: { authorization: admin } })).status).toBe(200);
  });
});

describe('private repositories', () => {
  async function privateRepo() {
    app = tokenApp();
    const alice = await signUp(app, 'alice');
    const bob = await signUp(app, 'bobby');
    const admin = await makeAdmin(app, 'rooty');
    const { token: write, ids } = await push(app, 'alice/secret', alice);
    const r = await app.req('PUT', '/v1/repositories/alice/secret/properties', { json: { access: 'private' }, headers: { authorization: write } });
    expect(r.status).toBe(200);
    return { alice, bob, admin, ids };
  }

  test('only the owner (or an admin) with a write token can make a repository private', async () => {
    app = tokenApp();
    const alice = await signUp(app, 'alice');
    const bob = await signUp(app, 'bobby');
    await push(app, 'alice/app', alice);
    // bob cannot get a write token for alice/app; his own token does not fit alice/app
    const bobs = await writeToken(app, 'bobby/app', bob, []);
    const r = await app.req('PUT', '/v1/repositories/alice/app/properties', { json: { access: 'private' }, headers: { authorization: bobs } });
    expect(r.status).toBe(401);
    expect((await app.meta.getRepository({ namespace: 'alice', name: 'app' }))?.private).toBe(false);
  });

  test('anonymous: index GET images 401, tags 401, image json/layer/ancestry 404 Image not found', async () => {
    const { ids } = await privateRepo();
    expect((await readToken(null, 'alice/secret')).status).toBe(401);
    const tags = await app.req('GET', '/v1/repositories/alice/secret/tags');
    expect(tags.status).toBe(401);
    expect(await tags.json()).toEqual({ error: 'Requires authorization' });
    for (const what of ['json', 'layer', 'ancestry']) {
      const r = await app.req('GET', `/v1/images/${ids[0]}/${what}`);
      expect(r.status).toBe(404);
      expect(await r.json()).toEqual({ error: 'Image not found' });
    }
  });

  test("the owner's and an admin's read tokens work; another user gets 403 from the index and 401/404 from the registry", async () => {
    const { alice, bob, admin, ids } = await privateRepo();
    for (const who of [alice, admin]) {
      const { status, token } = await readToken(who, 'alice/secret');
      expect(status).toBe(200);
      const headers = { authorization: token! };
      expect((await app.req('GET', '/v1/repositories/alice/secret/tags', { headers })).status).toBe(200);
      expect((await app.req('GET', `/v1/images/${ids[0]}/json`, { headers })).status).toBe(200);
      expect((await app.req('GET', `/v1/images/${ids[0]}/layer`, { headers })).status).toBe(200);
      // Basic credentials of the owner or an admin also read
      expect((await app.req('GET', '/v1/repositories/alice/secret/tags', { headers: { authorization: who } })).status).toBe(200);
    }
    const refused = await readToken(bob, 'alice/secret');
    expect(refused.status).toBe(403);
    expect(refused.token).toBeNull();
    // bob's token for his own repository does not open alice/secret or its images
    await push(app, 'bobby/app', bob);
    const bobs = (await readToken(bob, 'bobby/app')).token!;
    expect((await app.req('GET', '/v1/repositories/alice/secret/tags', { headers: { authorization: bobs } })).status).toBe(401);
    expect((await app.req('GET', `/v1/images/${ids[0]}/json`, { headers: { authorization: bobs } })).status).toBe(401);
    expect((await app.req('GET', '/v1/repositories/alice/secret/tags', { headers: { authorization: bob } })).status).toBe(401);
    expect((await app.req('GET', `/v1/images/${ids[0]}/json`, { headers: { authorization: bob } })).status).toBe(404);
  });

  test('an image that is also in a public repository stays readable anonymously', async () => {
    const { alice, ids } = await privateRepo();
    expect((await app.req('GET', `/v1/images/${ids[0]}/json`)).status).toBe(404);
    // listed by a public repository (PUT repository announces it); the complete image is not re-uploaded (409)
    const token = await writeToken(app, 'alice/public', alice, ids);
    expect((await uploadWithToken(app, token, ids[0]!))[0]).toBe(409);
    expect((await app.req('GET', `/v1/images/${ids[0]}/json`)).status).toBe(200);
    expect((await app.req('GET', `/v1/images/${ids[0]}/layer`)).status).toBe(200);
  });

  test('making it public again reopens it', async () => {
    const { alice, ids } = await privateRepo();
    const write = await writeToken(app, 'alice/secret', alice, []);
    const r = await app.req('PUT', '/v1/repositories/alice/secret/properties', { json: { access: 'public' }, headers: { authorization: write } });
    expect(r.status).toBe(200);
    expect((await app.req('GET', `/v1/images/${ids[0]}/json`)).status).toBe(200);
    expect((await readToken(null, 'alice/secret')).status).toBe(200);
  });
});

describe('search in token mode', () => {
  test('private repositories are listed only to their owner and admins', async () => {
    app = tokenApp();
    const alice = await signUp(app, 'alice');
    const bob = await signUp(app, 'bobby');
    const admin = await makeAdmin(app, 'rooty');
    const { token } = await push(app, 'alice/secret', alice);
    await push(app, 'alice/open', alice);
    await app.req('PUT', '/v1/repositories/alice/secret/properties', { json: { access: 'private' }, headers: { authorization: token } });
    const names = async (auth: string | null, q = 'alice') => {
      const r = await app.req('GET', `/v1/search?q=${q}`, { headers: auth ? { authorization: auth } : {} });
      expect(r.status).toBe(200);
      const body = (await r.json()) as { num_results: number; results: { name: string }[] };
      expect(body.num_results).toBe(body.results.length);
      return body.results.map((x) => x.name).sort();
    };
    expect(await names(null)).toEqual(['alice/open']);
    expect(await names(null, '')).toEqual(['alice/open']);
    expect(await names(bob)).toEqual(['alice/open']);
    expect(await names(null, 'secret')).toEqual([]);
    expect(await names(alice)).toEqual(['alice/open', 'alice/secret']);
    expect(await names(admin)).toEqual(['alice/open', 'alice/secret']);
    const bad = await app.req('GET', '/v1/search?q=alice', { headers: { authorization: 'Basic YWxpY2U6bm8=' } });
    expect(bad.status).toBe(401);
  });

  test('open mode lists private repositories as before', async () => {
    app = tokenApp({ auth: 'open' });
    await app.req('PUT', '/v1/repositories/alice/secret/properties', { json: { access: 'private' } });
    const r = await app.req('GET', '/v1/search?q=secret');
    expect(((await r.json()) as { num_results: number }).num_results).toBe(1);
  });
});
