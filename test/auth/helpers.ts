/** Helpers for the token-mode tests: an app with auth on, accounts, Basic headers, a token push. */
import { expect } from 'bun:test';
import type { SettingName } from '../../src/config/schema.ts';
import { hex } from '../../dev/ids.ts';
import { makeApp, sha256Payload, type TestApp } from '../helpers/app.ts';

export const SECRET = 'test-secret';

export function tokenApp(overrides: Partial<Record<SettingName, unknown>> = {}): TestApp {
  return makeApp({ auth: 'token', token_secret: SECRET, ...overrides });
}

export const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Signs up through POST /v1/users/ (201 expected). */
export async function signUp(app: TestApp, username: string, password = `${username}-pw`, email = `${username}@example.com`) {
  const r = await app.req('POST', '/v1/users/', { json: { username, password, email } });
  expect(r.status).toBe(201);
  return basic(username, password);
}

/** An admin, created directly in the store through the service rules (the CLI's path). */
export async function makeAdmin(app: TestApp, username: string, password = `${username}-pw`) {
  await signUp(app, username, password);
  expect(await app.meta.setUserAdmin(username, true)).toBe(true);
  return basic(username, password);
}

/** A random 64-digit V1 image id. */
export const hexId = () => hex(64);

/** Parses a token header value into its key=value pairs. */
export function tokenPairs(token: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of token.matchAll(/([a-z]+)=("([^"]*)"|[^,]*)/g)) out[m[1]!] = m[3] ?? m[2]!;
  return out;
}

/** Index PUT repository with Basic → the write token (200 expected). */
export async function writeToken(app: TestApp, repo: string, auth: string, ids: string[]): Promise<string> {
  const r = await app.req('PUT', `/v1/repositories/${repo}/`, {
    json: ids.map((id) => ({ id })),
    headers: { authorization: auth, 'x-docker-token': 'true' },
  });
  expect(r.status).toBe(200);
  const token = r.headers.get('x-docker-token');
  expect(token).not.toBeNull();
  return token!;
}

/** Uploads one image (json, layer, checksum) with a token; returns the statuses. */
export async function uploadWithToken(app: TestApp, token: string, id: string, parent: string | null = null, layer = `layer of ${id}`) {
  const headers = { authorization: token };
  const json = JSON.stringify(parent ? { id, parent } : { id });
  const statuses: number[] = [];
  let r = await app.req('PUT', `/v1/images/${id}/json`, { body: json, headers });
  statuses.push(r.status);
  r = await app.req('PUT', `/v1/images/${id}/layer`, { body: layer, headers });
  statuses.push(r.status);
  r = await app.req('PUT', `/v1/images/${id}/checksum`, {
    headers: { ...headers, 'x-docker-checksum-payload': sha256Payload(json, layer) },
  });
  statuses.push(r.status);
  return statuses;
}

/** A complete push as a Docker client does it: index PUT, images, tag, index PUT images. */
export async function push(app: TestApp, repo: string, auth: string, ids: string[] = [hexId()]) {
  const token = await writeToken(app, repo, auth, ids);
  let parent: string | null = null;
  for (const id of [...ids].reverse()) {
    expect(await uploadWithToken(app, token, id, parent)).toEqual([200, 200, 200]);
    parent = id;
  }
  let r = await app.req('PUT', `/v1/repositories/${repo}/tags/latest`, { json: ids[0], headers: { authorization: token } });
  expect(r.status).toBe(200);
  r = await app.req('PUT', `/v1/repositories/${repo}/images`, { json: ids.map((id) => ({ id })), headers: { authorization: auth } });
  expect(r.status).toBe(204);
  return { token, ids };
}
