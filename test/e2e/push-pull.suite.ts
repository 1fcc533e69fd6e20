/**
 * The end-to-end push/pull suite, run against any configuration of real registry processes: one
 * node on fs + SQLite (push-pull.test.ts), or several nodes sharing PostgreSQL and S3
 * (multi-node.test.ts). It pushes a two-layer image the way a V1 client does (index PUT, json,
 * layer, checksum, tag, index images) through `pushUrl`, then pulls it back the way a client pulls
 * (index images, tags, ancestry, json, layer) through `pullUrl` and checks every byte.
 *
 * The few expectations that legitimately differ between configurations depend on what the setup
 * declares (`layerDelivery`, the node URLs), each with the reason next to it.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { buildTar, gzip } from '../helpers/tar.ts';
import { hex, payload, UA } from '../helpers/v1-push.ts';

/**
 * How a node answers GET layer, which decides some of the reply's headers:
 * - `file`: the bytes come from local disk through the node (a BunFile, sendfile), with the
 *   node's own Content-Length;
 * - `stream`: the bytes are streamed through the node from remote storage. Bun 1.4.5 drops a
 *   Content-Length set on a stream response and sends it chunked (oven-sh/bun#10507), so there
 *   is none;
 * - `redirect`: the node answers 302 to a URL of the storage (storage_redirect), which `fetch`
 *   follows: the 200/206 and its headers come from the storage server.
 */
type LayerDelivery = 'file' | 'stream' | 'redirect';

export interface PushPullTarget {
  /** the node pushes go to */
  pushUrl: string;
  /** the node pulls go to (the same node, or another one sharing its metadata and storage) */
  pullUrl: string;
  layerDelivery: LayerDelivery;
  /**
   * Bytes stored for the image's layer, read from the storage itself (not through the registry):
   * null when nothing is stored for it. Implementations also assert how it is stored (one object
   * named `layer-<16 hex>`, plus anything else specific to their storage).
   */
  storedLayer?(id: string): Promise<number | null>;
  stop(): Promise<void>;
}

/** Starts a configuration; `env` adds registry settings (e.g. body limits) to every node. */
export type PushPullSetup = (env?: Record<string, string>) => Promise<PushPullTarget>;

type Init = { body?: string | Uint8Array | ReadableStream; headers?: Record<string, string>; redirect?: 'follow' | 'manual' };

const caller =
  (base: () => string) =>
  (method: string, path: string, init: Init = {}) =>
    fetch(`${base()}${path}`, {
      method,
      body: init.body,
      redirect: init.redirect,
      headers: { 'user-agent': UA, ...init.headers },
    });

/**
 * A 302 from the node straight to the stored object: asked with `redirect: 'manual'`, the reply
 * is the node's own (no body, not cacheable), and its Location names the layer's object.
 */
