/**
 * Scale-out, end to end: N stateless registry nodes (each a real `bun run start` supervisor with
 * two workers, on its own port and its own STORAGE_PATH) over ONE PostgreSQL database and ONE S3
 * bucket (fauxqs, in this process) behave exactly like one node:
 * - the push/pull suite (push-pull.suite.ts), pushing through node A and pulling through node B,
 *   with layers streamed through the node and with 302s to presigned URLs;
 * - every read is fresh across nodes (tags, retags, deletes; image metadata byte-identical);
 * - concurrent pushes through both nodes, of different images and of the same image, and the
 *   two interleavings behind the same-image race made deterministic (a PUT json landing while
 *   the other client's layer upload, or its checksum verification, is in flight);
 * - a node SIGKILLed (master and workers) in the middle of a layer upload leaves nothing visible,
 *   and the other node completes the retried push;
 * - the other V1 reads (search, repository json, index images) agree across nodes.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { S3Client } from 'bun';
import { tarsum } from '../../src/checksum/tarsum.ts';
import { startPostgres, type TestPostgres } from '../../dev/postgres.ts';
import { recordingProxy, startFauxqs, type RecordingProxy, type S3TestServer } from '../../dev/s3.ts';
import { buildTar } from '../helpers/tar.ts';
import { startRegistry, type StartedRegistry, type StartOptions } from '../helpers/server.ts';
import { client, expectImage, hex, imageJson, payload, pushSteps, randomBytes, stallingBody } from '../helpers/v1-push.ts';
import { runPushPullSuite, type PushPullTarget } from './push-pull.suite.ts';

const MiB = 1024 * 1024;

let pg: TestPostgres;
let s3: S3TestServer;
beforeAll(async () => {
  [pg, s3] = await Promise.all([startPostgres(), startFauxqs()]);
});
afterAll(async () => {
  await Promise.all([pg?.stop(), s3?.stop()]);
});

interface Shared {
  /** a fresh, migrated PostgreSQL database */
  db: string;
  /** a fresh, empty bucket */
  bucket: string;
}

async function freshStores(): Promise<Shared> {
  const [db, bucket] = await Promise.all([pg.newDatabase(), s3.newBucket()]);
  return { db, bucket };
}

/** The settings every node of a cluster shares: the database, the bucket, the redirect switch. */
function nodeEnv(shared: Shared, redirect: boolean, extra: Record<string, string> = {}): Record<string, string> {
  return {
    REGISTRY_DB: shared.db,
    STORAGE: 's3',
    S3_ENDPOINT: s3.endpoint,
    S3_BUCKET: shared.bucket,
    S3_REGION: s3.region,
    S3_ACCESS_KEY_ID: s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
    S3_PATH_STYLE: 'true',
    STORAGE_REDIRECT: String(redirect),
    REGISTRY_WORKERS: '2',
    REGISTRY_ACCESSLOG: 'off',
    ...extra,
  };
}

/** Starts nodes in parallel; if one fails, the others are stopped before the error surfaces. */
async function startNodes(envs: Record<string, string>[], options: StartOptions[] = []): Promise<StartedRegistry[]> {
  const settled = await Promise.allSettled(envs.map((env, i) => startRegistry(env, options[i])));
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(settled.map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
    throw failed.reason;
  }
  return settled.map((s) => (s as PromiseFulfilledResult<StartedRegistry>).value);
}

const bucketClient = (bucket: string) =>
  new S3Client({
    endpoint: s3.endpoint,
    bucket,
    region: s3.region,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
  });

/** Every object under `prefix` in the bucket, read from S3 itself (not through a node). */
async function objectsUnder(bucket: string, prefix: string): Promise<{ key: string; size: number }[]> {
  const c = bucketClient(bucket);
  const out: { key: string; size: number }[] = [];
  let token: string | undefined;
  do {
    const page = await c.list({ prefix, ...(token !== undefined && { continuationToken: token }) });
    for (const o of page.contents ?? []) out.push({ key: o.key, size: o.size ?? -1 });
    token = page.isTruncated ? page.nextContinuationToken : undefined;
  } while (token);
  return out;
}

