/**
 * Token mode: tokens from the index routes, a full push and pull with them, and every way a token
 * can be refused (forged, expired, other repository, wrong access, image of another repository).
 */
import { afterEach, describe, expect, test } from 'bun:test';
import { createHmac } from 'node:crypto';
import { AuthService } from '../../src/services/auth.ts';
import { SqliteMetaStore } from '../../src/db/sqlite/store.ts';
import type { TestApp } from '../helpers/app.ts';
import { basic, hexId, push, SECRET, signUp, tokenApp, tokenPairs, uploadWithToken, writeToken } from './helpers.ts';

let app: TestApp;
afterEach(() => app?.close());

const TOKEN_RE = /^Token signature=[0-9a-f]{64},repository="([^"]+)",access=(read|write|delete),expires=(\d+)$/;

async function expectRefused(r: Response) {
  expect(r.status).toBe(401);
  expect(r.headers.get('www-authenticate')).toBe('Token');
  expect(await r.json()).toEqual({ error: 'Requires authorization' });
}

describe('tokens issued by the index', () => {
  test('PUT repository, PUT/GET/DELETE images: X-Docker-Token and WWW-Authenticate carry a signed, expiring token', async () => {
    app = tokenApp({ token_ttl: 600 });
    const alice = await signUp(app, 'alice');
    const before = Math.floor(Date.now() / 1000);
    const cases: [string, string, string, number][] = [
      ['PUT', '/v1/repositories/alice/app/', 'write', 200],
      ['PUT', '/v1/repositories/alice/app/images', 'write', 204],
      ['GET', '/v1/repositories/alice/app/images', 'read', 200],
      ['DELETE', '/v1/repositories/alice/app/images', 'delete', 204],
    ];
    for (const [method, path, access, status] of cases) {
      const r = await app.req(method, path, { headers: { authorization: alice }, ...(method === 'PUT' ? { json: [{ id: 'abc' }] } : {}) });
      expect(r.status).toBe(status);
      const token = r.headers.get('x-docker-token')!;
      expect(r.headers.get('www-authenticate')).toBe(token);
      expect(r.headers.get('x-docker-endpoints')).toBe('localhost');
      const m = TOKEN_RE.exec(token);
      expect(m).not.toBeNull();
      expect(m![1]).toBe('alice/app');
      expect(m![2]).toBe(access);
      const expires = Number(m![3]);
      expect(expires).toBeGreaterThanOrEqual(before + 600);
      expect(expires).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 600);
      // the signature is HMAC-SHA256(secret, repository \n access \n expires)
      const expected = createHmac('sha256', SECRET).update(`alice/app\n${access}\n${expires}`).digest('hex');
      expect(tokenPairs(token).signature).toBe(expected);
    }
  });

  test('the token names the repository in its encoded form (one-part names are library/<name>)', async () => {
    app = tokenApp();
    const root = await signUp(app, 'rooty');
    await app.meta.setUserAdmin('rooty', true);
    let r = await app.req('PUT', '/v1/repositories/busybox/', { json: [], headers: { authorization: root } });
    expect(TOKEN_RE.exec(r.headers.get('x-docker-token')!)![1]).toBe('library/busybox');
    r = await app.req('PUT', `/v1/repositories/rooty/${encodeURIComponent('a b~c')}/`, { json: [], headers: { authorization: root } });
    expect(TOKEN_RE.exec(r.headers.get('x-docker-token')!)![1]).toBe('rooty/a+b%7Ec');
  });
});