async function expectRedirect(r: Response, id: string): Promise<string> {
  expect(r.status).toBe(302);
  expect(r.headers.get('cache-control')).toBe('no-cache');
  const location = r.headers.get('location') ?? '';
  expect(new URL(location).pathname).toMatch(new RegExp(`/images/${id}/layer-[0-9a-f]{16}$`));
  // a presigned URL: the credentials travel in the query, nothing else is needed to fetch it
  expect(new URL(location).searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
  expect((await r.arrayBuffer()).byteLength).toBe(0);
  return location;
}

export function runPushPullSuite(name: string, setup: PushPullSetup): void {
  describe(name, () => {
    let target: PushPullTarget;
    beforeAll(async () => {
      target = await setup();
    });
    afterAll(async () => {
      await target?.stop();
    });
    const push = caller(() => target.pushUrl);
    const pull = caller(() => target.pullUrl);

    test('pushes then pulls a two-layer image over HTTP', async () => {
      const redirect = target.layerDelivery === 'redirect';
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
      let r = await push('PUT', `/v1/repositories/${repo}/`, {
        body: JSON.stringify([{ id: base }, { id: top }]),
        headers: { 'content-type': 'application/json', 'x-docker-token': 'true' },
      });
      expect(r.status).toBe(200);
      // REGISTRY_ENDPOINTS is unset: each node names itself (the Host it was asked on), so the
      // endpoint is the push node's own host:port in every configuration
      expect(r.headers.get('x-docker-endpoints')).toBe(new URL(target.pushUrl).host);
      expect(r.headers.get('x-docker-token')).toMatch(/^Token signature=[A-Z0-9]{16},repository="e2e[0-9a-f]{8}\/app",access=write$/);
      for (const id of [base, top]) {
        r = await push('PUT', `/v1/images/${id}/json`, { body: jsons[id], headers: { 'content-type': 'application/json' } });
        expect(r.status).toBe(200);
        r = await push('PUT', `/v1/images/${id}/layer`, { body: layers[id] });
        expect(r.status).toBe(200);
        r = await push('PUT', `/v1/images/${id}/checksum`, {
          headers: { 'x-docker-checksum-payload': payload(jsons[id]!, layers[id]!) },
        });
        expect(r.status).toBe(200);
      }
      r = await push('PUT', `/v1/repositories/${repo}/tags/latest`, { body: JSON.stringify(top) });
      expect(r.status).toBe(200);
      r = await push('PUT', `/v1/repositories/${repo}/images`, {
        body: JSON.stringify([
          { id: base, checksum: payload(jsons[base]!, layers[base]!) },
          { id: top, checksum: payload(jsons[top]!, layers[top]!) },
        ]),
      });
      expect(r.status).toBe(204);

      // the layer is in the storage itself, exactly one object of the pushed size
      if (target.storedLayer) expect(await target.storedLayer(top)).toBe(layers[top]!.byteLength);

      // pull
      r = await pull('GET', `/v1/repositories/${repo}/images`, { headers: { 'x-docker-token': 'true' } });
      expect(r.status).toBe(200);
      expect(((await r.json()) as { id: string }[]).map((i) => i.id).sort()).toEqual([base, top].sort());
      r = await pull('GET', `/v1/repositories/${repo}/tags`);
      expect(await r.json()).toEqual({ latest: top });
      r = await pull('GET', `/v1/images/${top}/ancestry`);
      expect(await r.json()).toEqual([top, base]);
      for (const id of [top, base]) {
        r = await pull('GET', `/v1/images/${id}/json`);
        expect(r.status).toBe(200);
        expect(await r.text()).toBe(jsons[id]!);
        expect(r.headers.get('x-docker-size')).toBe(String(layers[id]!.byteLength));
        expect(r.headers.get('x-docker-checksum-payload')).toBe(payload(jsons[id]!, layers[id]!));
        r = await pull('GET', `/v1/images/${id}/layer`);
        expect(r.status).toBe(200);
        // fetch followed the node's 302 to the storage exactly when redirects are on
        expect(r.redirected).toBe(redirect);
        if (target.layerDelivery === 'stream' && r.headers.get('content-length') === null) {
          // Bun 1.4.5 drops the Content-Length set on a stream response and sends it chunked
          // (oven-sh/bun#10507), unless the whole stream came in its first read (a one-chunk
          // body), when it sends the length after all: either way never a wrong length
          expect(r.headers.get('transfer-encoding')).toBe('chunked');
        } else {
          // from the node (file) or from the storage server it redirected to (redirect)
          expect(r.headers.get('content-length')).toBe(String(layers[id]!.byteLength));
        }
        expect(r.headers.get('content-disposition') ?? '').not.toContain('filename');
        const got = new Uint8Array(await r.arrayBuffer());
        expect(payload(jsons[id]!, got)).toBe(payload(jsons[id]!, layers[id]!));
        if (!redirect) {
          // a bodiless reply keeps the route's Content-Length on every delivery, streams included
          const head = await pull('HEAD', `/v1/images/${id}/layer`);
          expect(head.status).toBe(200);
          expect(head.headers.get('content-length')).toBe(String(layers[id]!.byteLength));
        }
      }
      if (redirect) {
        // the node's own answer, seen without following it: a 302 to the presigned object URL,
        // the same object whichever node is asked (they share the database and the bucket)
        const viaPull = await expectRedirect(await pull('GET', `/v1/images/${top}/layer`, { redirect: 'manual' }), top);
        const viaPush = await expectRedirect(await push('GET', `/v1/images/${top}/layer`, { redirect: 'manual' }), top);
        expect(new URL(viaPush).pathname).toBe(new URL(viaPull).pathname);
        r = await fetch(viaPull);
        expect(r.status).toBe(200);
        expect(Buffer.compare(new Uint8Array(await r.arrayBuffer()), layers[top]!)).toBe(0);
      }
      // a ranged pull over the socket (Bun's own file-range handling must not interfere); with
      // redirects the Range travels with the followed request and the storage answers it
      const size = layers[top]!.byteLength;
      r = await pull('GET', `/v1/images/${top}/layer`, { headers: { range: 'bytes=-10' } });
      expect(r.status).toBe(206);
      expect(r.headers.get('content-range')).toBe(`bytes ${size - 10}-${size - 1}/${size}`);
      expect(new Uint8Array(await r.arrayBuffer())).toEqual(layers[top]!.slice(size - 10));
      if (redirect) {
        // the node does not look at ranges when it redirects (the storage server decides how to
        // answer a multi-range request, not the registry): a 302 like any other
        await expectRedirect(await pull('GET', `/v1/images/${top}/layer`, { headers: { range: 'bytes=0-1,4-5' }, redirect: 'manual' }), top);
      } else {
        r = await pull('GET', `/v1/images/${top}/layer`, { headers: { range: 'bytes=0-1,4-5' } });
        expect(r.status).toBe(200);
        expect((await r.arrayBuffer()).byteLength).toBe(size);
      }

      // files and diff work on the real server
      r = await pull('GET', `/v1/images/${top}/diff`);
      expect(r.status).toBe(200);
      const diff = (await r.json()) as { deleted: Record<string, unknown>; created: Record<string, unknown> };
      expect(Object.keys(diff.deleted)).toEqual(['/etc/hosts']);
      expect(Object.keys(diff.created)).toEqual(['/app/run.sh']);

      r = await pull('GET', `/v1/search?q=${encodeURIComponent(repo.slice(0, 8))}`);
      expect(((await r.json()) as { results: { name: string }[] }).results.map((x) => x.name)).toEqual([repo]);
    }, 60_000);

    test('a chunked layer upload works', async () => {
      const id = hex(16);
      const json = JSON.stringify({ id });
      const data = crypto.getRandomValues(new Uint8Array(300_000));
      let r = await push('PUT', `/v1/images/${id}/json`, { body: json });
      expect(r.status).toBe(200);
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          for (let i = 0; i < data.length; i += 65_536) c.enqueue(data.slice(i, i + 65_536));
          c.close();
        },
      });
      r = await push('PUT', `/v1/images/${id}/layer`, { body: stream });
      expect(r.status).toBe(200);
      r = await push('PUT', `/v1/images/${id}/checksum`, {
        headers: { 'x-docker-checksum-payload': payload(json, data) },
      });
      expect(r.status).toBe(200);
      if (target.storedLayer) expect(await target.storedLayer(id)).toBe(data.byteLength);
      r = await pull('GET', `/v1/images/${id}/layer`);
      expect(new Uint8Array(await r.arrayBuffer())).toEqual(data);
    }, 60_000);

    describe('body limits over a real socket', () => {
      let small: PushPullTarget;
      beforeAll(async () => {
        small = await setup({ REGISTRY_MAX_BODY_SIZE: '64K', REGISTRY_MAX_JSON_SIZE: '2K' });
      });
      afterAll(async () => {
        await small?.stop();
      });
      const pushSmall = caller(() => small.pushUrl);
      const pullSmall = caller(() => small.pullUrl);

      test('oversized layers (Content-Length or chunked) and JSON bodies get a JSON 413', async () => {
        const id = hex(16);
        let r = await pushSmall('PUT', `/v1/images/${id}/json`, { body: JSON.stringify({ id }) });
        expect(r.status).toBe(200);
        const big = new Uint8Array(100 * 1024);
        r = await pushSmall('PUT', `/v1/images/${id}/layer`, { body: big });
        expect(r.status).toBe(413);
        expect(r.headers.get('content-type')).toBe('application/json');
        expect(await r.json()).toEqual({ error: 'Request body too large: limit is 65536 bytes' });
        const chunked = new ReadableStream<Uint8Array>({
          start(c) {
            for (let i = 0; i < 10; i++) c.enqueue(new Uint8Array(10 * 1024));
            c.close();
          },
        });
        r = await pushSmall('PUT', `/v1/images/${id}/layer`, { body: chunked });
        expect(r.status).toBe(413);
        expect(((await r.json()) as { error: string }).error).toStartWith('Request body too large');
        r = await pushSmall('PUT', `/v1/images/${hex(16)}/json`, { body: 'x'.repeat(3000) });
        expect(r.status).toBe(413);
        expect(((await r.json()) as { error: string }).error).toStartWith('Request body too large');
        // nothing of the refused uploads was kept (the chunked one had started writing)
        if (small.storedLayer) expect(await small.storedLayer(id)).toBeNull();
        // the registry keeps serving, and the image can still be uploaded within the limit
        const layer = new Uint8Array(60 * 1024);
        r = await pushSmall('PUT', `/v1/images/${id}/layer`, { body: layer });
        expect(r.status).toBe(200);
        if (small.storedLayer) expect(await small.storedLayer(id)).toBe(layer.byteLength);
      }, 60_000);

      test('HEAD of a layer answers its headers and no body', async () => {
        const id = hex(16);
        const json = JSON.stringify({ id });
        const layer = crypto.getRandomValues(new Uint8Array(5000));
        await pushSmall('PUT', `/v1/images/${id}/json`, { body: json });
        await pushSmall('PUT', `/v1/images/${id}/layer`, { body: layer });
        await pushSmall('PUT', `/v1/images/${id}/checksum`, {
          headers: { 'x-docker-checksum-payload': payload(json, layer) },
        });
        if (small.layerDelivery === 'redirect') {
          // a HEAD is redirected like a GET (the presigned URL is for GET, so the node's answer is
          // checked as such rather than followed)
          await expectRedirect(await pullSmall('HEAD', `/v1/images/${id}/layer`, { redirect: 'manual' }), id);
          return;
        }
        const r = await pullSmall('HEAD', `/v1/images/${id}/layer`);
        expect(r.status).toBe(200);
        expect(r.headers.get('content-length')).toBe('5000');
        expect(r.headers.get('accept-ranges')).toBe('bytes');
        expect((await r.arrayBuffer()).byteLength).toBe(0);
      }, 60_000);
    });
  });
}