/** The suite's storage hook for S3: one object `images/<id>/layer-<16 hex>` in the bucket. */
async function storedLayerIn(bucket: string, id: string): Promise<number | null> {
  const objects = await objectsUnder(bucket, `images/${id}/`);
  if (objects.length === 0) return null;
  expect(objects.map((o) => o.key)).toEqual([expect.stringMatching(new RegExp(`^images/${id}/layer-[0-9a-f]{16}$`))]);
  return objects[0]!.size;
}

/** Two nodes over a fresh database and bucket: pushes go to A, pulls to B. */
function twoNodes(redirect: boolean) {
  return async (extra: Record<string, string> = {}): Promise<PushPullTarget> => {
    const shared = await freshStores();
    const [a, b] = await startNodes([nodeEnv(shared, redirect, extra), nodeEnv(shared, redirect, extra)]);
    return {
      pushUrl: a!.url,
      pullUrl: b!.url,
      layerDelivery: redirect ? 'redirect' : 'stream',
      storedLayer: (id) => storedLayerIn(shared.bucket, id),
      stop: async () => {
        await Promise.all([a!.stop(), b!.stop()]);
      },
    };
  };
}

runPushPullSuite('two nodes, PostgreSQL + S3, layers streamed through the node (push A, pull B)', twoNodes(false));
runPushPullSuite('two nodes, PostgreSQL + S3, layers redirected to presigned URLs (push A, pull B)', twoNodes(true));

// ---- beyond the suite -------------------------------------------------------------------------

/** A request on a new connection, so that repeated reads land on either worker of the node. */
const fresh = (base: string, path: string, init: RequestInit = {}) => fetch(`${base}${path}`, { keepalive: false, ...init });

/** Status and decoded body of `n` reads of `path`, each on its own connection. */
async function readsOf(base: string, path: string, n = 6): Promise<{ status: number; body: unknown }[]> {
  const out: { status: number; body: unknown }[] = [];
  for (let i = 0; i < n; i++) {
    const r = await fresh(base, path);
    out.push({ status: r.status, body: await r.json() });
  }
  return out;
}

/** `n` times the same answer. */
const times = (n: number, status: number, body: unknown) => Array.from({ length: n }, () => ({ status, body }));

/** Pushes a complete image through `base` and checks each step answered 200. */
async function pushOk(base: string, id: string, json: string, layer: Uint8Array): Promise<void> {
  const call = client(base);
  for (const [path, init] of pushSteps(id, json, layer)) {
    const r = await call('PUT', path, init);
    const text = await r.text();
    expect(`${path} ${r.status} ${text}`).toBe(`${path} 200 true`);
  }
}