describe('push and pull with tokens', () => {
  test('push: index PUT (Basic) → write token; json, layer, checksum, tag with it; index PUT images', async () => {
    app = tokenApp();
    const alice = await signUp(app, 'alice');
    const { ids } = await push(app, 'alice/app', alice, [hexId(), hexId()]);
    const tags = await app.meta.listTags({ namespace: 'alice', name: 'app' });
    expect(tags?.map((t) => [t.name, t.imageId])).toEqual([['latest', ids[0]!]]);
  });

  test('pull: GET images with Basic or anonymously → read token; every registry GET (and HEAD) works with it', async () => {
    app = tokenApp();
    const alice = await signUp(app, 'alice');
    const bob = await signUp(app, 'bobby');
    const { ids } = await push(app, 'alice/app', alice, [hexId(), hexId()]);
    for (const auth of [alice, bob, null]) {
      const r = await app.req('GET', '/v1/repositories/alice/app/images', { headers: auth ? { authorization: auth } : {} });
      expect(r.status).toBe(200);
      expect(((await r.json()) as { id: string }[]).map((i) => i.id)).toEqual(ids);
      const token = r.headers.get('x-docker-token')!;
      expect(tokenPairs(token).access).toBe('read');
      const headers = { authorization: token };
      const tags = await app.req('GET', '/v1/repositories/alice/app/tags', { headers });
      expect(tags.status).toBe(200);
      expect(await tags.json()).toEqual({ latest: ids[0] });
      expect((await app.req('GET', '/v1/repositories/alice/app/tags/latest', { headers })).status).toBe(200);
      expect((await app.req('GET', '/v1/repositories/alice/app/json', { headers })).status).toBe(200);
      expect((await app.req('GET', '/v1/repositories/alice/app/properties', { headers })).status).toBe(200);
      for (const id of ids) {
        for (const what of ['json', 'ancestry', 'layer']) {
          expect((await app.req('GET', `/v1/images/${id}/${what}`, { headers })).status).toBe(200);
        }
        // HEAD is a read (the original refused it with a read token)
        expect((await app.req('HEAD', `/v1/images/${id}/json`, { headers })).status).toBe(200);
      }
      expect(await (await app.req('GET', `/v1/images/${ids[0]}/layer`, { headers })).text()).toBe(`layer of ${ids[0]}`);
    }
  });

  test('delete: DELETE images (Basic) → delete token; DELETE tag and repository with it', async () => {
    app = tokenApp();
    const alice = await signUp(app, 'alice');
    const { token } = await push(app, 'alice/app', alice);
    let r = await app.req('DELETE', '/v1/repositories/alice/app/tags/latest', { headers: { authorization: token } });
    await expectRefused(r);
    r = await app.req('DELETE', '/v1/repositories/alice/app/images', { headers: { authorization: alice } });
    const del = r.headers.get('x-docker-token')!;
    expect((await app.req('DELETE', '/v1/repositories/alice/app/tags/latest', { headers: { authorization: del } })).status).toBe(200);
    expect((await app.req('DELETE', '/v1/repositories/alice/app/', { headers: { authorization: del } })).status).toBe(200);
  });

  test('a client that echoes the whole header value (Token Token signature=...) is understood', async () => {
    app = tokenApp();
    const alice = await signUp(app, 'alice');
    await push(app, 'alice/app', alice);
    const read = (await app.req('GET', '/v1/repositories/alice/app/images')).headers.get('x-docker-token')!;
    expect((await app.req('GET', '/v1/repositories/alice/app/tags', { headers: { authorization: `Token ${read}` } })).status).toBe(200);
  });
});

