/** Token mode accounts: sign-up rules, login (GET /v1/users/), own-account changes (PUT /v1/users/<name>/). */
import { afterEach, describe, expect, spyOn, test } from 'bun:test';
import { SqliteMetaStore } from '../../src/db/sqlite/store.ts';
import { createAccount, setPassword } from '../../src/services/accounts.ts';
import { AuthService } from '../../src/services/auth.ts';
import type { TestApp } from '../helpers/app.ts';
import { basic, signUp, tokenApp } from './helpers.ts';

let app: TestApp;
afterEach(() => app?.close());

describe('POST /v1/users/ (sign up)', () => {
  test('valid account → 201 "User Created"; the password is stored as an argon2id hash', async () => {
    app = tokenApp();
    const r = await app.req('POST', '/v1/users/', { json: { username: 'alice', password: 's3cret', email: 'alice@example.com' } });
    expect(r.status).toBe(201);
    expect(await r.text()).toBe('"User Created"');
    const user = await app.meta.getUser('alice');
    expect(user?.email).toBe('alice@example.com');
    expect(user?.admin).toBe(false);
    expect(user?.passwordHash.startsWith('$argon2id$')).toBe(true);
    expect(user?.passwordHash).not.toContain('s3cret');
  });

  test('a taken name → 400 with the bare JSON string docker login looks for; the account is unchanged', async () => {
    app = tokenApp();
    await signUp(app, 'alice', 'first');
    const r = await app.req('POST', '/v1/users/', { json: { username: 'alice', password: 'second', email: 'x@y' } });
    expect(r.status).toBe(400);
    expect(await r.text()).toBe('"Username or email already exists"');
    expect((await app.req('GET', '/v1/users/', { headers: { authorization: basic('alice', 'first') } })).status).toBe(200);
  });

  const invalid: [string, unknown, RegExp][] = [
    ['short name', { username: 'abc', password: 'p', email: 'a@b' }, /username/],
    ['long name', { username: 'a'.repeat(31), password: 'p', email: 'a@b' }, /username/],
    ['upper case', { username: 'Alice', password: 'p', email: 'a@b' }, /username/],
    ['dash', { username: 'al-ice', password: 'p', email: 'a@b' }, /username/],
    ['missing name', { password: 'p', email: 'a@b' }, /username/],
    ['empty password', { username: 'alice', password: '', email: 'a@b' }, /password/],
    ['long password', { username: 'alice', password: 'x'.repeat(1025), email: 'a@b' }, /password/],
    ['number password', { username: 'alice', password: 12345, email: 'a@b' }, /password/],
    ['email without @', { username: 'alice', password: 'p', email: 'alice' }, /email/],
    ['empty email', { username: 'alice', password: 'p', email: '' }, /email/],
    ['long email', { username: 'alice', password: 'p', email: `${'a'.repeat(250)}@b.cd` }, /email/],
    ['a JSON string', 'alice', /object/],
    ['an array', [], /object/],
  ];
  for (const [what, body, detail] of invalid) {
    test(`invalid: ${what} → 400 Invalid account data: <detail>`, async () => {
      app = tokenApp();
      const r = await app.req('POST', '/v1/users/', { json: body });
      expect(r.status).toBe(400);
      const { error } = (await r.json()) as { error: string };
      expect(error.startsWith('Invalid account data: ')).toBe(true);
      expect(error).toMatch(detail);
      expect(await app.meta.getUser('alice')).toBeNull();
    });
  }

  test('limits are inclusive: 4 and 30 character names, 1024 character password, 254 character email', async () => {
    app = tokenApp();
    await signUp(app, 'abcd');
    await signUp(app, 'a'.repeat(30), 'x'.repeat(1024), `${'e'.repeat(250)}@b.c`);
  });

  test('a body that is not JSON → 400 Error Decoding JSON', async () => {
    app = tokenApp();
    const r = await app.req('POST', '/v1/users/', { body: '{nope' });
    expect(r.status).toBe(400);
    expect(await r.json()).toEqual({ error: 'Error Decoding JSON' });
  });
});