describe('two nodes over one PostgreSQL database and one S3 bucket', () => {
  let shared: Shared;
  let a: StartedRegistry;
  let b: StartedRegistry;
  /** A reaches S3 through this proxy, so that a test can see and hold A's storage requests */
  let proxyA: RecordingProxy;
  beforeAll(async () => {
    shared = await freshStores();
    proxyA = recordingProxy(s3.endpoint);
    [a, b] = (await startNodes([nodeEnv(shared, false, { S3_ENDPOINT: proxyA.endpoint }), nodeEnv(shared, false)])) as [
      StartedRegistry,
      StartedRegistry,
    ];
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    proxyA?.stop();
  });

  test('reads are fresh across nodes: tags, retags, repository deletes, image metadata', async () => {
    const repo = `fresh${hex(8)}/app`;
    const [one, two] = [hex(64), hex(64)];
    const [jsonOne, jsonTwo] = [imageJson(one), JSON.stringify({ id: two, parent: one, os: 'linux' })];
    const [layerOne, layerTwo] = [randomBytes(70_000), randomBytes(90_000)];
    await pushOk(a.url, one, jsonOne, layerOne);
    // the parent was pushed through A, its child through B: B must see A's image at once
    await pushOk(b.url, two, jsonTwo, layerTwo);

    // a tag written through A is read through B at once (every worker of B)
    let r = await client(a.url)('PUT', `/v1/repositories/${repo}/tags/latest`, { body: JSON.stringify(one) });
    expect(r.status).toBe(200);
    expect(await readsOf(b.url, `/v1/repositories/${repo}/tags/latest`)).toEqual(times(6, 200, one));
    // warm whatever A keeps: its own reads of the tag and of the tag list
    expect(await readsOf(a.url, `/v1/repositories/${repo}/tags/latest`)).toEqual(times(6, 200, one));
    expect(await readsOf(a.url, `/v1/repositories/${repo}/tags`)).toEqual(times(6, 200, { latest: one }));

    // retag through B: A answers the new id on the very next request, on every worker
    r = await client(b.url)('PUT', `/v1/repositories/${repo}/tags/latest`, { body: JSON.stringify(two) });
    expect(r.status).toBe(200);
    expect(await readsOf(a.url, `/v1/repositories/${repo}/tags/latest`)).toEqual(times(6, 200, two));
    expect(await readsOf(a.url, `/v1/repositories/${repo}/tags`)).toEqual(times(6, 200, { latest: two }));
    // the tag's metadata (repository json) moved with it, and agrees on both nodes
    const [jsonViaA, jsonViaB] = await Promise.all([readsOf(a.url, `/v1/repositories/${repo}/json`, 1), readsOf(b.url, `/v1/repositories/${repo}/json`, 1)]);
    expect(jsonViaA[0]!.status).toBe(200);
    expect(jsonViaA).toEqual(jsonViaB);

    // image json and ancestry: byte-identical through both nodes, with the same headers
    for (const path of [`/v1/images/${two}/json`, `/v1/images/${two}/ancestry`, `/v1/images/${one}/json`]) {
      const [ra, rb] = await Promise.all([fresh(a.url, path), fresh(b.url, path)]);
      expect([ra.status, rb.status]).toEqual([200, 200]);
      const [ta, tb] = [new Uint8Array(await ra.arrayBuffer()), new Uint8Array(await rb.arrayBuffer())];
      expect(Buffer.compare(ta, tb)).toBe(0);
      for (const h of ['content-type', 'last-modified', 'x-docker-size', 'x-docker-checksum-payload']) {
        expect(`${h}: ${ra.headers.get(h)}`).toBe(`${h}: ${rb.headers.get(h)}`);
      }
    }
    expect(await (await fresh(b.url, `/v1/images/${two}/json`)).text()).toBe(jsonTwo);
    expect(await (await fresh(a.url, `/v1/images/${two}/ancestry`)).json()).toEqual([two, one]);

    // delete the repository through A: B answers 404 right away (tags, a tag, the index list)
    r = await client(a.url)('DELETE', `/v1/repositories/${repo}/`);
    expect(r.status).toBe(200);
    for (const [path, error] of [
      [`/v1/repositories/${repo}/tags`, 'Repository not found'],
      [`/v1/repositories/${repo}/tags/latest`, 'Tag not found'],
    ] as const) {
      expect(await readsOf(b.url, path)).toEqual(times(6, 404, { error }));
      expect(await readsOf(a.url, path)).toEqual(times(6, 404, { error }));
    }
    // images outlive their repositories (V1 never deletes an image)
    await expectImage(b.url, one, jsonOne, layerOne);
  }, 60_000);

  test('8 different images pushed at once through both nodes: all complete, pullable through both', async () => {
    const repo = `many${hex(8)}/app`;
    const images = Array.from({ length: 8 }, (_, i) => {
      const id = hex(64);
      // two of them above one S3 part (5 MiB): multipart uploads, the rest single PUTs
      const size = i % 4 === 0 ? 6 * MiB + 123 : 64 * 1024 * (i + 1);
      return { id, json: imageJson(id), layer: randomBytes(size), node: i % 2 === 0 ? a.url : b.url, tag: `t${i}` };
    });
    const statuses: number[] = [];
    const call = async (base: string, method: string, path: string, body?: string) => {
      const r = await client(base)(method, path, { body });
      statuses.push(r.status);
      await r.arrayBuffer();
      return r.status;
    };
    await Promise.all(
      images.map(async (img) => {
        await pushOk(img.node, img.id, img.json, img.layer);
        // the same repository, from both nodes at once: created by whichever comes first
        expect(await call(img.node, 'PUT', `/v1/repositories/${repo}/images`, JSON.stringify([{ id: img.id, checksum: payload(img.json, img.layer) }]))).toBe(204);
        expect(await call(img.node, 'PUT', `/v1/repositories/${repo}/tags/${img.tag}`, JSON.stringify(img.id))).toBe(200);
      }),
    );
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    const expectedTags = Object.fromEntries(images.map((img) => [img.tag, img.id]));
    const expectedIndex = images.map((img) => img.id).sort();
    for (const base of [a.url, b.url]) {
      expect(await (await fresh(base, `/v1/repositories/${repo}/tags`)).json()).toEqual(expectedTags);
      // no concurrent index update was lost
      const index = (await (await fresh(base, `/v1/repositories/${repo}/images`)).json()) as { id: string; checksum: string }[];
      expect(index.map((i) => i.id).sort()).toEqual(expectedIndex);
      for (const img of images) expect(index.find((i) => i.id === img.id)?.checksum).toBe(payload(img.json, img.layer));
    }
    for (const img of images) {
      await expectImage(a.url, img.id, img.json, img.layer);
      await expectImage(b.url, img.id, img.json, img.layer);
      expect(await storedLayerIn(shared.bucket, img.id)).toBe(img.layer.byteLength);
    }
  }, 60_000);

  test('the same image pushed concurrently through A and B: exactly one consistent result', async () => {
    type Outcome = { won: boolean; statuses: string[] };
    /** A client that retries the whole push after a 400 (mismatch: the other one interfered) and gives up on a 409. */
    const contend = async (base: string, id: string, json: string, layer: Uint8Array): Promise<Outcome> => {
      const call = client(base);
      const statuses: string[] = [];
      const step = async (path: string, init: Parameters<typeof call>[2]) => {
        const r = await call('PUT', path, init);
        statuses.push(`${path.split('/').pop()} ${r.status}`);
        await r.arrayBuffer();
        return r.status;
      };
      for (let attempt = 0; attempt < 25; attempt++) {
        const steps = pushSteps(id, json, layer).map(([path, init]) => () => step(path, init));
        let status = 200;
        for (const s of steps) {
          status = await s();
          if (status !== 200) break;
        }
        if (status === 200) return { won: true, statuses };
        if (status === 409) return { won: false, statuses };
        await Bun.sleep(Math.random() * 20);
      }
      return { won: false, statuses };
    };

    const contested = Array.from({ length: 4 }, (_, i) => {
      const id = hex(64);
      const size = i === 0 ? 6 * MiB : 2 * MiB + i;
      // the two clients send different json (same id) and different layer bytes
      const sides = [a.url, b.url].map((node, n) => ({
        node,
        json: JSON.stringify({ id, created: `2026-11-27T00:00:0${n}Z`, comment: `pushed through node ${'AB'[n]}` }),
        layer: randomBytes(size),
      }));
      return { id, sides };
    });
    const outcomes = await Promise.all(
      contested.map(({ id, sides }) => Promise.all(sides.map((s) => contend(s.node, id, s.json, s.layer)))),
    );
    for (const [i, { id, sides }] of contested.entries()) {
      const results = outcomes[i]!;
      const all = results.flatMap((o) => o.statuses);
      // no 5xx anywhere; the loser only ever saw 400 (interference) or 409 (the other one won)
      expect(all.filter((s) => !/ (200|400|409)$/.test(s))).toEqual([]);
      // exactly one client completed the image (the exchange is shown when this fails)
      expect({ winners: results.filter((o) => o.won).length, exchange: results.map((o) => o.statuses) }).toMatchObject({ winners: 1 });
      const winner = sides[results.findIndex((o) => o.won)]!;
      // json, layer and checksum all come from the winner, identical through both nodes
      await expectImage(a.url, id, winner.json, winner.layer);
      await expectImage(b.url, id, winner.json, winner.layer);
      // the losing uploads were removed: one object left, the winner's
      expect(await storedLayerIn(shared.bucket, id)).toBe(winner.layer.byteLength);
    }
  }, 60_000);

  /**
   * Two clients racing on image `id`, A through node A and B through node B: `put` records every
   * answer as `<what> <status> <body>`; `theirsCompletes` finishes B's push (layer, checksum) and
   * checks that it went through, that no answer was a 5xx, and that both nodes serve B's image.
   */
  function race(id: string) {
    const viaA = client(a.url);
    const viaB = client(b.url);
    const statuses: string[] = [];
    const put = async (call: typeof viaA, what: string, init: Parameters<typeof viaA>[2]) => {
      const r = await call('PUT', `/v1/images/${id}/${what}`, init);
      statuses.push(`${what} ${r.status} ${await r.text()}`);
      return r.status;
    };
    const theirsCompletes = async (theirs: { json: string; layer: Uint8Array }) => {
      await put(viaB, 'layer', { body: theirs.layer });
      await put(viaB, 'checksum', { headers: { 'x-docker-checksum-payload': payload(theirs.json, theirs.layer) } });
      // (the whole exchange, in order, when this fails)
      expect({ last: statuses.slice(-2), history: statuses }).toMatchObject({ last: ['layer 200 true', 'checksum 200 true'] });
      expect(statuses.filter((s) => !/^\w+ (200|400|409) /.test(s))).toEqual([]);
      await expectImage(a.url, id, theirs.json, theirs.layer);
      await expectImage(b.url, id, theirs.json, theirs.layer);
    };
    return { viaA, viaB, put, theirsCompletes };
  }

  /**
   * Client A uploads its layer through node A while client B re-PUTs the same image's json (with
   * other content) through node B. A's layer was hashed with A's json, which is no longer the
   * image's: whatever A does next, the image must never complete as B's json with A's layer, and
   * B's own push must then go through.
   */
  test('a PUT json through B while A is uploading the layer: no image completes with a mixed json and layer', async () => {
    const id = hex(64);
    const mine = { json: JSON.stringify({ id, comment: 'client A' }), layer: randomBytes(8 * MiB) };
    const theirs = { json: JSON.stringify({ id, comment: 'client B' }), layer: randomBytes(MiB) };
    const { viaA, viaB, put, theirsCompletes } = race(id);
    expect(await put(viaA, 'json', { body: mine.json })).toBe(200);
    // A's upload is under way (a whole S3 part of it written) and then stalls
    const body = stallingBody(mine.layer, 6 * MiB);
    const partsBefore = proxyA.requests.length;
    const layerPut = put(viaA, 'layer', { body: body.stream });
    const deadline = Date.now() + 20_000;
    const writing = () => proxyA.requests.slice(partsBefore).some((q) => q.query.has('partNumber') && q.path.includes(`/images/${id}/`));
    while (!writing() && Date.now() < deadline) await Bun.sleep(20);
    expect(writing()).toBe(true);
    // B replaces the json meanwhile (allowed: the image is in progress)
    expect(await put(viaB, 'json', { body: theirs.json })).toBe(200);
    body.release();
    await layerPut;
    await put(viaA, 'checksum', { headers: { 'x-docker-checksum-payload': payload(mine.json, mine.layer) } });
    // B completes its push: nothing of A's may stand in the way (A never completed the image)
    await theirsCompletes(theirs);
  }, 60_000);

  /**
   * A PUT checksum that verifies the layer (here with a legacy tarsum, which reads the stored
   * layer back: node A's read is held at the S3 proxy) while client B re-PUTs the json through
   * node B. A's verdict is about a json and layer the image no longer has: it must not complete
   * the image as it is now (B's json, no layer).
   */
  test('a PUT json through B while A verifies its checksum: the image does not complete with what was not verified', async () => {
    const id = hex(64);
    const mine = {
      json: JSON.stringify({ id, comment: 'client A' }),
      layer: await buildTar([{ name: 'a.txt', body: 'from A\n' }, { name: 'blob', body: randomBytes(256 * 1024) }]),
    };
    const theirs = { json: JSON.stringify({ id, comment: 'client B' }), layer: randomBytes(MiB) };
    const { viaA, viaB, put, theirsCompletes } = race(id);
    expect(await put(viaA, 'json', { body: mine.json })).toBe(200);
    expect(await put(viaA, 'layer', { body: mine.layer })).toBe(200);
    const gate = proxyA.hold((method, url) => method === 'GET' && url.pathname.includes(`/images/${id}/`));
    try {
      // an old client: no payload checksum, the tarsum only
      const checksumPut = put(viaA, 'checksum', { headers: { 'x-docker-checksum': await tarsum(mine.json, mine.layer) } });
      const deadline = Date.now() + 20_000;
      while (gate.held() === 0 && Date.now() < deadline) await Bun.sleep(10);
      expect(gate.held()).toBe(1);
      expect(await put(viaB, 'json', { body: theirs.json })).toBe(200);
      gate.release();
      await checksumPut;
    } finally {
      gate.release();
    }
    await theirsCompletes(theirs);
  }, 60_000);

  test('other V1 reads agree across nodes: search, properties, index images, tag json, errors', async () => {
    const repo = `srch${hex(8)}/tool`;
    const id = hex(64);
    const json = imageJson(id);
    const layer = randomBytes(10_000);
    await pushOk(a.url, id, json, layer);
    let r = await client(a.url)('PUT', `/v1/repositories/${repo}/`, { body: JSON.stringify([{ id }]) });
    expect(r.status).toBe(200);
    r = await client(a.url)('PUT', `/v1/repositories/${repo}/tags/v1`, { body: JSON.stringify(id) });
    expect(r.status).toBe(200);
    // made private through A: B says so too
    r = await client(a.url)('PUT', `/v1/repositories/${repo}/properties`, { body: JSON.stringify({ access: 'private' }) });
    expect(r.status).toBe(200);
    expect(await (await fresh(b.url, `/v1/repositories/${repo}/properties`)).json()).toEqual({ access: 'private' });
    // search through B finds the repository created through A
    r = await fresh(b.url, `/v1/search?q=${encodeURIComponent(repo.slice(0, 10))}`);
    expect(await r.json()).toEqual({
      query: repo.slice(0, 10),
      num_results: 1,
      num_pages: 1,
      page: 1,
      page_size: 25,
      results: [{ name: repo, description: '' }],
    });
    for (const path of [
      `/v1/search?q=${encodeURIComponent(repo.slice(0, 10))}`,
      `/v1/repositories/${repo}/images`,
      `/v1/repositories/${repo}/tags`,
      `/v1/repositories/${repo}/tags/v1/json`,
      `/v1/repositories/${repo}/properties`,
      `/v1/repositories/${repo}/tags/nope`,
      `/v1/repositories/nope${hex(8)}/x/tags`,
      `/v1/images/${hex(64)}/json`,
    ]) {
      const [ra, rb] = await Promise.all([fresh(a.url, path), fresh(b.url, path)]);
      expect(`${path} ${rb.status} ${await rb.text()}`).toBe(`${path} ${ra.status} ${await ra.text()}`);
    }
  }, 60_000);
});