describe('refused tokens → 401 Requires authorization, WWW-Authenticate: Token', () => {
  test('no token on a write; a Basic login is not a token for writes', async () => {
    app = tokenApp();
    const alice = await signUp(app, 'alice');
    const id = hexId();
    await expectRefused(await app.req('PUT', `/v1/images/${id}/json`, { body: JSON.stringify({ id }) }));
    await expectRefused(await app.req('PUT', `/v1/images/${id}/json`, { body: JSON.stringify({ id }), headers: { authorization: alice } }));
    await expectRefused(await app.req('PUT', '/v1/repositories/alice/app/tags/latest', { json: id }));
    await expectRefused(await app.req('PUT', '/v1/repositories/alice/app/properties', { json: { access: 'private' } }));
    await expectRefused(await app.req('DELETE', '/v1/repositories/alice/app/'));
  });

  test('forged signature, altered repository, access or expiry, missing keys', async () => {
    app = tokenApp();
    const alice = await signUp(app, 'alice');
    const { ids } = await push(app, 'alice/app', alice);
    const read = (await app.req('GET', '/v1/repositories/alice/app/images')).headers.get('x-docker-token')!;
    const p = tokenPairs(read);
    const make = (q: Record<string, string>) =>
      `Token ${Object.entries(q)
        .map(([k, v]) => (k === 'repository' ? `${k}="${v}"` : `${k}=${v}`))
        .join(',')}`;
    const forged = [
      make({ ...p, signature: 'f'.repeat(64) }),
      make({ ...p, signature: createHmac('sha256', 'other-secret').update(`alice/app\nread\n${p.expires}`).digest('hex') }),
      make({ ...p, repository: 'alice/other' }),
      make({ ...p, access: 'write' }),
      make({ ...p, expires: String(Number(p.expires) + 3600) }),
      make({ signature: p.signature!, repository: p.repository!, access: p.access! }),
      `${read},repository="alice/app"`,
      'Token garbage',
      'Bearer abc',
    ];
    for (const authorization of forged) {
      await expectRefused(await app.req('GET', '/v1/repositories/alice/app/tags', { headers: { authorization } }));
      await expectRefused(await app.req('GET', `/v1/images/${ids[0]}/json`, { headers: { authorization } }));
    }
  });

  test('expired token (ttl 1 s)', async () => {
    app = tokenApp({ token_ttl: 1 });
    const alice = await signUp(app, 'alice');
    const token = await writeToken(app, 'alice/app', alice, []);
    await Bun.sleep(2100);
    await expectRefused(await app.req('PUT', '/v1/repositories/alice/app/properties', { json: { access: 'private' }, headers: { authorization: token } }));
  });

  test('expiry with an injected clock (service level)', async () => {
    const meta = SqliteMetaStore.open(':memory:');
    let now = 1_000_000;
    const auth = new AuthService(meta, { secret: SECRET, ttl: 60, anonymousRead: true, now: () => now });
    const token = auth.issueToken({ namespace: 'a', name: 'b' }, 'read');
    expect(tokenPairs(token).expires).toBe(String(1_000_060));
    expect(auth.verifyToken(token, 'read').repository).toBe('a/b');
    now = 1_000_059;
    expect(() => auth.verifyToken(token, 'read')).not.toThrow();
    now = 1_000_060;
    expect(() => auth.verifyToken(token, 'read')).toThrow('Requires authorization');
    meta.close();
  });

  test('a token for repository A used on repository B', async () => {
    app = tokenApp();
    const alice = await signUp(app, 'alice');
    await push(app, 'alice/bbb', alice);
    const tokenA = await writeToken(app, 'alice/aaa', alice, []);
    await expectRefused(await app.req('PUT', '/v1/repositories/alice/bbb/tags/x', { json: 'x', headers: { authorization: tokenA } }));
    const readA = (await app.req('GET', '/v1/repositories/alice/aaa/images', { headers: { authorization: alice } })).headers.get('x-docker-token')!;
    await expectRefused(await app.req('GET', '/v1/repositories/alice/bbb/tags', { headers: { authorization: readA } }));
  });

  test('a write token used for GET, a read token for PUT, a write token for DELETE', async () => {
    app = tokenApp();
    const alice = await signUp(app, 'alice');
    const { token: write, ids } = await push(app, 'alice/app', alice);
    const read = (await app.req('GET', '/v1/repositories/alice/app/images')).headers.get('x-docker-token')!;
    await expectRefused(await app.req('GET', '/v1/repositories/alice/app/tags', { headers: { authorization: write } }));
    await expectRefused(await app.req('GET', `/v1/images/${ids[0]}/json`, { headers: { authorization: write } }));
    await expectRefused(await app.req('PUT', '/v1/repositories/alice/app/tags/v2', { json: ids[0], headers: { authorization: read } }));
    const id = hexId();
    await expectRefused(await app.req('PUT', `/v1/images/${id}/json`, { body: JSON.stringify({ id }), headers: { authorization: read } }));
    await expectRefused(await app.req('DELETE', '/v1/repositories/alice/app/tags/latest', { headers: { authorization: write } }));
  });

  test('an image of another repository: PUT json → 400 not in the repository; layer/checksum/GET → 401', async () => {
    app = tokenApp();
    const alice = await signUp(app, 'alice');
    const { ids: other } = await push(app, 'alice/other', alice);
    const token = await writeToken(app, 'alice/app', alice, [hexId()]);
    const stranger = hexId();
    let r = await app.req('PUT', `/v1/images/${stranger}/json`, { body: JSON.stringify({ id: stranger }), headers: { authorization: token } });
    expect(r.status).toBe(400);
    expect(await r.json()).toEqual({ error: 'This image does not belong to the repository' });
    r = await app.req('PUT', `/v1/images/${other[0]}/json`, { body: JSON.stringify({ id: other[0] }), headers: { authorization: token } });
    expect(r.status).toBe(400);
    await expectRefused(await app.req('PUT', `/v1/images/${other[0]}/layer`, { body: 'x', headers: { authorization: token } }));
    await expectRefused(
      await app.req('PUT', `/v1/images/${other[0]}/checksum`, { headers: { authorization: token, 'x-docker-checksum-payload': 'sha256:0' } }),
    );
    const read = (await app.req('GET', '/v1/repositories/alice/app/images')).headers.get('x-docker-token')!;
    await expectRefused(await app.req('GET', `/v1/images/${other[0]}/json`, { headers: { authorization: read } }));
  });

  test('a token of one repository cannot write an image announced by another repository', async () => {
    app = tokenApp();
    const alice = await signUp(app, 'alice');
    const shared = hexId();
    const tokenA = await writeToken(app, 'alice/aaa', alice, [shared]);
    const tokenB = await writeToken(app, 'alice/bbb', alice, [hexId()]);
    expect(await uploadWithToken(app, tokenB, shared)).toEqual([400, 401, 401]);
    expect(await uploadWithToken(app, tokenA, shared)).toEqual([200, 200, 200]);
  });
});

