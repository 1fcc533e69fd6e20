/**
 * Token mode on the real server (`bun run start`, supervisor and 3 workers sharing one storage
 * directory): sign up, login, push with the issued token, pull anonymously, refusals. Every
 * worker signs with the secret generated once in <storage_path>/token.secret, so a token from one
 * worker verifies in any other.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Payload } from '../helpers/app.ts';
import { startRegistry, type StartedRegistry } from '../helpers/server.ts';
import { basic, hexId } from './helpers.ts';

let reg: StartedRegistry;

beforeAll(async () => {
  reg = await startRegistry({ REGISTRY_AUTH: 'token', REGISTRY_WORKERS: '3', REGISTRY_TOKEN_SECRET: '' });
}, 30_000);
afterAll(async () => {
  await reg?.stop();
});

const call = (method: string, path: string, headers: Record<string, string> = {}, body?: string) =>
  fetch(`${reg.url}${path}`, { method, headers: { 'content-type': 'application/json', ...headers }, body });

test('sign up, login, push with the token, pull anonymously; forged and foreign tokens refused', async () => {
  let r = await call('POST', '/v1/users/', {}, JSON.stringify({ username: 'alice', password: 'pw', email: 'a@example.com' }));
  expect(r.status).toBe(201);
  r = await call('POST', '/v1/users/', {}, JSON.stringify({ username: 'alice', password: 'pw', email: 'a@example.com' }));
  expect(r.status).toBe(400);
  expect(await r.text()).toBe('"Username or email already exists"');
  const alice = basic('alice', 'pw');
  expect((await call('GET', '/v1/users/', { authorization: alice })).status).toBe(200);
  expect((await call('GET', '/v1/users/', { authorization: basic('alice', 'no') })).status).toBe(401);

  const id = hexId();
  r = await call('PUT', '/v1/repositories/alice/app/', { authorization: alice, 'x-docker-token': 'true' }, JSON.stringify([{ id }]));
  expect(r.status).toBe(200);
  const write = r.headers.get('x-docker-token')!;
  expect(write).toMatch(/^Token signature=[0-9a-f]{64},repository="alice\/app",access=write,expires=\d+$/);
  const json = JSON.stringify({ id });
  const layer = 'the layer';
  // several requests each, so more than one worker sees the token
  for (let i = 0; i < 3; i++) expect((await call('PUT', `/v1/images/${id}/json`, { authorization: write }, json)).status).toBe(200);
  expect((await call('PUT', `/v1/images/${id}/layer`, { authorization: write }, layer)).status).toBe(200);
  r = await call('PUT', `/v1/images/${id}/checksum`, { authorization: write, 'x-docker-checksum-payload': sha256Payload(json, layer) });
  expect(r.status).toBe(200);
  expect((await call('PUT', '/v1/repositories/alice/app/tags/latest', { authorization: write }, JSON.stringify(id))).status).toBe(200);
  expect((await call('PUT', '/v1/repositories/alice/app/images', { authorization: alice }, JSON.stringify([{ id }]))).status).toBe(204);

  r = await call('GET', '/v1/repositories/alice/app/images');
  expect(r.status).toBe(200);
  const read = r.headers.get('x-docker-token')!;
  for (let i = 0; i < 3; i++) {
    expect(await (await call('GET', '/v1/repositories/alice/app/tags', { authorization: read })).json()).toEqual({ latest: id });
    expect(await (await call('GET', `/v1/images/${id}/layer`, { authorization: read })).text()).toBe(layer);
  }

  const forged = read.replace(/signature=[0-9a-f]{4}/, 'signature=0000');
  r = await call('GET', '/v1/repositories/alice/app/tags', { authorization: forged });
  expect(r.status).toBe(401);
  expect(r.headers.get('www-authenticate')).toBe('Token');
  r = await call('PUT', '/v1/repositories/bobby/app/', { authorization: alice }, '[]');
  expect(r.status).toBe(403);

  const secret = statSync(join(reg.storagePath, 'token.secret'));
  expect(secret.mode & 0o777).toBe(0o600);
}, 60_000);
