/**
 * The V1 pull-through mirror end to end: a second instance of this registry (a real supervisor)
 * is the upstream, reached through a recording proxy that counts requests and can drop a reply
 * mid-body; the mirror is another real supervisor with MIRROR_SOURCE. Pushes and pulls go the V1
 * client way (index, tags, ancestry, json, layer). The mirror runs two workers: one upstream fetch
 * per layer holds across processes (a lease in the metadata store, services/fetch-lock.ts).
 */
import { describe, expect, test } from 'bun:test';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { client, hex, pushSteps, randomBytes } from '../helpers/v1-push.ts';
import { startRecordingProxy, type RecordingProxy } from '../helpers/recording-proxy.ts';
import { useSupervisors, waitFor, type Supervisor } from '../helpers/supervisor.ts';

const sups = useSupervisors();
const ROOT = join(import.meta.dir, '..', '..');

interface Image {
  id: string;
  json: string;
  layer: Uint8Array;
}

/** A chain of images, root first, with layers of these sizes. */
function chain(...sizes: number[]): Image[] {
  const out: Image[] = [];
  for (const size of sizes) {
    const id = hex(64);
    const parent = out.at(-1)?.id;
    out.push({ id, json: JSON.stringify(parent ? { id, parent, created: '2026-01-01T00:00:00Z' } : { id, created: '2026-01-01T00:00:00Z' }), layer: randomBytes(size) });
  }
  return out;
}

const jsonInit = (body: unknown, headers: Record<string, string> = {}) => ({ body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });

/** A V1 push (index PUT, images root first, tag, index PUT images), with Basic credentials in token mode. */
async function push(base: string, repo: string, images: Image[], basic?: string) {
  const call = client(base);
  const list = images.map((i) => ({ id: i.id }));
  const login: Record<string, string> = basic ? { authorization: basic } : {};
  let r = await call('PUT', `/v1/repositories/${repo}/`, jsonInit(list, { 'x-docker-token': 'true', ...login }));
  expect(r.status).toBe(200);
  const token: Record<string, string> = basic ? { authorization: r.headers.get('x-docker-token')! } : {};
  for (const image of images) {
    for (const [path, init] of pushSteps(image.id, image.json, image.layer)) {
      r = await call('PUT', path, { ...init, headers: { ...init.headers, ...token } });
      expect(`${path} ${r.status}`).toBe(`${path} 200`);
    }
  }
  r = await call('PUT', `/v1/repositories/${repo}/tags/latest`, jsonInit(images.at(-1)!.id, token));
  expect(r.status).toBe(200);
  r = await call('PUT', `/v1/repositories/${repo}/images`, jsonInit(list, login));
  expect(r.status).toBe(204);
}

/** A V1 pull of `repo:latest` as a Docker 1.x client does it; every image's json and layer. */
async function pull(base: string, repo: string, basic?: string): Promise<Image[]> {
  const call = client(base);
  let r = await call('GET', `/v1/repositories/${repo}/images`, { headers: { 'x-docker-token': 'true', ...(basic ? { authorization: basic } : {}) } });
  expect(`images ${r.status}`).toBe('images 200');
  const auth = { authorization: r.headers.get('x-docker-token')! };
  r = await call('GET', `/v1/repositories/${repo}/tags`, { headers: auth });
  expect(`tags ${r.status}`).toBe('tags 200');
  const top = ((await r.json()) as Record<string, string>).latest!;
  r = await call('GET', `/v1/images/${top}/ancestry`, { headers: auth });
  expect(`ancestry ${r.status}`).toBe('ancestry 200');
  const out: Image[] = [];
  for (const id of ((await r.json()) as string[]).reverse()) {
    const json = await call('GET', `/v1/images/${id}/json`, { headers: auth });
    expect(`json ${json.status}`).toBe('json 200');
    const layer = await call('GET', `/v1/images/${id}/layer`, { headers: auth });
    expect(`layer ${layer.status}`).toBe('layer 200');
    out.push({ id, json: await json.text(), layer: new Uint8Array(await layer.arrayBuffer()) });
  }
  return out;
}

