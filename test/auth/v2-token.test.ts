/**
 * GET and POST /v2/token through the app (token mode): the reply, the grants a client gets with
 * Basic credentials, anonymously or with the OAuth2 password form, the refusals, and that the
 * token it hands out is one the /v2/ routes accept (BearerService.authorize with the app's store
 * and secret). In open mode there is no token endpoint.
 */
import { afterEach, describe, expect, test } from 'bun:test';
import { AuthService } from '../../src/services/auth.ts';
import { BearerService, type AccessEntry } from '../../src/services/bearer.ts';
import { makeApp, type TestApp } from '../helpers/app.ts';
import { basic, makeAdmin, SECRET, signUp, tokenApp } from './helpers.ts';

let app: TestApp;
afterEach(() => app?.close());

const ORIGIN = 'http://localhost';

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;

async function getToken(query: string, authorization?: string) {
  return app.req('GET', `/v2/token${query}`, { headers: authorization ? { authorization } : {} });
}

const form = (fields: Record<string, string>) => ({
  body: new URLSearchParams(fields).toString(),
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
});

/** The JSON of a 200 token reply, checked for shape; returns the token's access claim and subject. */
async function tokenReply(r: Response) {
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toStartWith('application/json');
  expect(r.headers.get('cache-control')).toBe('no-store');
  const body = (await r.json()) as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'issued_at', 'token']);
  expect(body.access_token).toBe(body.token);
  expect(body.expires_in).toBe(app.config.token_ttl);
  expect(Date.parse(body.issued_at as string)).not.toBeNaN();
  expect(body.issued_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  const token = body.token as string;
  expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  const claims = claimsOf(token);
  return { token, sub: claims.sub, aud: claims.aud, access: claims.access as AccessEntry[] };
}

/** A BearerService over the app's store and secret: what the /v2/ routes authorize with. */
function resourceServer(a: TestApp) {
  const opts = { secret: SECRET, ttl: a.config.token_ttl, anonymousRead: a.config.anonymous_read };
  return new BearerService(new AuthService(a.meta, opts), a.meta, { ...opts, realm: '', service: '' });
}

