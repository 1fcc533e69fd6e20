/**
 * The V1 pull-through mirror, images (E3, E6, E7), through the app against a stub upstream
 * (test/helpers/stub-v1-upstream.ts): a miss is fetched, verified and stored so the next pull is
 * local (upstream hits counted); every upstream failure is a 502/503/504 JSON error that stores
 * nothing; a layer that fails part-way cuts the client's transfer; one fetch per layer.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { hex, payload, randomBytes } from '../../dev/ids.ts';
import { makeApp, type TestApp } from '../helpers/app.ts';
import { expectError } from '../helpers/layers.ts';
import { stallingStream, startStubUpstream, stubJson, type StubUpstream } from '../helpers/stub-v1-upstream.ts';
import { buildTar } from '../helpers/tar.ts';
import { tarsum } from '../../src/checksum/tarsum.ts';
import { freePort } from '../../dev/ports.ts';

let up: StubUpstream;
beforeAll(() => {
  up = startStubUpstream();
});
afterAll(() => up.stop());

const mirror = (source = up.url): TestApp => makeApp({ 'mirroring.source': source, 'mirroring.timeout': 1 });

/** A parent and a child image in the stub. */
function chain(size = 200_000) {
  const root = hex(16);
  const child = hex(64);
  const a = up.addImage({ id: root, json: stubJson(root), layer: randomBytes(size) });
  const b = up.addImage({ id: child, parent: root, json: stubJson(child, root), layer: randomBytes(size + 7) });
  return { a, b };
}

/** Nothing of the image here: no row, no stored object. */
async function expectNothingStored(app: TestApp, id: string) {
  expect(await app.meta.getImage(id)).toBeNull();
  expect(await app.storage.list(`images/${id}`).catch(() => [])).toEqual([]);
}

/** The body read to its end, or the error that cut it. */
async function readAll(r: Response): Promise<Uint8Array | Error> {
  try {
    return new Uint8Array(await r.arrayBuffer());
  } catch (e) {
    return e as Error;
  }
}