function expectSame(got: Image[], want: Image[]) {
  expect(got.map((i) => i.id)).toEqual(want.map((i) => i.id));
  for (const [i, image] of want.entries()) {
    expect(got[i]!.json).toBe(image.json);
    expect(Buffer.compare(got[i]!.layer, image.layer)).toBe(0);
  }
}

/** The files under the mirror's `images/<id>/` and its driver's temp dir. */
function stored(mirror: Supervisor, id: string) {
  const list = (dir: string) => {
    try {
      return readdirSync(dir).map((f) => ({ f, size: statSync(join(dir, f)).size }));
    } catch {
      return [];
    }
  };
  return { layers: list(join(mirror.dir, 'data', 'images', id)), temp: list(join(mirror.dir, 'data', '.tmp')) };
}

async function upstreamAndMirror(upstreamEnv: Record<string, string> = {}, mirrorEnv: Record<string, string> = {}) {
  const upstream = await sups.start({ REGISTRY_WORKERS: '1', ...upstreamEnv });
  const proxy = startRecordingProxy(upstream.url);
  const mirror = await sups.start({ REGISTRY_WORKERS: '2', MIRROR_SOURCE: proxy.url, MIRROR_TIMEOUT: '2', ...mirrorEnv });
  return { upstream, proxy, mirror };
}

async function expectJsonError(r: Response, status: number) {
  expect(r.status).toBe(status);
  expect(r.headers.get('content-type')).toBe('application/json');
  expect(typeof ((await r.json()) as { error?: unknown }).error).toBe('string');
}

describe('a second instance of this registry as the upstream', () => {
  test('pull through, byte-exact; upstream stopped: pulled again from the mirror alone (tags from its cache); a miss is a 503', async () => {
    const { upstream, proxy, mirror } = await upstreamAndMirror({}, { MIRROR_TAGS_CACHE_TTL: '1' });
    let proxyStopped: RecordingProxy | null = null;
    try {
      const images = chain(300_000, 1_500_000, 40_000);
      await push(upstream.url, 'acme/app', images);
      expectSame(await pull(mirror.url, 'acme/app'), images);
      for (const image of images) expect(proxy.count(`/v1/images/${image.id}/layer`)).toBe(1);
      const hits = proxy.log.length;
      expectSame(await pull(mirror.url, 'acme/app'), images);
      expect(proxy.log.length).toBe(hits);
      await proxy.stop();
      proxyStopped = proxy;
      await sups.stop(upstream);
      // past the TTL: the refresh fails, the cached tags are served
      await Bun.sleep(1100);
      expectSame(await pull(mirror.url, 'acme/app'), images);
      await expectJsonError(await fetch(`${mirror.url}/v1/images/${hex(64)}/json`), 503);
      await expectJsonError(await fetch(`${mirror.url}/v1/images/${hex(64)}/layer`), 503);
      await expectJsonError(await fetch(`${mirror.url}/v1/repositories/acme/other/tags`), 503);
    } finally {
      if (!proxyStopped) await proxy.stop();
    }
  }, 60_000);

  test('concurrent pulls of one missing layer: one upstream fetch; a client that leaves mid-layer: no partial layer, the next pull is whole', async () => {
    const { upstream, proxy, mirror } = await upstreamAndMirror();
    try {
      const [a, b] = chain(24_000_000, 24_000_000) as [Image, Image];
      await push(upstream.url, 'acme/big', [a, b]);
      const bodies = await Promise.all(Array.from({ length: 6 }, () => fetch(`${mirror.url}/v1/images/${a.id}/layer`).then((r) => r.arrayBuffer())));
      for (const body of bodies) expect(Buffer.compare(new Uint8Array(body), a.layer)).toBe(0);
      expect(proxy.count(`/v1/images/${a.id}/layer`)).toBe(1);

      const leaving = new AbortController();
      const r = await fetch(`${mirror.url}/v1/images/${b.id}/layer`, { signal: leaving.signal });
      await r.body!.getReader().read();
      leaving.abort();
      // the copy goes on without the client, and lands whole
      await waitFor('the layer stored', () => stored(mirror, b.id).layers.length === 1 && stored(mirror, b.id).temp.length === 0, 20_000);
      expect(stored(mirror, b.id).layers[0]!.size).toBe(b.layer.byteLength);
      const again = await fetch(`${mirror.url}/v1/images/${b.id}/layer`);
      expect(Buffer.compare(new Uint8Array(await again.arrayBuffer()), b.layer)).toBe(0);
      expect(proxy.count(`/v1/images/${b.id}/layer`)).toBe(1);
    } finally {
      await proxy.stop();
    }
  }, 60_000);

  test('an upstream that drops the layer mid-body: the client’s transfer is cut, nothing is stored, the next pull is whole', async () => {
    const { upstream, proxy, mirror } = await upstreamAndMirror();
    try {
      const [a] = chain(4_000_000) as [Image];
      await push(upstream.url, 'acme/cut', [a]);
      proxy.cut(`/v1/images/${a.id}/layer`, 1_000_000);
      // never a complete-looking body: the connection is reset part-way — after the 200's headers,
      // or before them when the cut comes before Bun has flushed them
      const got = await fetch(`${mirror.url}/v1/images/${a.id}/layer`)
        .then((r) => {
          expect(r.status).toBe(200);
          return r.arrayBuffer();
        })
        .then((x) => new Uint8Array(x))
        .catch((e: Error) => e);
      expect(got).toBeInstanceOf(Error);
      await Bun.sleep(200);
      expect(stored(mirror, a.id)).toEqual({ layers: [], temp: [] });
      proxy.cut(`/v1/images/${a.id}/layer`, null);
      const again = await fetch(`${mirror.url}/v1/images/${a.id}/layer`);
      expect(Buffer.compare(new Uint8Array(await again.arrayBuffer()), a.layer)).toBe(0);
    } finally {
      await proxy.stop();
    }
  }, 60_000);
});