describe('a node killed in the middle of a layer upload', () => {
  test('SIGKILL of node A (master and workers) mid-upload: nothing visible through B, the retry through B completes', async () => {
    const shared = await freshStores();
    // A talks to S3 through a recording proxy: the test sees the parts it uploaded before dying
    const proxy = recordingProxy(s3.endpoint);
    let nodes: StartedRegistry[] = [];
    const layer = randomBytes(24 * MiB);
    // sends 8 MiB of the layer, then holds the request open until released
    const body = stallingBody(layer, 8 * MiB);
    try {
      nodes = await startNodes(
        [nodeEnv(shared, false, { S3_ENDPOINT: proxy.endpoint }), nodeEnv(shared, false)],
        [{ processGroup: true }, {}],
      );
      const [a, b] = nodes as [StartedRegistry, StartedRegistry];
      const id = hex(64);
      const json = imageJson(id);
      expect((await client(a.url)('PUT', `/v1/images/${id}/json`, { body: json })).status).toBe(200);
      const put = client(a.url)('PUT', `/v1/images/${id}/layer`, { body: body.stream }).then(
        (r) => `answered ${r.status}`,
        (e: unknown) => `failed: ${String(e)}`,
      );
      // A has streamed a whole part (5 MiB) of the layer into S3 when it dies
      const deadline = Date.now() + 20_000;
      const partUploaded = () => proxy.requests.some((q) => q.query.has('partNumber') && q.status === 200);
      while (!(body.sent() >= 8 * MiB && partUploaded()) && Date.now() < deadline) await Bun.sleep(20);
      expect(partUploaded()).toBe(true);
      a.killGroup('SIGKILL');
      expect(await a.proc.exited).not.toBe(0);
      expect(await put).toStartWith('failed:');
      body.release();
      // the multipart upload was never completed, and no object of the image is visible
      expect(proxy.requests.filter((q) => q.method === 'POST' && q.query.has('uploadId'))).toEqual([]);
      expect(await objectsUnder(shared.bucket, `images/${id}/`)).toEqual([]);

      // through B, the image is still in progress
      const viaB = client(b.url);
      let r = await viaB('GET', `/v1/images/${id}/json`);
      expect(r.status).toBe(400);
      expect(await r.json()).toEqual({ error: 'Image is being uploaded, retry later' });
      r = await viaB('GET', `/v1/images/${id}/layer`);
      expect(r.status).toBe(400);
      expect(await r.json()).toEqual({ error: 'Image is being uploaded, retry later' });
      r = await viaB('PUT', `/v1/images/${id}/checksum`, { headers: { 'x-docker-checksum-payload': payload(json, layer) } });
      expect(r.status).toBe(400);
      expect(await r.json()).toEqual({ error: 'Image layer not uploaded yet' });

      // the client retries the whole push through B: 200s, and a byte-exact pull through B
      await pushOk(b.url, id, json, layer);
      await expectImage(b.url, id, json, layer);
      expect(await storedLayerIn(shared.bucket, id)).toBe(layer.byteLength);
    } finally {
      body.release();
      await Promise.all(nodes.map((n) => n.stop()));
      proxy.stop();
    }
  }, 60_000);
});

