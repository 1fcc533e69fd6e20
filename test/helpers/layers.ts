/**
 * Small helpers shared by the route tests (test/routes/*): asserting V1 error replies and
 * uploading complete or half-done images.
 */
import { expect } from 'bun:test';
import { randomHex, sha256Payload, uploadImage, type TestApp } from './app.ts';

/** `uploadImage`'s expect callback: throws with the helper's message when an assert fails. */
const check = (cond: boolean, what: string): void => {
  if (!cond) throw new Error(`upload_image assert failed: ${what}`);
};

/** Uploads a complete image (json, layer, checksum) with the original's 7 asserts. */
export function upload(app: TestApp, id: string, parent: string | null, layer: Uint8Array | string): Promise<string> {
  return uploadImage(app, id, parent, layer, check);
}

/** A fresh random image id (16 hex). */
export const newId = (): string => randomHex(16);

/** A random lowercase name of `n` letters. */
export function randomName(n = 8): string {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  return Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => letters[b % 26]).join('');
}

/** Asserts a V1 error reply: exact status, JSON content-type, `{"error": message}` body. */
export async function expectError(res: Response, status: number, message?: string | RegExp): Promise<string> {
  const text = await res.text();
  expect({ status: res.status, text }).toMatchObject({ status });
  expect(res.headers.get('content-type')).toBe('application/json');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`error body is not JSON: ${JSON.stringify(text.slice(0, 200))}`);
  }
  expect(body).toBeObject();
  const err = (body as { error?: unknown }).error;
  expect(typeof err).toBe('string');
  if (typeof message === 'string') expect(err).toBe(message);
  else if (message instanceof RegExp) expect(err as string).toMatch(message);
  return err as string;
}

/** Asserts a 4xx JSON error (any 4xx), the sweep's contract. */
export async function expectClientError(res: Response, what: string): Promise<void> {
  const text = await res.text();
  const ctx = `${what} → ${res.status} ${text.slice(0, 200)}`;
  expect(res.status >= 400 && res.status < 500 ? ctx : `NOT 4xx: ${ctx}`).toBe(ctx);
  expect(`${what}: ${res.headers.get('content-type')}`).toBe(`${what}: application/json`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const ok = typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string';
  expect(ok ? ctx : `NOT {"error": string}: ${ctx}`).toBe(ctx);
}

/** PUT json for an image (optionally with a parent) and expect 200; returns the json text. */
export async function putJson(app: TestApp, id: string, parent: string | null = null): Promise<string> {
  const json = JSON.stringify(parent ? { id, parent } : { id });
  const r = await app.req('PUT', `/v1/images/${id}/json`, { body: json });
  expect(r.status).toBe(200);
  expect(await r.json()).toBe(true);
  return json;
}

/** PUT json then PUT layer (no checksum): the image stays in progress. Returns the payload checksum. */
export async function putJsonAndLayer(app: TestApp, id: string, layer: Uint8Array | string, parent: string | null = null): Promise<string> {
  const json = await putJson(app, id, parent);
  const r = await app.req('PUT', `/v1/images/${id}/layer`, { body: layer });
  expect(r.status).toBe(200);
  expect(await r.json()).toBe(true);
  return sha256Payload(json, layer);
}

/** Asserts the §0 no-cache JSON headers. */
export function expectNoCacheHeaders(res: Response): void {
  expect(res.headers.get('content-type')).toBe('application/json');
  expect(res.headers.get('cache-control')).toBe('no-cache');
  expect(res.headers.get('expires')).toBe('-1');
  expect(res.headers.get('pragma')).toBe('no-cache');
}

/** Asserts the §0 cacheable-GET headers. */
export function expectCacheHeaders(res: Response): void {
  expect(res.headers.get('cache-control')).toBe('public, max-age=31536000');
  const expires = res.headers.get('expires');
  expect(expires).not.toBeNull();
  expect(Number.isNaN(Date.parse(expires!))).toBe(false);
  expect(Date.parse(expires!)).toBeGreaterThan(Date.now() + 360 * 24 * 3600 * 1000);
  const lm = res.headers.get('last-modified');
  expect(lm).not.toBeNull();
  expect(Number.isNaN(Date.parse(lm!))).toBe(false);
  expect(res.headers.get('pragma')).toBeNull();
}

export const bytes = (s: string): Uint8Array<ArrayBuffer> => new TextEncoder().encode(s);