test('an upstream in token mode: the mirror pulls with MIRROR_USERNAME/PASSWORD through the V1 token flow; without them, 502', async () => {
  const upstream = await sups.start({ REGISTRY_WORKERS: '1', REGISTRY_AUTH: 'token', REGISTRY_TOKEN_SECRET: 'e2e-mirror-secret', REGISTRY_ANONYMOUS_READ: 'false' });
  const admin = Bun.spawn([process.execPath, 'run', 'admin', 'user', 'add', 'alice', '--password', 'alice-pw'], {
    cwd: ROOT,
    env: { ...process.env, STORAGE_PATH: join(upstream.dir, 'data'), REGISTRY_DB: '', REGISTRY_CONFIG: '' },
    stdout: 'ignore',
    stderr: 'pipe',
  });
  expect(await admin.exited).toBe(0);
  const basic = `Basic ${btoa('alice:alice-pw')}`;
  const images = chain(200_000, 600_000);
  await push(upstream.url, 'alice/app', images, basic);
  const proxy = startRecordingProxy(upstream.url);
  try {
    const mirror = await sups.start({ REGISTRY_WORKERS: '1', MIRROR_SOURCE: proxy.url, MIRROR_USERNAME: 'alice', MIRROR_PASSWORD: 'alice-pw' });
    expectSame(await pull(mirror.url, 'alice/app'), images);
    // the registry calls went with the token the index handed out
    for (const image of images) expect(proxy.log).toContain(`GET /v1/images/${image.id}/layer Token`);
    expect(proxy.log).toContain('GET /v1/repositories/alice/app/images Basic');
    const anonymous = await sups.start({ REGISTRY_WORKERS: '1', MIRROR_SOURCE: proxy.url });
    await expectJsonError(await fetch(`${anonymous.url}/v1/repositories/alice/app/tags`), 502);
    await expectJsonError(await fetch(`${anonymous.url}/v1/images/${images[0]!.id}/json`), 502);
  } finally {
    await proxy.stop();
  }
}, 60_000);