describe('a miss is fetched, verified, stored; the next pull is local', () => {
  test('ancestry, json and layer of a two-image chain', async () => {
    const app = mirror();
    const { a, b } = chain();
    let r = await app.req('GET', `/v1/images/${b.id}/ancestry`);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual([b.id, a.id]);
    for (const image of [a, b]) {
      r = await app.req('GET', `/v1/images/${image.id}/json`);
      expect(r.status).toBe(200);
      expect(await r.text()).toBe(image.json);
      expect(r.headers.get('x-docker-size')).toBe(String(image.layer.byteLength));
      expect(r.headers.get('x-docker-checksum-payload')).toBe(payload(image.json, image.layer));
      r = await app.req('GET', `/v1/images/${image.id}/layer`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-length')).toBe(String(image.layer.byteLength));
      expect(Buffer.compare(new Uint8Array(await r.arrayBuffer()), image.layer)).toBe(0);
    }
    // the json fetched for the GET json served the layer fetch too
    expect(up.count(`/v1/images/${b.id}/json`)).toBe(1);
    const stored = await app.meta.getImage(b.id);
    expect(stored?.state).toBe('ready');
    expect(stored?.ancestry).toEqual([b.id, a.id]);
    expect(stored?.checksums).toEqual([payload(b.json, b.layer)]);
    const before = up.hits.length;
    for (const image of [a, b]) {
      r = await app.req('GET', `/v1/images/${image.id}/json`);
      expect(r.headers.get('x-docker-checksum-payload')).toBe(payload(image.json, image.layer));
      expect(r.headers.get('x-docker-size')).toBe(String(image.layer.byteLength));
      expect(await r.text()).toBe(image.json);
      expect(Buffer.compare(new Uint8Array(await (await app.req('GET', `/v1/images/${image.id}/layer`)).arrayBuffer()), image.layer)).toBe(0);
      expect(await (await app.req('GET', `/v1/images/${image.id}/ancestry`)).json()).toEqual(image.parent ? [b.id, a.id] : [a.id]);
    }
    expect(up.hits.length).toBe(before);
    app.close();
  });

  test('an image the upstream does not have either is a plain 404, asked again next time', async () => {
    const app = mirror();
    const id = hex(16);
    await expectError(await app.req('GET', `/v1/images/${id}/json`), 404, 'Image not found');
    await expectError(await app.req('GET', `/v1/images/${id}/layer`), 404, 'Image not found');
    await expectNothingStored(app, id);
    app.close();
  });

  test('HEAD and a Range on a missing layer wait for the stored copy and are answered from it', async () => {
    const app = mirror();
    const { a } = chain(50_000);
    let r = await app.req('GET', `/v1/images/${a.id}/layer`, { headers: { range: 'bytes=10-19' } });
    expect(r.status).toBe(206);
    expect(Buffer.compare(new Uint8Array(await r.arrayBuffer()), a.layer.subarray(10, 20))).toBe(0);
    expect((await app.meta.getImage(a.id))?.state).toBe('ready');
    const { b } = chain(1000);
    await app.req('GET', `/v1/images/${b.parent}/layer`).then((x) => x.arrayBuffer());
    r = await app.req('HEAD', `/v1/images/${b.id}/layer`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-length')).toBe(String(b.layer.byteLength));
    expect((await app.meta.getImage(b.id))?.state).toBe('ready');
    app.close();
  });

  test('a legacy X-Docker-Checksum (tarsum) is verified too', async () => {
    const app = mirror();
    const id = hex(16);
    const json = stubJson(id);
    const layer = await buildTar([{ name: 'etc/hello', body: 'hello' }]);
    const sum = await tarsum(new TextEncoder().encode(json), layer);
    up.addImage({ id, json, layer, jsonHeaders: { 'x-docker-checksum': sum } });
    const r = await app.req('GET', `/v1/images/${id}/layer`);
    expect(Buffer.compare(new Uint8Array(await r.arrayBuffer()), layer)).toBe(0);
    expect((await app.meta.getImage(id))?.checksums).toEqual([payload(json, layer)]);
    const bad = hex(16);
    up.addImage({ id: bad, json: stubJson(bad), layer, jsonHeaders: { 'x-docker-checksum': sum } });
    expect(await readAll(await app.req('GET', `/v1/images/${bad}/layer`))).toBeInstanceOf(Error);
    await expectNothingStored(app, bad);
    app.close();
  });
});

describe('upstream failures: a gateway JSON error, nothing stored', () => {
  const cases: [string, number, (id: string) => [string, (r: Request) => Response | Promise<Response>]][] = [
    ['garbage json', 502, (id) => [`/v1/images/${id}/json`, () => new Response('<html>not json')]],
    ['a json for another id', 502, (id) => [`/v1/images/${id}/json`, () => Response.json({ id: hex(16) })]],
    ['an ancestry that does not start with the id', 502, (id) => [`/v1/images/${id}/ancestry`, () => Response.json([hex(16)])]],
    ['an ancestry that is not a list', 502, (id) => [`/v1/images/${id}/ancestry`, () => Response.json({ id })]],
    ['a 500', 502, (id) => [`/v1/images/${id}/json`, () => new Response('boom', { status: 500 })]],
    ['a 401 it cannot answer', 502, (id) => [`/v1/images/${id}/json`, () => new Response('{}', { status: 401, headers: { 'www-authenticate': 'Basic realm="x"' } })]],
    ['slow headers', 504, (id) => [`/v1/images/${id}/json`, async () => (await Bun.sleep(1600), new Response('{}'))]],
  ];
  for (const [what, status, make] of cases) {
    test(`${what} → ${status}`, async () => {
      const app = mirror();
      const { a } = chain(1000);
      const [path, fault] = make(a.id);
      up.fault(path, fault);
      try {
        const started = Date.now();
        await expectError(await app.req('GET', `/v1/images/${a.id}/json`), status);
        await expectError(await app.req('GET', `/v1/images/${a.id}/layer`), status);
        expect(Date.now() - started).toBeLessThan(4000);
        await expectNothingStored(app, a.id);
      } finally {
        up.fault(path, null);
      }
      // the upstream healed: the next pull goes through
      expect((await app.req('GET', `/v1/images/${a.id}/layer`)).status).toBe(200);
      app.close();
    });
  }

  test('a refused port → 503', async () => {
    const app = mirror(`http://127.0.0.1:${await freePort()}`);
    const id = hex(16);
    await expectError(await app.req('GET', `/v1/images/${id}/json`), 503);
    await expectError(await app.req('GET', `/v1/images/${id}/layer`), 503);
    await expectNothingStored(app, id);
    app.close();
  });
});

describe('a layer that fails part-way cuts the transfer and stores nothing', () => {
  const cases: [string, (layer: Uint8Array) => Response][] = [
    ['bytes that do not match the checksum', (layer) => new Response(randomBytes(layer.byteLength))],
    // a stream at the upstream's own pace: chunked, so nothing tells the length but X-Docker-Size
    ['fewer bytes than announced', (layer) => new Response(stallingStream(layer.slice(0, layer.byteLength - 5), 65_536, 10))],
    ['a body that stalls past mirroring.timeout', (layer) => new Response(stallingStream(layer, 65_536, 2500))],
  ];
  for (const [what, reply] of cases) {
    test(what, async () => {
      const app = mirror();
      const { a } = chain(300_000);
      const path = `/v1/images/${a.id}/layer`;
      up.fault(path, () => reply(a.layer));
      const r = await app.req('GET', path);
      expect(r.status).toBe(200);
      const got = await readAll(r);
      if (!(got instanceof Error)) expect(Buffer.compare(got, a.layer)).not.toBe(0);
      expect(got).toBeInstanceOf(Error);
      await Bun.sleep(50);
      await expectNothingStored(app, a.id);
      up.fault(path, null);
      // the next pull is complete
      const again = await app.req('GET', path);
      expect(Buffer.compare(new Uint8Array(await again.arrayBuffer()), a.layer)).toBe(0);
      expect((await app.meta.getImage(a.id))?.state).toBe('ready');
      app.close();
    });
  }
});

test('a Content-Length that contradicts X-Docker-Size is refused before a byte is sent: 502', async () => {
  const app = mirror();
  const { a } = chain(10_000);
  const path = `/v1/images/${a.id}/layer`;
  up.fault(path, () => new Response(a.layer.slice(0, 9_000)));
  await expectError(await app.req('GET', path), 502);
  await expectNothingStored(app, a.id);
  up.fault(path, null);
  app.close();
});

describe('one fetch per layer', () => {
  /** The layer in 64 KiB chunks, 5 ms apart. */
  const paced = (layer: Uint8Array) => {
    let offset = 0;
    return new Response(
      new ReadableStream({
        async pull(c) {
          await Bun.sleep(5);
          if (offset >= layer.byteLength) return c.close();
          c.enqueue(layer.slice(offset, offset + 65_536));
          offset += 65_536;
        },
      }),
    );
  };

  test('concurrent pulls of one missing layer fetch it upstream once, and all get every byte', async () => {
    const app = mirror();
    const { a } = chain(1_000_000);
    const path = `/v1/images/${a.id}/layer`;
    up.fault(path, () => paced(a.layer));
    const bodies = await Promise.all(Array.from({ length: 6 }, () => app.req('GET', path).then((r) => r.arrayBuffer())));
    up.fault(path, null);
    for (const body of bodies) expect(Buffer.compare(new Uint8Array(body), a.layer)).toBe(0);
    expect(up.count(path)).toBe(1);
    expect(up.count(`/v1/images/${a.id}/json`)).toBe(1);
    app.close();
  });

  test('a client that leaves mid-layer: the copy completes and is stored whole', async () => {
    const app = mirror();
    const { a } = chain(1_000_000);
    const path = `/v1/images/${a.id}/layer`;
    up.fault(path, () => paced(a.layer));
    const r = await app.req('GET', path);
    const reader = r.body!.getReader();
    await reader.read();
    await reader.cancel();
    for (let i = 0; i < 100 && (await app.meta.getImage(a.id)) === null; i++) await Bun.sleep(50);
    up.fault(path, null);
    expect((await app.meta.getImage(a.id))?.layerSize).toBe(a.layer.byteLength);
    const again = await app.req('GET', path);
    expect(Buffer.compare(new Uint8Array(await again.arrayBuffer()), a.layer)).toBe(0);
    expect(up.count(path)).toBe(1);
    app.close();
  });
});