describe('token auth across nodes (one token_secret, one PostgreSQL)', () => {
  test('an account made through A logs in through B; a token issued by A is honoured by B; private repositories stay private on both', async () => {
    const shared = await freshStores();
    const token = { REGISTRY_AUTH: 'token', REGISTRY_TOKEN_SECRET: `multi-node-${hex(16)}`, REGISTRY_WORKERS: '1' };
    const [a, b] = (await startNodes([nodeEnv(shared, false, token), nodeEnv(shared, false, token)])) as [StartedRegistry, StartedRegistry];
    try {
      const basic = `Basic ${btoa('alice:pw-alice')}`;
      const call = (base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string) =>
        fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json', ...headers }, body });
      let r = await call(a.url, 'POST', '/v1/users/', {}, JSON.stringify({ username: 'alice', password: 'pw-alice', email: 'a@example.com' }));
      expect(r.status).toBe(201);
      expect((await call(b.url, 'GET', '/v1/users/', { authorization: basic })).status).toBe(200);

      // the write token comes from A; every image write goes to B
      const id = hex(64);
      r = await call(a.url, 'PUT', '/v1/repositories/alice/app/', { authorization: basic, 'x-docker-token': 'true' }, JSON.stringify([{ id }]));
      expect(r.status).toBe(200);
      const write = r.headers.get('x-docker-token')!;
      expect(write).toStartWith('Token signature=');
      const json = imageJson(id);
      const layer = randomBytes(4096);
      expect((await call(b.url, 'PUT', `/v1/images/${id}/json`, { authorization: write }, json)).status).toBe(200);
      r = await fetch(`${b.url}/v1/images/${id}/layer`, { method: 'PUT', headers: { authorization: write }, body: layer });
      expect(r.status).toBe(200);
      r = await call(b.url, 'PUT', `/v1/images/${id}/checksum`, { authorization: write, 'x-docker-checksum-payload': payload(json, layer) });
      expect(r.status).toBe(200);
      expect((await call(b.url, 'PUT', '/v1/repositories/alice/app/tags/latest', { authorization: write }, JSON.stringify(id))).status).toBe(200);
      expect((await call(a.url, 'PUT', '/v1/repositories/alice/app/images', { authorization: basic }, JSON.stringify([{ id }]))).status).toBe(204);
      // a forged token fails on both nodes
      const forged = write.replace(/signature=[0-9a-f]{4}/, 'signature=0000');
      for (const n of [a, b]) expect((await call(n.url, 'PUT', `/v1/images/${id}/json`, { authorization: forged }, json)).status).toBe(401);

      // private through B: anonymous reads refused on A at once, the owner's read token from A works on B
      expect((await call(b.url, 'PUT', '/v1/repositories/alice/app/properties', { authorization: write }, JSON.stringify({ access: 'private' }))).status).toBe(200);
      r = await call(a.url, 'GET', '/v1/repositories/alice/app/tags');
      expect([401, 404]).toContain(r.status);
      r = await call(a.url, 'GET', '/v1/repositories/alice/app/images', { authorization: basic, 'x-docker-token': 'true' });
      expect(r.status).toBe(200);
      const read = r.headers.get('x-docker-token')!;
      r = await call(b.url, 'GET', '/v1/repositories/alice/app/tags', { authorization: read });
      expect(await r.json()).toEqual({ latest: id });
      r = await fetch(`${b.url}/v1/images/${id}/layer`, { headers: { authorization: read } });
      expect(Buffer.from(await r.arrayBuffer()).equals(Buffer.from(layer))).toBe(true);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  }, 60_000);
});
