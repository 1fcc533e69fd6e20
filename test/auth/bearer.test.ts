/**
 * The V2 Bearer token service (services/bearer.ts): what `issue` grants under each V1 rule
 * (anonymous, users, namespaces, admins, private repositories, the catalog), scope parsing with
 * hostile input, the JWT it signs, and `authorize`: tokens, Basic, no header, expiry with an
 * injected clock, forged signatures, wrong audiences, and the challenges it answers.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import { createHmac } from 'node:crypto';
import { SqliteMetaStore } from '../../src/db/sqlite/store.ts';
import { createAccount } from '../../src/services/accounts.ts';
import { AuthService } from '../../src/services/auth.ts';
import { BearerService, type AccessEntry, type BearerOptions, type RepoAction } from '../../src/services/bearer.ts';
import { basic } from './helpers.ts';
import { failure } from '../helpers/failure.ts';

const SECRET = 'bearer-test-secret';
const ORIGIN = 'http://registry.test:5000';
const HOST = 'registry.test:5000';
const T0 = 1_800_000_000;

let meta: SqliteMetaStore;
let now = T0;
const clock = () => now;
const ALICE = basic('alice', 'alice-pw');
const BOB = basic('bobby', 'bobby-pw');
const ROOT = basic('rooty', 'rooty-pw');

beforeAll(async () => {
  meta = SqliteMetaStore.open(':memory:');
  for (const username of ['alice', 'bobby', 'rooty']) {
    expect(await createAccount(meta, { username, password: `${username}-pw`, email: `${username}@example.com` })).toBe(true);
  }
  expect(await meta.setUserAdmin('rooty', true)).toBe(true);
  await meta.setPrivate({ namespace: 'bobby', name: 'secret' }, true);
  await meta.setPrivate({ namespace: 'alice', name: 'public' }, false);
});
afterAll(() => meta.close());
beforeEach(() => {
  now = T0;
});

function service(opts: Partial<BearerOptions> & { anonymousRead?: boolean } = {}) {
  const { anonymousRead = true, ...rest } = opts;
  const auth = new AuthService(meta, { secret: SECRET, ttl: 300, anonymousRead, now: clock });
  return new BearerService(auth, meta, { secret: SECRET, ttl: 300, realm: '', service: '', now: clock, ...rest });
}

const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
const claimsOf = (token: string) => decode(token.split('.')[1]!);
const accessOf = (token: string) => claimsOf(token).access as AccessEntry[];

async function grants(header: string | null, scopes: string[], opts: Parameters<typeof service>[0] = {}) {
  const issued = await service(opts).issue(header, { service: null, scopes, origin: ORIGIN });
  return accessOf(issued.token);
}

const repo = (name: string, actions: string[]) => ({ type: 'repository', name, actions });

describe('issue: the token', () => {
  test('a JWT (HS256 with the V1 secret) with iss, sub, aud, exp, nbf, iat, jti and access', async () => {
    const bearer = service();
    const issued = await bearer.issue(ALICE, { service: null, scopes: ['repository:alice/app:pull,push'], origin: ORIGIN });
    expect(issued.expiresIn).toBe(300);
    expect(issued.issuedAt).toBe(new Date(T0 * 1000).toISOString());
    const [header, payload, signature] = issued.token.split('.');
    expect(decode(header!)).toEqual({ typ: 'JWT', alg: 'HS256' });
    expect(signature).toBe(createHmac('sha256', SECRET).update(`${header}.${payload}`).digest('base64url'));
    const claims = decode(payload!);
    expect(claims).toMatchObject({ sub: 'alice', aud: HOST, exp: T0 + 300, nbf: T0, iat: T0 });
    expect(typeof claims.iss).toBe('string');
    expect(claims.jti).toMatch(/^[0-9a-f]{32}$/);
    expect(claims.access).toEqual([repo('alice/app', ['pull', 'push'])]);
    const again = await bearer.issue(ALICE, { service: null, scopes: [], origin: ORIGIN });
    expect(claimsOf(again.token).jti).not.toBe(claims.jti);
  });

  test('aud is the requested service, else the configured one, else the host; a foreign service is 400 only when one is configured', async () => {
    expect(claimsOf((await service().issue(null, { service: 'other', scopes: [], origin: ORIGIN })).token).aud).toBe('other');
    expect(claimsOf((await service().issue(null, { service: '', scopes: [], origin: ORIGIN })).token).aud).toBe(HOST);
    const configured = service({ service: 'reg.example' });
    expect(claimsOf((await configured.issue(null, { service: null, scopes: [], origin: ORIGIN })).token).aud).toBe('reg.example');
    expect(claimsOf((await configured.issue(null, { service: 'reg.example', scopes: [], origin: ORIGIN })).token).aud).toBe('reg.example');
    const e = await failure(configured.issue(null, { service: HOST, scopes: [], origin: ORIGIN }));
    expect([e.code, e.status]).toEqual(['V2_TOKEN_REQUEST_INVALID', 400]);
  });
});

describe('issue: grants per rule (ungrantable and unknown actions left out, never an error)', () => {
  test('anonymous: pull of public repositories only', async () => {
    expect(await grants(null, ['repository:alice/app:pull,push,delete'])).toEqual([repo('alice/app', ['pull'])]);
    expect(await grants(null, ['repository:bobby/secret:pull'])).toEqual([repo('bobby/secret', [])]);
    expect(await grants(null, ['registry:catalog:*'])).toEqual([{ type: 'registry', name: 'catalog', actions: [] }]);
    const issued = await service().issue(null, { service: null, scopes: [], origin: ORIGIN });
    expect(claimsOf(issued.token).sub).toBe('');
  });

  test('anonymous with anonymous_read off: 401, while users still pull', async () => {
    const e = await failure(service({ anonymousRead: false }).issue(null, { service: null, scopes: ['repository:alice/app:pull'], origin: ORIGIN }));
    expect([e.code, e.status]).toEqual(['V2_UNAUTHORIZED', 401]);
    expect(await grants(BOB, ['repository:alice/app:pull'], { anonymousRead: false })).toEqual([repo('alice/app', ['pull'])]);
  });

  test('bad credentials, or a header that is not Basic: 401', async () => {
    for (const header of [basic('alice', 'wrong'), basic('nobody', 'x'), 'Basic !!!', 'Bearer abc', 'Token signature=x']) {
      const e = await failure(service().issue(header, { service: null, scopes: [], origin: ORIGIN }));
      expect([e.code, e.status]).toEqual(['V2_UNAUTHORIZED', 401]);
    }
  });

  test('a user pushes and deletes only in their namespace (nested names included), pulls public ones', async () => {
    expect(await grants(ALICE, ['repository:alice/app:pull,push,delete'])).toEqual([repo('alice/app', ['pull', 'push', 'delete'])]);
    expect(await grants(ALICE, ['repository:alice/team/app:push'])).toEqual([repo('alice/team/app', ['push'])]);
    expect(await grants(ALICE, ['repository:bobby/app:pull,push,delete'])).toEqual([repo('bobby/app', ['pull'])]);
    expect(await grants(ALICE, ['repository:alicex/app:push'])).toEqual([repo('alicex/app', [])]);
    expect(await grants(ALICE, ['repository:alice/app:*'])).toEqual([repo('alice/app', ['pull', 'push', 'delete'])]);
    expect(await grants(BOB, ['repository:alice/app:*'])).toEqual([repo('alice/app', ['pull'])]);
  });

  test('a one-part name is library/<name>: admins only push there', async () => {
    expect(await grants(ALICE, ['repository:busybox:pull,push'])).toEqual([repo('library/busybox', ['pull'])]);
    expect(await grants(ROOT, ['repository:busybox:pull,push'])).toEqual([repo('library/busybox', ['pull', 'push'])]);
  });

  test('a private repository: pull only for its owner and admins', async () => {
    expect(await grants(ALICE, ['repository:bobby/secret:pull,push'])).toEqual([repo('bobby/secret', [])]);
    expect(await grants(BOB, ['repository:bobby/secret:pull,push'])).toEqual([repo('bobby/secret', ['pull', 'push'])]);
    expect(await grants(ROOT, ['repository:bobby/secret:pull,delete'])).toEqual([repo('bobby/secret', ['pull', 'delete'])]);
  });

  test('the catalog: admins only', async () => {
    expect(await grants(ROOT, ['registry:catalog:*'])).toEqual([{ type: 'registry', name: 'catalog', actions: ['*'] }]);
    expect(await grants(ALICE, ['registry:catalog:*'])).toEqual([{ type: 'registry', name: 'catalog', actions: [] }]);
    expect(await grants(ROOT, ['registry:catalog:pull'])).toEqual([{ type: 'registry', name: 'catalog', actions: [] }]);
  });

  test('unknown actions and resource types are ignored; scopes of one repository merge; space-separated lists split', async () => {
    expect(await grants(ALICE, ['repository:alice/app:pull,frob,'])).toEqual([repo('alice/app', ['pull'])]);
    expect(await grants(ALICE, ['repository(plugin):alice/app:pull', 'thing:x:pull', 'registry:other:*'])).toEqual([]);
    expect(await grants(ALICE, ['repository:alice/app:pull', 'repository:alice/app:push,pull'])).toEqual([repo('alice/app', ['pull', 'push'])]);
    expect(await grants(ALICE, ['repository:alice/a:push  repository:bobby/b:pull', ''])).toEqual([
      repo('alice/a', ['push']),
      repo('bobby/b', ['pull']),
    ]);
    expect(await grants(ALICE, [])).toEqual([]);
  });
});

describe('issue: malformed scopes are 400 V2_TOKEN_REQUEST_INVALID', () => {
  const hostile = [
    'repository',
    'repository:alice/app',
    ':alice/app:pull',
    'repository::pull',
    'repository:Alice/app:pull',
    'repository:alice/../app:pull',
    'repository:alice//app:pull',
    'repository:/alice/app:pull',
    'repository:alice/app/:pull',
    'repository:alice/-app:pull',
    'repository:alice/app_:pull',
    'repository:registry.test:5000/alice/app:pull',
    'repository:alice/app\u0000:pull',
    'repository:alice/app\n:pull',
    'repository:alice%2fapp:pull',
    'repository:alice/app:PULL',
    'repository:alice/app:pull;push',
    'repository:alice/app:pull push',
    'REPOSITORY:alice/app:pull',
    `repository:alice/${'a'.repeat(250)}:pull`,
    'repository:' + 'a-'.repeat(50_000) + ':pull',
  ];
  test.each(hostile.map((s) => [JSON.stringify(s).slice(0, 60), s]))('%s', async (_, scope) => {
    const e = await failure(service().issue(ALICE, { service: null, scopes: [scope], origin: ORIGIN }));
    expect([e.code, e.status]).toEqual(['V2_TOKEN_REQUEST_INVALID', 400]);
  });

  test('more than 32 scopes', async () => {
    const scopes = Array.from({ length: 33 }, (_, i) => `repository:alice/app${i}:pull`);
    const e = await failure(service().issue(ALICE, { service: null, scopes, origin: ORIGIN }));
    expect(e.status).toBe(400);
    expect(await grants(ALICE, scopes.slice(1))).toHaveLength(32);
  });

  test('the grammar takes every name the OCI pattern allows', async () => {
    const names = ['a', 'a0/b1', 'a.b/c_d/e__f/g-h/i---j', `alice/${'a'.repeat(249)}`];
    for (const name of names) expect((await grants(ROOT, [`repository:${name}:pull`]))[0]!.actions).toEqual(['pull']);
  });
});

describe('authorize', () => {
  const alicePush = { namespace: 'alice', name: 'app' };
  const token = async (header: string | null, scopes: string[], bearer = service()) =>
    `Bearer ${(await bearer.issue(header, { service: null, scopes, origin: ORIGIN })).token}`;
  const authorize = (header: string | null, name: { namespace: string; name: string } | 'catalog', actions: RepoAction[], bearer = service()) =>
    bearer.authorize(header, name, actions, ORIGIN);
  const challenge = (scope: string, error?: string) =>
    `Bearer realm="${ORIGIN}/v2/token",service="${HOST}",scope="${scope}"${error ? `,error="${error}"` : ''}`;

  test('a token carrying every action passes; one lacking an action sends the client back for it (401 with the scope)', async () => {
    const t = await token(ALICE, ['repository:alice/app:pull,push']);
    await authorize(t, alicePush, ['pull', 'push']);
    await authorize(t, alicePush, ['pull']);
    const pullOnly = await token(ALICE, ['repository:alice/app:pull']);
    const e = await failure(authorize(pullOnly, alicePush, ['pull', 'push']));
    expect(e.code).toBe('V2_UNAUTHORIZED');
    expect(e.headers['www-authenticate']).toBe(challenge('repository:alice/app:pull,push', 'insufficient_scope'));
    // another repository's token
    const other = await failure(authorize(t, { namespace: 'alice', name: 'other' }, ['pull']));
    expect(other.headers['www-authenticate']).toBe(challenge('repository:alice/other:pull', 'insufficient_scope'));
  });

  test('403 when the token names a user the rules refuse; 401 for an anonymous token', async () => {
    const t = await token(ALICE, ['repository:bobby/app:pull,push']);
    const e = await failure(authorize(t, { namespace: 'bobby', name: 'app' }, ['push']));
    expect([e.code, e.status]).toEqual(['V2_DENIED', 403]);
    const anon = await token(null, ['repository:alice/app:pull,push']);
    await authorize(anon, alicePush, ['pull']);
    expect((await failure(authorize(anon, alicePush, ['push']))).status).toBe(401);
  });

  test('expiry and nbf with an injected clock', async () => {
    const t = await token(ALICE, ['repository:alice/app:pull']);
    now = T0 + 299;
    await authorize(t, alicePush, ['pull']);
    now = T0 + 300;
    const e = await failure(authorize(t, alicePush, ['pull']));
    expect(e.headers['www-authenticate']).toBe(challenge('repository:alice/app:pull', 'invalid_token'));
    // issued by a node whose clock runs ahead: a minute early is fine, more is not
    now = T0 - 60;
    await authorize(t, alicePush, ['pull']);
    now = T0 - 61;
    expect((await failure(authorize(t, alicePush, ['pull']))).status).toBe(401);
  });

  test('forged tokens: another secret, a changed payload or header, alg none, junk', async () => {
    const t = (await token(ROOT, ['repository:alice/app:pull,push,delete'])).slice('Bearer '.length);
    const [header, payload, signature] = t.split('.') as [string, string, string];
    const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const claims = decode(payload);
    const otherSecret = new BearerService(
      new AuthService(meta, { secret: 'other', ttl: 300, anonymousRead: true, now: clock }),
      meta,
      { secret: 'other', ttl: 300, realm: '', service: '', now: clock },
    );
    const forged = [
      (await token(ROOT, ['repository:alice/app:push'], otherSecret)).slice('Bearer '.length),
      `${header}.${enc({ ...claims, exp: T0 + 10_000 })}.${signature}`,
      `${header}.${enc({ ...claims, sub: 'alice' })}.${signature}`,
      `${enc({ typ: 'JWT', alg: 'none' })}.${payload}.`,
      `${enc({ typ: 'JWT', alg: 'none' })}.${payload}.${signature}`,
      `${enc({ typ: 'JWT', alg: 'HS512' })}.${payload}.${signature}`,
      `${header}.${payload}.${signature.slice(0, -1)}${signature.endsWith('A') ? 'B' : 'A'}`,
      `${header}.${payload}`,
      `${header}.${payload}.${signature}.x`,
      `${header}.${payload}.${signature}=`,
      'x'.repeat(20_000),
      '...',
    ];
    for (const f of forged) {
      const e = await failure(authorize(`Bearer ${f}`, alicePush, ['push']));
      expect([e.code, e.headers['www-authenticate']]).toEqual(['V2_UNAUTHORIZED', challenge('repository:alice/app:push', 'invalid_token')]);
    }
    await authorize(`Bearer ${t}`, alicePush, ['push']);
  });

  test('correctly signed with our secret, but not a token of ours: other alg, issuer, claims of the wrong types', async () => {
    const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const sign = (header: unknown, claims: unknown) => {
      const input = `${enc(header)}.${enc(claims)}`;
      return `Bearer ${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
    };
    const HS256 = { typ: 'JWT', alg: 'HS256' };
    const good = claimsOf((await token(ROOT, ['repository:alice/app:push'])).slice('Bearer '.length));
    await authorize(sign(HS256, good), alicePush, ['push']);
    const bad: [unknown, unknown][] = [
      [{ typ: 'JWT', alg: 'HS512' }, good],
      [{ typ: 'JWT', alg: 'none' }, good],
      [{ typ: 'JWT' }, good],
      [[], good],
      [HS256, { ...good, iss: 'someone-else' }],
      [HS256, { ...good, aud: undefined }],
      [HS256, { ...good, aud: [HOST.toUpperCase()] }],
      [HS256, { ...good, exp: String(T0 + 100) }],
      [HS256, { ...good, nbf: undefined }],
      [HS256, { ...good, sub: 7 }],
      [HS256, { ...good, access: undefined }],
      [HS256, { ...good, access: { type: 'repository', name: 'alice/app', actions: ['push'] } }],
      [HS256, { ...good, access: [{ type: 'repository', name: 'alice/app', actions: 'push' }] }],
      [HS256, [good]],
    ];
    for (const [header, claims] of bad) expect((await failure(authorize(sign(header, claims), alicePush, ['push']))).status).toBe(401);
    // aud may be a list naming this service
    await authorize(sign(HS256, { ...good, aud: ['x', HOST] }), alicePush, ['push']);
  });

  test('the audience must be this service', async () => {
    const bearer = service();
    const forOther = `Bearer ${(await bearer.issue(ALICE, { service: 'elsewhere', scopes: ['repository:alice/app:pull'], origin: ORIGIN })).token}`;
    expect((await failure(bearer.authorize(forOther, alicePush, ['pull'], ORIGIN))).status).toBe(401);
    // the same token is good where the service is `elsewhere`
    await bearer.authorize(forOther, alicePush, ['pull'], 'https://elsewhere');
    const configured = service({ service: 'reg.example', realm: 'https://auth.example/token' });
    const t = `Bearer ${(await configured.issue(ALICE, { service: null, scopes: ['repository:alice/app:pull'], origin: ORIGIN })).token}`;
    await configured.authorize(t, alicePush, ['pull'], 'http://any-host');
    const e = await failure(configured.authorize(forOther, alicePush, ['pull'], ORIGIN));
    expect(e.headers['www-authenticate']).toBe(
      'Bearer realm="https://auth.example/token",service="reg.example",scope="repository:alice/app:pull",error="invalid_token"',
    );
  });

  test('no header: anonymous pulls of public repositories pass when anonymous_read is on; anything else is challenged', async () => {
    await authorize(null, alicePush, ['pull']);
    await authorize(null, { namespace: 'library', name: 'busybox' }, ['pull']);
    let e = await failure(authorize(null, alicePush, ['pull'], service({ anonymousRead: false })));
    expect([e.status, e.headers['www-authenticate']]).toEqual([401, challenge('repository:alice/app:pull')]);
    e = await failure(authorize(null, { namespace: 'bobby', name: 'secret' }, ['pull']));
    expect(e.headers['www-authenticate']).toBe(challenge('repository:bobby/secret:pull'));
    e = await failure(authorize(null, alicePush, ['pull', 'push']));
    expect(e.headers['www-authenticate']).toBe(challenge('repository:alice/app:pull,push'));
    e = await failure(authorize(null, { namespace: 'library', name: 'busybox' }, ['delete']));
    expect(e.headers['www-authenticate']).toBe(challenge('repository:library/busybox:delete'));
  });

  test('Basic credentials directly: the same rules, 403 when refused, 401 when wrong', async () => {
    await authorize(ALICE, alicePush, ['pull', 'push', 'delete']);
    await authorize(BOB, { namespace: 'bobby', name: 'secret' }, ['pull']);
    await authorize(ROOT, { namespace: 'bobby', name: 'secret' }, ['pull', 'push']);
    let e = await failure(authorize(ALICE, { namespace: 'bobby', name: 'secret' }, ['pull']));
    expect([e.code, e.status]).toEqual(['V2_DENIED', 403]);
    e = await failure(authorize(ALICE, { namespace: 'library', name: 'busybox' }, ['push']));
    expect(e.code).toBe('V2_DENIED');
    for (const header of [basic('alice', 'nope'), 'Basic', 'Digest x', 'Bearer', '']) {
      e = await failure(authorize(header, alicePush, ['pull']));
      expect([e.code, e.headers['www-authenticate']]).toEqual(['V2_UNAUTHORIZED', challenge('repository:alice/app:pull')]);
    }
  });

  test('the catalog: an admin token or admin Basic; users 403; no header 401 with registry:catalog:*', async () => {
    await authorize(await token(ROOT, ['registry:catalog:*']), 'catalog', []);
    await authorize(ROOT, 'catalog', []);
    expect((await failure(authorize(await token(ALICE, ['registry:catalog:*']), 'catalog', []))).status).toBe(403);
    expect((await failure(authorize(ALICE, 'catalog', []))).status).toBe(403);
    const e = await failure(authorize(null, 'catalog', []));
    expect(e.headers['www-authenticate']).toBe(challenge('registry:catalog:*'));
    // an admin's repository token is not a catalog token
    const repoToken = await token(ROOT, ['repository:alice/app:*']);
    expect((await failure(authorize(repoToken, 'catalog', []))).headers['www-authenticate']).toBe(challenge('registry:catalog:*', 'insufficient_scope'));
  });

  test('authenticate (GET /v2/): any valid token or Basic login passes; else a challenge without scope', async () => {
    const bearer = service();
    await bearer.authenticate(await token(null, []), ORIGIN);
    await bearer.authenticate(await token(ALICE, ['repository:alice/app:pull']), ORIGIN);
    await bearer.authenticate(ALICE, ORIGIN);
    const plain = `Bearer realm="${ORIGIN}/v2/token",service="${HOST}"`;
    for (const [header, expected] of [
      [null, plain],
      [basic('alice', 'wrong'), plain],
      ['Digest x', plain],
      ['Bearer x.y.z', `${plain},error="invalid_token"`],
    ] as const) {
      const e = await failure(bearer.authenticate(header, ORIGIN));
      expect([e.code, e.headers['www-authenticate']]).toEqual(['V2_UNAUTHORIZED', expected]);
    }
    // a token for another service, or expired
    const t = await token(ALICE, []);
    expect((await failure(bearer.authenticate(t, 'http://other'))).status).toBe(401);
    now = T0 + 300;
    expect((await failure(bearer.authenticate(t, ORIGIN))).status).toBe(401);
  });

  test('realm and service default to the request origin and host, quoted safely when configured', async () => {
    const e = await failure(service().authorize(null, alicePush, ['push'], 'https://example.org'));
    expect(e.headers['www-authenticate']).toBe('Bearer realm="https://example.org/v2/token",service="example.org",scope="repository:alice/app:push"');
    const odd = await failure(service({ realm: 'https://a"b\\c/token', service: 's"x' }).authorize(null, alicePush, ['push'], ORIGIN));
    expect(odd.headers['www-authenticate']).toBe('Bearer realm="https://a\\"b\\\\c/token",service="s\\"x",scope="repository:alice/app:push"');
  });
});
