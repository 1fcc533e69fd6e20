/**
 * End to end: `bun run start` as a real process on a free port; push a two-layer image the way
 * a V1 client does (index PUT, json, layer, checksum, tag, index images), then pull it back the
 * way a client pulls (index images, tags, ancestry, json, layer) and check every byte.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { buildTar, gzip } from '../helpers/tar.ts';
import { startRegistry, type StartedRegistry } from '../helpers/server.ts';

const UA = 'docker/1.6.2 go/go1.4.2 kernel/3.13.0 os/linux arch/amd64';
const hex = (n: number) =>
  Array.from(crypto.getRandomValues(new Uint8Array(n / 2)), (b) => b.toString(16).padStart(2, '0')).join('');
const payload = (json: string, layer: Uint8Array) =>
  `sha256:${new Bun.CryptoHasher('sha256').update(json).update('\n').update(layer).digest('hex')}`;

let reg: StartedRegistry;
beforeAll(async () => {
  reg = await startRegistry();
});
afterAll(async () => {
  await reg?.stop();
});

describe('bun run start', () => {
  test('pushes then pulls a two-layer image over HTTP', async () => {
    const call = (method: string, path: string, init: { body?: string | Uint8Array | ReadableStream; headers?: Record<string, string> } = {}) =>
      fetch(`${reg.url}${path}`, { method, body: init.body, headers: { 'user-agent': UA, ...init.headers } });
    const repo = `e2e${hex(8)}/app`;
    const base = hex(64);
    const top = hex(64);
    const layers: Record<string, Uint8Array> = {
      [base]: gzip(await buildTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/hosts', body: '127.0.0.1 localhost\n' }])),
      [top]: gzip(await buildTar([{ name: 'app/run.sh', body: '#!/bin/sh\necho hi\n', mode: 0o755 }, { name: 'etc/.wh.hosts' }])),
    };
    const jsons: Record<string, string> = {
      [base]: JSON.stringify({ id: base, created: '2026-11-27T00:00:00Z', os: 'linux' }),
      [top]: JSON.stringify({ id: top, parent: base, created: '2026-11-27T00:00:01Z', os: 'linux' }),
    };

    // push: index first (client announces the images), then each image root first
    let r = await call('PUT', `/v1/repositories/${repo}/`, {
      body: JSON.stringify([{ id: base }, { id: top }]),
      headers: { 'content-type': 'application/json', 'x-docker-token': 'true' },
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-docker-endpoints')).toBe(`127.0.0.1:${reg.port}`);
    expect(r.headers.get('x-docker-token')).toMatch(/^Token signature=[A-Z0-9]{16},repository="e2e[0-9a-f]{8}\/app",access=write$/);
    for (const id of [base, top]) {
      r = await call('PUT', `/v1/images/${id}/json`, { body: jsons[id], headers: { 'content-type': 'application/json' } });
      expect(r.status).toBe(200);
      r = await call('PUT', `/v1/images/${id}/layer`, { body: layers[id] });
      expect(r.status).toBe(200);
      r = await call('PUT', `/v1/images/${id}/checksum`, {
        headers: { 'x-docker-checksum-payload': payload(jsons[id]!, layers[id]!) },
      });
      expect(r.status).toBe(200);
    }
    r = await call('PUT', `/v1/repositories/${repo}/tags/latest`, { body: JSON.stringify(top) });
    expect(r.status).toBe(200);
    r = await call('PUT', `/v1/repositories/${repo}/images`, {
      body: JSON.stringify([
        { id: base, checksum: payload(jsons[base]!, layers[base]!) },
        { id: top, checksum: payload(jsons[top]!, layers[top]!) },
      ]),
    });
    expect(r.status).toBe(204);

    // the layers are on disk under STORAGE_PATH, the database beside them
    const stored = readdirSync(join(reg.storagePath, 'images', top));
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatch(/^layer-[0-9a-f]{16}$/);
    expect(statSync(join(reg.storagePath, 'images', top, stored[0]!)).size).toBe(layers[top]!.byteLength);
    expect(existsSync(join(reg.storagePath, 'registry.db'))).toBe(true);

    // pull
    r = await call('GET', `/v1/repositories/${repo}/images`, { headers: { 'x-docker-token': 'true' } });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { id: string }[]).map((i) => i.id).sort()).toEqual([base, top].sort());
    r = await call('GET', `/v1/repositories/${repo}/tags`);
    expect(await r.json()).toEqual({ latest: top });
    r = await call('GET', `/v1/images/${top}/ancestry`);
    expect(await r.json()).toEqual([top, base]);
    for (const id of [top, base]) {
      r = await call('GET', `/v1/images/${id}/json`);
      expect(r.status).toBe(200);
      expect(await r.text()).toBe(jsons[id]!);
      expect(r.headers.get('x-docker-size')).toBe(String(layers[id]!.byteLength));
      expect(r.headers.get('x-docker-checksum-payload')).toBe(payload(jsons[id]!, layers[id]!));
      r = await call('GET', `/v1/images/${id}/layer`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-length')).toBe(String(layers[id]!.byteLength));
      expect(r.headers.get('content-disposition') ?? '').not.toContain('filename');
      const got = new Uint8Array(await r.arrayBuffer());
      expect(payload(jsons[id]!, got)).toBe(payload(jsons[id]!, layers[id]!));
    }
    // a ranged pull over the socket (Bun's own file-range handling must not interfere)
    const size = layers[top]!.byteLength;
    r = await call('GET', `/v1/images/${top}/layer`, { headers: { range: 'bytes=-10' } });
    expect(r.status).toBe(206);
    expect(r.headers.get('content-range')).toBe(`bytes ${size - 10}-${size - 1}/${size}`);
    expect(new Uint8Array(await r.arrayBuffer())).toEqual(layers[top]!.slice(size - 10));
    r = await call('GET', `/v1/images/${top}/layer`, { headers: { range: 'bytes=0-1,4-5' } });
    expect(r.status).toBe(200);
    expect((await r.arrayBuffer()).byteLength).toBe(size);

    // files and diff work on the real server
    r = await call('GET', `/v1/images/${top}/diff`);
    expect(r.status).toBe(200);
    const diff = (await r.json()) as { deleted: Record<string, unknown>; created: Record<string, unknown> };
    expect(Object.keys(diff.deleted)).toEqual(['/etc/hosts']);
    expect(Object.keys(diff.created)).toEqual(['/app/run.sh']);

    r = await call('GET', `/v1/search?q=${encodeURIComponent(repo.slice(0, 8))}`);
    expect(((await r.json()) as { results: { name: string }[] }).results.map((x) => x.name)).toEqual([repo]);
  }, 60_000);

  test('a chunked layer upload works', async () => {
    const id = hex(16);
    const json = JSON.stringify({ id });
    const data = crypto.getRandomValues(new Uint8Array(300_000));
    let r = await fetch(`${reg.url}/v1/images/${id}/json`, { method: 'PUT', body: json });
    expect(r.status).toBe(200);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < data.length; i += 65_536) c.enqueue(data.slice(i, i + 65_536));
        c.close();
      },
    });
    r = await fetch(`${reg.url}/v1/images/${id}/layer`, { method: 'PUT', body: stream });
    expect(r.status).toBe(200);
    r = await fetch(`${reg.url}/v1/images/${id}/checksum`, {
      method: 'PUT',
      headers: { 'x-docker-checksum-payload': payload(json, data) },
    });
    expect(r.status).toBe(200);
    r = await fetch(`${reg.url}/v1/images/${id}/layer`);
    expect(new Uint8Array(await r.arrayBuffer())).toEqual(data);
  }, 60_000);
});

describe('body limits over a real socket', () => {
  let small: StartedRegistry;
  beforeAll(async () => {
    small = await startRegistry({ REGISTRY_MAX_BODY_SIZE: '64K', REGISTRY_MAX_JSON_SIZE: '2K' });
  });
  afterAll(async () => {
    await small?.stop();
  });

  test('oversized layers (Content-Length or chunked) and JSON bodies get a JSON 413', async () => {
    const id = hex(16);
    let r = await fetch(`${small.url}/v1/images/${id}/json`, { method: 'PUT', body: JSON.stringify({ id }) });
    expect(r.status).toBe(200);
    const big = new Uint8Array(100 * 1024);
    r = await fetch(`${small.url}/v1/images/${id}/layer`, { method: 'PUT', body: big });
    expect(r.status).toBe(413);
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(await r.json()).toEqual({ error: 'Request body too large: limit is 65536 bytes' });
    const chunked = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 10; i++) c.enqueue(new Uint8Array(10 * 1024));
        c.close();
      },
    });
    r = await fetch(`${small.url}/v1/images/${id}/layer`, { method: 'PUT', body: chunked });
    expect(r.status).toBe(413);
    expect(((await r.json()) as { error: string }).error).toStartWith('Request body too large');
    r = await fetch(`${small.url}/v1/images/${hex(16)}/json`, { method: 'PUT', body: 'x'.repeat(3000) });
    expect(r.status).toBe(413);
    expect(((await r.json()) as { error: string }).error).toStartWith('Request body too large');
    // the registry keeps serving, and the image can still be uploaded within the limit
    const layer = new Uint8Array(60 * 1024);
    r = await fetch(`${small.url}/v1/images/${id}/layer`, { method: 'PUT', body: layer });
    expect(r.status).toBe(200);
  }, 60_000);

  test('HEAD of a layer answers its headers and no body', async () => {
    const id = hex(16);
    const json = JSON.stringify({ id });
    const layer = crypto.getRandomValues(new Uint8Array(5000));
    await fetch(`${small.url}/v1/images/${id}/json`, { method: 'PUT', body: json });
    await fetch(`${small.url}/v1/images/${id}/layer`, { method: 'PUT', body: layer });
    await fetch(`${small.url}/v1/images/${id}/checksum`, {
      method: 'PUT',
      headers: { 'x-docker-checksum-payload': payload(json, layer) },
    });
    const r = await fetch(`${small.url}/v1/images/${id}/layer`, { method: 'HEAD' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-length')).toBe('5000');
    expect(r.headers.get('accept-ranges')).toBe('bytes');
    expect((await r.arrayBuffer()).byteLength).toBe(0);
  }, 60_000);
});