describe('the registry GETs without a token', () => {
  test('public repositories and their images are readable anonymously when anonymous_read is on', async () => {
    app = tokenApp();
    const alice = await signUp(app, 'alice');
    const { ids } = await push(app, 'alice/app', alice);
    expect((await app.req('GET', '/v1/repositories/alice/app/tags')).status).toBe(200);
    expect((await app.req('GET', `/v1/images/${ids[0]}/layer`)).status).toBe(200);
    // Basic credentials work for reads too; wrong ones are refused
    expect((await app.req('GET', '/v1/repositories/alice/app/tags', { headers: { authorization: alice } })).status).toBe(200);
    const bad = await app.req('GET', '/v1/repositories/alice/app/tags', { headers: { authorization: basic('alice', 'nope') } });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toBe('Basic realm="registry"');
  });

  test('anonymous_read off: anonymous GETs and index GET images → 401; a user gets in', async () => {
    app = tokenApp({ anonymous_read: false });
    const alice = await signUp(app, 'alice');
    const bob = await signUp(app, 'bobby');
    const { ids } = await push(app, 'alice/app', alice);
    await expectRefused(await app.req('GET', '/v1/repositories/alice/app/tags'));
    await expectRefused(await app.req('GET', `/v1/images/${ids[0]}/json`));
    let r = await app.req('GET', '/v1/repositories/alice/app/images');
    expect(r.status).toBe(401);
    expect(await r.json()).toEqual({ error: 'Login required' });
    r = await app.req('GET', '/v1/repositories/alice/app/images', { headers: { authorization: bob } });
    expect(r.status).toBe(200);
    const read = r.headers.get('x-docker-token')!;
    expect((await app.req('GET', `/v1/images/${ids[0]}/json`, { headers: { authorization: read } })).status).toBe(200);
    expect((await app.req('GET', '/v1/repositories/alice/app/tags', { headers: { authorization: bob } })).status).toBe(200);
  });
});

describe('open mode', () => {
  test('no checks: anonymous pushes anywhere, tokens are the original random ones', async () => {
    app = tokenApp({ auth: 'open' });
    const id = hexId();
    const r = await app.req('PUT', '/v1/repositories/someone/app/', { json: [{ id }] });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-docker-token')).toMatch(/^Token signature=[A-Z0-9]{16},repository="someone\/app",access=write$/);
    expect(await uploadWithToken(app, 'Token whatever', id)).toEqual([200, 200, 200]);
  });
});