describe('GET /v2/token', () => {
  test('anonymous: a token with pull of a public repository, for the service `localhost`', async () => {
    app = tokenApp({ token_ttl: 900 });
    const t = await tokenReply(await getToken('?service=localhost&scope=repository:alice/app:pull,push'));
    expect(t.sub).toBe('');
    expect(t.aud).toBe('localhost');
    expect(t.access).toEqual([{ type: 'repository', name: 'alice/app', actions: ['pull'] }]);
    await resourceServer(app).authorize(`Bearer ${t.token}`, { namespace: 'alice', name: 'app' }, ['pull'], ORIGIN);
  });

  test('Basic: repeated scopes with comma-separated actions (the query read raw), the grants of the V1 rules', async () => {
    app = tokenApp();
    const alice = await signUp(app, 'alice');
    await signUp(app, 'bobby');
    await app.meta.setPrivate({ namespace: 'bobby', name: 'secret' }, true);
    const q = ['repository:alice/app:pull,push', 'repository:bobby/app:pull,push', 'repository:bobby/secret:pull', 'registry:catalog:*']
      .map((s) => `scope=${encodeURIComponent(s)}`)
      .join('&');
    const t = await tokenReply(await getToken(`?service=localhost&account=alice&${q}`, alice));
    expect(t.sub).toBe('alice');
    expect(t.access).toEqual([
      { type: 'repository', name: 'alice/app', actions: ['pull', 'push'] },
      { type: 'repository', name: 'bobby/app', actions: ['pull'] },
      { type: 'repository', name: 'bobby/secret', actions: [] },
      { type: 'registry', name: 'catalog', actions: [] },
    ]);
    const bearer = resourceServer(app);
    await bearer.authorize(`Bearer ${t.token}`, { namespace: 'alice', name: 'app' }, ['pull', 'push'], ORIGIN);
    const e = await bearer.authorize(`Bearer ${t.token}`, { namespace: 'bobby', name: 'app' }, ['push'], ORIGIN).catch((x: unknown) => x);
    expect((e as { status: number }).status).toBe(403);
  });

  test('an admin gets push anywhere and the catalog; no service parameter means the Host', async () => {
    app = tokenApp();
    const root = await makeAdmin(app, 'rooty');
    const t = await tokenReply(await getToken('?scope=repository:busybox:push&scope=registry:catalog:*', root));
    expect(t.aud).toBe('localhost');
    expect(t.access).toEqual([
      { type: 'repository', name: 'library/busybox', actions: ['push'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    await resourceServer(app).authorize(`Bearer ${t.token}`, 'catalog', [], ORIGIN);
  });

  test('no scope: a token without access (docker login checks credentials this way)', async () => {
    app = tokenApp();
    const alice = await signUp(app, 'alice');
    const t = await tokenReply(await getToken('?service=localhost&account=alice', alice));
    expect([t.sub, t.access]).toEqual(['alice', []]);
  });

  test('wrong credentials, or anonymous with anonymous_read off: 401 with a Basic challenge', async () => {
    app = tokenApp({ anonymous_read: false });
    await signUp(app, 'alice');
    for (const auth of [basic('alice', 'wrong'), basic('ghost', 'x'), 'Bearer x.y.z', undefined]) {
      const r = await getToken('?service=localhost&scope=repository:alice/app:pull', auth);
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toBe('Basic realm="registry"');
    }
    await tokenReply(await getToken('?service=localhost&scope=repository:alice/app:pull', basic('alice', 'alice-pw')));
  });

  test('a malformed scope is 400; a foreign service is 400 when token_service is set', async () => {
    app = tokenApp({ token_service: 'registry.example' });
    for (const scope of ['repository:Alice/app:pull', 'repository:alice/app', 'repository:a/../b:pull', '%00']) {
      expect((await getToken(`?service=registry.example&scope=${encodeURIComponent(scope)}`)).status).toBe(400);
    }
    expect((await getToken('?service=localhost&scope=repository:alice/app:pull')).status).toBe(400);
    const t = await tokenReply(await getToken('?scope=repository:alice/app:pull'));
    expect(t.aud).toBe('registry.example');
  });
});

describe('POST /v2/token (OAuth2 password grant)', () => {
  test('username and password in the form: the same token reply and grants', async () => {
    app = tokenApp();
    await signUp(app, 'alice');
    const r = await app.req(
      'POST',
      '/v2/token',
      form({ grant_type: 'password', username: 'alice', password: 'alice-pw', service: 'localhost', client_id: 'containerd', access_type: 'offline', scope: 'repository:alice/app:pull,push repository:bobby/app:push' }),
    );
    const t = await tokenReply(r);
    expect(t.sub).toBe('alice');
    expect(t.access).toEqual([
      { type: 'repository', name: 'alice/app', actions: ['pull', 'push'] },
      { type: 'repository', name: 'bobby/app', actions: [] },
    ]);
  });

  test('wrong password 401; refresh_token, a missing grant or missing credentials 400', async () => {
    app = tokenApp();
    await signUp(app, 'alice');
    let r = await app.req('POST', '/v2/token', form({ grant_type: 'password', username: 'alice', password: 'nope', service: 'localhost' }));
    expect(r.status).toBe(401);
    for (const fields of <Record<string, string>[]>[
      { grant_type: 'refresh_token', refresh_token: 'abc', service: 'localhost' },
      { username: 'alice', password: 'alice-pw' },
      { grant_type: 'authorization_code', code: 'x' },
      { grant_type: 'password', username: 'alice' },
      { grant_type: 'password', username: 'alice', password: 'alice-pw', scope: 'repository:alice/app:PULL' },
    ]) {
      r = await app.req('POST', '/v2/token', form(fields));
      expect(r.status).toBe(400);
    }
    r = await app.req('POST', '/v2/token', { body: 'x'.repeat(70 * 1024), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(r.status).toBe(413);
  });
});

test('open mode has no token endpoint', async () => {
  app = makeApp();
  expect((await app.req('GET', '/v2/token?service=localhost')).status).toBe(404);
  expect((await app.req('POST', '/v2/token', form({ grant_type: 'password' }))).status).toBe(404);
});