describe('GET /v1/users/ (login check)', () => {
  test('right credentials → 200 "OK"; wrong, unknown or missing → 401 with a Basic challenge and a V1 error', async () => {
    app = tokenApp();
    const good = await signUp(app, 'alice', 'pw-alice');
    let r = await app.req('GET', '/v1/users/', { headers: { authorization: good } });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('"OK"');
    for (const [authorization, message] of [
      [basic('alice', 'wrong'), 'Wrong login/password'],
      [basic('nobody', 'pw-alice'), 'Wrong login/password'],
      ['Basic !!!', 'Wrong login/password'],
      [null, 'Login required'],
      ['Token signature=x,repository="a/b",access=read', 'Login required'],
    ] as const) {
      r = await app.req('GET', '/v1/users', { headers: authorization ? { authorization } : {} });
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toBe('Basic realm="registry"');
      expect(await r.json()).toEqual({ error: message });
    }
  });
});

describe('PUT /v1/users/<name>/ (own account only)', () => {
  test('own email and password → 204; the new password works, the old one no longer', async () => {
    app = tokenApp();
    const old = await signUp(app, 'alice', 'old-pw');
    const r = await app.req('PUT', '/v1/users/alice/', {
      json: { email: 'new@example.com', password: 'new-pw' },
      headers: { authorization: old },
    });
    expect(r.status).toBe(204);
    expect((await app.meta.getUser('alice'))?.email).toBe('new@example.com');
    expect((await app.req('GET', '/v1/users/', { headers: { authorization: old } })).status).toBe(401);
    expect((await app.req('GET', '/v1/users/', { headers: { authorization: basic('alice', 'new-pw') } })).status).toBe(200);
  });

  test("another user's account → 403 Access denied (admins too); bad credentials → 401; bad data → 400", async () => {
    app = tokenApp();
    const alice = await signUp(app, 'alice');
    await signUp(app, 'bobby');
    await app.meta.setUserAdmin('alice', true);
    let r = await app.req('PUT', '/v1/users/bobby/', { json: { email: 'evil@example.com' }, headers: { authorization: alice } });
    expect(r.status).toBe(403);
    expect(((await r.json()) as { error: string }).error).toStartWith('Access denied');
    expect((await app.meta.getUser('bobby'))?.email).toBe('bobby@example.com');
    r = await app.req('PUT', '/v1/users/alice/', { json: { email: 'a@b' }, headers: { authorization: basic('alice', 'nope') } });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe('Basic realm="registry"');
    r = await app.req('PUT', '/v1/users/alice/', { json: { email: 'a@b' } });
    expect(r.status).toBe(401);
    r = await app.req('PUT', '/v1/users/alice/', { json: { email: 'no-at-sign' }, headers: { authorization: alice } });
    expect(r.status).toBe(400);
    r = await app.req('PUT', '/v1/users/alice/', { json: { password: '' }, headers: { authorization: alice } });
    expect(r.status).toBe(400);
    r = await app.req('PUT', '/v1/users/alice/', { body: 'not json', headers: { authorization: alice } });
    expect(r.status).toBe(400);
    expect(await r.json()).toEqual({ error: 'Error Decoding JSON' });
  });
});

describe('open mode keeps the original behaviour', () => {
  test('GET /v1/users/ without credentials 200, POST any JSON 201, PUT 204, nothing stored', async () => {
    app = tokenApp({ auth: 'open' });
    expect((await app.req('GET', '/v1/users/')).status).toBe(200);
    expect((await app.req('POST', '/v1/users/', { json: { username: 'x' } })).status).toBe(201);
    expect((await app.req('PUT', '/v1/users/whoever/', { body: 'not even json' })).status).toBe(204);
    expect(await app.meta.getUser('x')).toBeNull();
  });
});

describe('password verification', () => {
  test('a verified password is remembered briefly: again it costs no argon2; a wrong one or a changed password is still checked', async () => {
    const meta = SqliteMetaStore.open(':memory:');
    try {
      const auth = new AuthService(meta, { secret: 's', ttl: 60, anonymousRead: true });
      await createAccount(meta, { username: 'carol', password: 'right-one', email: 'c@x' });
      const verify = spyOn(Bun.password, 'verify');
      expect(await auth.login('carol', 'right-one')).toEqual({ username: 'carol', admin: false });
      expect(await auth.login('carol', 'right-one')).toEqual({ username: 'carol', admin: false });
      expect(verify).toHaveBeenCalledTimes(1);
      expect(await auth.login('carol', 'wrong')).toBeNull();
      expect(await auth.login('carol', 'wrong')).toBeNull();
      expect(verify).toHaveBeenCalledTimes(3);
      await setPassword(meta, 'carol', 'new-one');
      expect(await auth.login('carol', 'right-one')).toBeNull();
      expect(await auth.login('carol', 'new-one')).toEqual({ username: 'carol', admin: false });
      verify.mockRestore();
    } finally {
      meta.close();
    }
  });
});
