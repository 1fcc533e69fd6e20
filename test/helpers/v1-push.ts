/**
 * A minimal V1 push client for tests against a real server: random ids, the payload checksum,
 * one-call image pushes, and upload bodies that stall part-way so a test can kill the worker or
 * abort the request while the server is still streaming into its temp file.
 */
import { expect } from 'bun:test';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { hex, payload, randomBytes } from '../../dev/ids.ts';

// the push helpers' callers take ids, layers and checksums from here too
export { hex, payload, randomBytes };

export const UA = 'docker/1.6.2 go/go1.4.2 kernel/3.13.0 os/linux arch/amd64';


export const imageJson = (id: string): string => JSON.stringify({ id, created: '2026-11-27T00:00:00Z', os: 'linux' });


type Body = string | Uint8Array | ReadableStream<Uint8Array>;

export interface CallInit {
  body?: Body;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** `fetch` against `base` with the docker user agent. */
export function client(base: string) {
  return (method: string, path: string, init: CallInit = {}): Promise<Response> =>
    fetch(`${base}${path}`, {
      method,
      body: init.body,
      signal: init.signal,
      headers: { 'user-agent': UA, ...init.headers },
    });
}

/** The three PUTs of an image push, in order: json, layer, checksum (path and request). */
export function pushSteps(id: string, json: string, layer: Uint8Array): [string, CallInit][] {
  return [
    [`/v1/images/${id}/json`, { body: json, headers: { 'content-type': 'application/json' } }],
    [`/v1/images/${id}/layer`, { body: layer }],
    [`/v1/images/${id}/checksum`, { headers: { 'x-docker-checksum-payload': payload(json, layer) } }],
  ];
}

/** PUT json, PUT layer, PUT checksum; returns the three statuses (stops at a failure). */
export async function pushImage(base: string, id: string, json: string, layer: Uint8Array): Promise<number[]> {
  const call = client(base);
  const statuses: number[] = [];
  for (const [path, init] of pushSteps(id, json, layer)) {
    const r = await call('PUT', path, init);
    await r.arrayBuffer();
    statuses.push(r.status);
    if (r.status !== 200) break;
  }
  return statuses;
}

/** GET json and GET layer of a complete image through `base`: exactly what was pushed. */
export async function expectImage(base: string, id: string, json: string, layer: Uint8Array): Promise<void> {
  const call = client(base);
  let r = await call('GET', `/v1/images/${id}/json`);
  expect(r.status).toBe(200);
  expect(await r.text()).toBe(json);
  expect(r.headers.get('x-docker-size')).toBe(String(layer.byteLength));
  expect(r.headers.get('x-docker-checksum-payload')).toBe(payload(json, layer));
  r = await call('GET', `/v1/images/${id}/layer`);
  expect(r.status).toBe(200);
  const got = new Uint8Array(await r.arrayBuffer());
  expect(got.byteLength).toBe(layer.byteLength);
  expect(Buffer.compare(got, layer)).toBe(0);
}

/**
 * A body that sends `data` up to `stallAt` bytes in 256 KiB chunks, then waits (without ending)
 * until `release()` is called, then sends the rest. `sent()` counts what was handed to fetch.
 */
export function stallingBody(data: Uint8Array, stallAt: number) {
  const CHUNK = 256 * 1024;
  let offset = 0;
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (offset >= stallAt) await released;
      if (offset >= data.byteLength) return controller.close();
      const end = Math.min(data.byteLength, offset + CHUNK, offset < stallAt ? stallAt : data.byteLength);
      controller.enqueue(data.slice(offset, end));
      offset = end;
    },
  });
  return { stream, release, sent: () => offset };
}

/** Files in `<data>/.tmp` (the fs driver's in-progress uploads) with their sizes. */
export function tempFiles(dataDir: string): { name: string; size: number }[] {
  const dir = join(dataDir, '.tmp');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: { name: string; size: number }[] = [];
  for (const name of names) {
    try {
      out.push({ name, size: statSync(join(dir, name)).size });
    } catch {
      // committed or removed meanwhile
    }
  }
  return out;
}

/** Files stored for an image (`<data>/images/<id>/`), or [] when the directory does not exist. */
export function imageFiles(dataDir: string, id: string): string[] {
  try {
    return readdirSync(join(dataDir, 'images', id));
  } catch {
    return [];
  }
}
