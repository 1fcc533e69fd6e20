/**
 * Garbage collection on memory storage and SQLite, driven through the real app: what is kept
 * (a V1 chain sharing layers, V2 manifests, an index, a referrer, both directions of the bridge)
 * and what is swept (rows, bytes, a dangling upload, keys no row names), the grace period, the
 * dry run, and the lease.
 */
import { afterEach, describe, expect, test } from 'bun:test';
import { hex } from '../../dev/ids.ts';
import { OCI_INDEX, OCI_MANIFEST } from '../../src/domain/manifest.ts';
import { GarbageCollector, type GcReport } from '../../src/services/gc.ts';
import type { StorageDriver } from '../../src/storage/driver.ts';
import { makeApp, type TestApp } from '../helpers/app.ts';
import { upload } from '../helpers/layers.ts';
import { buildTar, gzip } from '../helpers/tar.ts';
import { imageManifest, pushBlob, putManifest, sha256 } from '../helpers/v2.ts';

let apps: TestApp[] = [];
afterEach(() => {
  for (const a of apps) a.close();
  apps = [];
});
const app = (gcGrace = 3600) => {
  const a = makeApp({ gc_grace: gcGrace });
  apps.push(a);
  return a;
};

/** Every object key in storage (walking the folders). */
async function allKeys(storage: StorageDriver, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const key of await storage.list(prefix).catch(() => [])) {
    if ((await storage.stat(key)).isDir) out.push(...(await allKeys(storage, key)));
    else out.push(key);
  }
  return out.sort();
}

/** The digest a blob key holds (`blobs/<alg>/<hex>-<n>`). */
const digestOfKey = (key: string) => key.replace(/^blobs\/(\w+)\/([a-f0-9]+)-[a-f0-9]{16}$/, '$1:$2');

async function v1Push(a: TestApp, repo: string, tag: string | null, chain: { id: string; parent: string | null; layer: Uint8Array | string }[]) {
  for (const i of chain) if (!(await a.meta.getImage(i.id))) await upload(a, i.id, i.parent, i.layer);
  if (tag) expect((await a.req('PUT', `/v1/repositories/${repo}/tags/${tag}`, { body: JSON.stringify(chain[chain.length - 1]!.id) })).status).toBe(200);
}

const gc = (a: TestApp, holder?: string) => new GarbageCollector(a.meta, a.storage, { holder });
async function run(a: TestApp, grace: number, dryRun = false): Promise<GcReport> {
  await Bun.sleep(3); // every row written so far is strictly older than the cut-off
  const outcome = await gc(a).collect({ grace, dryRun });
  if (!outcome.ran) throw new Error(`lease held by ${outcome.holder}`);
  return outcome.report;
}
const sorted = (r: GcReport) => ({ images: [...r.images].sort(), blobs: [...r.blobs].sort(), uploads: r.uploads, keys: [...r.keys].sort((x, y) => (x.key < y.key ? -1 : 1)), bytes: r.bytes });

describe('garbage collection', () => {
  test('keeps what tags and manifests reach (V1 chain, manifest, index, referrer), sweeps the rest: rows, bytes, upload, leftovers', async () => {
    const a = app();
    const [base, mid, topA, topB] = [hex(64), hex(64), hex(64), hex(64)];
    await v1Push(a, 'team/v1', 'a', [{ id: base, parent: null, layer: 'base layer' }, { id: mid, parent: base, layer: 'mid layer' }, { id: topA, parent: mid, layer: 'top a' }]);
    await v1Push(a, 'team/v1', 'b', [{ id: topB, parent: base, layer: 'top b, dropped' }]);
    expect((await a.req('DELETE', '/v1/repositories/team/v1/tags/b')).status).toBe(200);

    const name = 'team/v2';
    const m1 = await imageManifest(a, name, ['shared layer', 'layer two']);
    expect((await putManifest(a, name, 'one', m1)).status).toBe(201);
    const m2 = await imageManifest(a, name, ['shared layer', 'layer three']);
    expect((await putManifest(a, name, sha256(m2), m2)).status).toBe(201);
    const index = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [m1, m2].map((m) => ({ mediaType: OCI_MANIFEST, digest: sha256(m), size: m.length })) });
    expect((await putManifest(a, name, 'multi', index, OCI_INDEX)).status).toBe(201);
    const referrer = await imageManifest(a, name, ['signature'], { subject: { mediaType: OCI_MANIFEST, digest: sha256(m1), size: m1.length }, artifactType: 'application/x-sig' });
    expect((await putManifest(a, name, sha256(referrer), referrer)).status).toBe(201);
    const lonely = await pushBlob(a, name, 'pushed, never referenced');
    const m3 = await imageManifest(a, name, ['shared layer', 'only in m3']);
    expect((await putManifest(a, name, 'gone', m3)).status).toBe(201);
    // V2 tags are bridged to V1 images (naming the blobs' bytes): those of `gone` alone go with it
    const v1Of = async (tag: string) => {
      const id = ((await (await a.req('GET', `/v1/repositories/${name}/tags`)).json()) as Record<string, string>)[tag]!;
      return (await (await a.req('GET', `/v1/images/${id}/ancestry`)).json()) as string[];
    };
    const [keptChain, goneChain] = [await v1Of('one'), await v1Of('gone')];
    expect(goneChain.length).toBe(2);
    expect((await a.req('DELETE', `/v2/${name}/manifests/${sha256(m3)}`)).status).toBe(202);

    const dangling = await a.req('POST', `/v2/${name}/blobs/uploads/`);
    const location = dangling.headers.get('location')!;
    expect((await a.req('PATCH', location, { body: 'half an upload', headers: { 'content-type': 'application/octet-stream' } })).status).toBe(202);
    const orphanBlob = `blobs/sha256/${'e'.repeat(64)}-0123456789abcdef`;
    const orphanLayer = `images/${hex(64)}/layer-0123456789abcdef`;
    await a.storage.putContent(orphanBlob, 'left by a crash');
    await a.storage.putContent(orphanLayer, 'left too');

    const report = await run(a, 0);
    expect(report.images.sort()).toEqual([topB, ...goneChain.filter((id) => !keptChain.includes(id))].sort());
    expect(report.blobs.sort()).toEqual([lonely, sha256('only in m3')].sort());
    expect(report.uploads).toHaveLength(1);
    expect(report.orphans).toBe(2);
    expect(report.spared).toBe(0);
    const session = location.split('/').pop()!.split('?')[0]!;
    const freed = report.keys.map((k) => k.key);
    expect(freed).toHaveLength(6);
    expect(freed).toEqual(expect.arrayContaining([orphanBlob, orphanLayer, `uploads/${session}`]));
    expect(freed.filter((k) => k.startsWith(`images/${topB}/layer-`))).toHaveLength(1);
    expect(freed.filter((k) => k.startsWith('blobs/') && k !== orphanBlob).map(digestOfKey).sort()).toEqual([lonely, sha256('only in m3')].sort());
    expect(report.bytes).toBe(['top b, dropped', 'pushed, never referenced', 'only in m3', 'left by a crash', 'left too', 'half an upload'].reduce((n, s) => n + s.length, 0));

    // storage holds exactly what is reachable: the three V1 layers and the V2 blobs still referenced
    const keys = await allKeys(a.storage);
    expect(keys.filter((k) => k.startsWith('images/')).map((k) => k.split('/')[1]).sort()).toEqual([base, mid, topA].sort());
    for (const id of keptChain) expect(await a.meta.getImage(id)).not.toBeNull();
    const config = JSON.parse(m1).config.digest;
    const wanted = [config, ...['shared layer', 'layer two', 'layer three', 'signature'].map((l) => sha256(l))];
    expect(keys.filter((k) => k.startsWith('blobs/')).map(digestOfKey).sort()).toEqual([...new Set(wanted)].sort());
    expect(keys.filter((k) => k.startsWith('uploads/'))).toEqual([]);
    // and everything kept still pulls
    for (const ref of ['one', 'multi', sha256(m2), sha256(referrer)]) expect((await a.req('GET', `/v2/${name}/manifests/${ref}`)).status).toBe(200);
    for (const d of wanted) expect((await a.req('GET', `/v2/${name}/blobs/${d}`)).status).toBe(200);
    for (const id of [base, mid, topA]) expect((await a.req('GET', `/v1/images/${id}/layer`)).status).toBe(200);
    // a second run finds nothing
    expect(sorted(await run(a, 0))).toEqual({ images: [], blobs: [], uploads: [], keys: [], bytes: 0 });
  });

  test('the bridge, both ways: rows go with their tag, bytes stay while a kept row names them', async () => {
    const a = app();
    // V1 → V2: the V1 tag pulled through V2, then deleted; the derived manifest (untagged) keeps the layers
    const layers = [gzip(await buildTar([{ name: 'a', body: 'one' }])), gzip(await buildTar([{ name: 'b', body: 'two' }]))];
    const ids = [hex(64), hex(64)];
    await v1Push(a, 'team/bridge', 'v1', [{ id: ids[0]!, parent: null, layer: layers[0]! }, { id: ids[1]!, parent: ids[0]!, layer: layers[1]! }]);
    const derived = await (await a.req('GET', '/v2/team/bridge/manifests/v1')).text();
    expect((await a.req('DELETE', '/v1/repositories/team/bridge/tags/v1')).status).toBe(200);
    // V2 → V1: a tagged V2 image is written as V1 images naming the blobs' keys; the tag then moves on
    const m = JSON.parse(await imageManifest(a, 'team/api', [layers[0]!, gzip(await buildTar([{ name: 'c', body: 'three' }]))]));
    m.layers = m.layers.map((l: object) => ({ ...l, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }));
    expect((await putManifest(a, 'team/api', 'stable', JSON.stringify(m))).status).toBe(201);
    const v1Top = ((await (await a.req('GET', '/v1/repositories/team/api/tags')).json()) as Record<string, string>).stable!;
    const v1Chain = (await (await a.req('GET', `/v1/images/${v1Top}/ancestry`)).json()) as string[];
    expect(v1Chain).toHaveLength(2);
    const other = await imageManifest(a, 'team/api', ['not a tar']);
    expect((await putManifest(a, 'team/api', 'stable', other)).status).toBe(201);

    const report = await run(a, 0);
    // the V1 rows nothing tags any more went; no blob did, and no byte: kept manifests name them all
    expect(report.images.sort()).toEqual([...ids, ...v1Chain].sort());
    expect(report.blobs).toEqual([]);
    expect(report.keys).toEqual([]);
    for (const id of [...ids, ...v1Chain]) expect(await a.meta.getImage(id)).toBeNull();
    // both manifests still pull, byte for byte
    const dm = JSON.parse(derived);
    expect(await (await a.req('GET', `/v2/team/bridge/manifests/${sha256(derived)}`)).text()).toBe(derived);
    for (const [i, l] of dm.layers.entries()) expect(new Uint8Array(await (await a.req('GET', `/v2/team/bridge/blobs/${l.digest}`)).arrayBuffer())).toEqual(layers[i]!);
    for (const l of m.layers) expect((await a.req('GET', `/v2/team/api/blobs/${l.digest}`)).status).toBe(200);
    // the V1 layer keys stay (the derived manifest's blobs name them) until that manifest goes —
    // and the first layer's beyond: team/api pushed the same bytes, which linked the same blob
    const v1Keys = (await allKeys(a.storage)).filter((k) => k.startsWith('images/'));
    expect(v1Keys).toHaveLength(2);
    expect((await a.req('DELETE', `/v2/team/bridge/manifests/${sha256(derived)}`)).status).toBe(202);
    const second = await run(a, 0);
    const firstLayerKey = (await a.meta.getBlob(sha256(layers[0]!)))!.key;
    // the derived config went, and the second layer's bytes
    expect(second.blobs.sort()).toEqual([dm.config.digest, dm.layers[1].digest].sort());
    const freed = second.keys.map((k) => k.key);
    expect(freed.filter((k) => k.startsWith('images/'))).toEqual(v1Keys.filter((k) => k !== firstLayerKey));
    expect(freed.filter((k) => k.startsWith('blobs/')).map(digestOfKey)).toEqual([dm.config.digest]);
    expect((await allKeys(a.storage)).filter((k) => k.startsWith('images/'))).toEqual([firstLayerKey]);
  });

  test('the grace period: only what was last used before it goes; a touch (HEAD) makes old content young again', async () => {
    // the servers' grace: a check touches what it finds once per quarter of it
    const a = app(1);
    const old = await pushBlob(a, 'g/r', 'old garbage');
    const touched = await pushBlob(a, 'g/r', 'old, then HEAD');
    await Bun.sleep(1100);
    const young = await pushBlob(a, 'g/r', 'young garbage');
    expect((await a.req('HEAD', `/v2/g/r/blobs/${touched}`)).status).toBe(200);
    let report = await run(a, 1);
    expect(report.blobs).toEqual([old]);
    // a push that relied on the HEAD completes
    const manifest = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: touched, size: 14 }, layers: [] });
    expect((await putManifest(a, 'g/r', 'ok', manifest)).status).toBe(201);
    expect((await run(a, 3600)).blobs).toEqual([]);
    await Bun.sleep(1100);
    report = await run(a, 1);
    expect(report.blobs).toEqual([young]);
  });

  test('a monolithic push of stored bytes: spared by its touch while the body streams, or refused (never linked) when collected meanwhile', async () => {
    const a = app(1);
    const bytes = new TextEncoder().encode('stored, unreferenced, pushed again');
    const digest = await pushBlob(a, 'g/r', bytes);
    await Bun.sleep(1100);
    /** POST ?digest= whose body waits for `during` to finish before its last byte. */
    const pushDuring = async (during: () => Promise<unknown>) => {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(bytes.slice(0, 10));
          await gate;
          controller.enqueue(bytes.slice(10));
          controller.close();
        },
      });
      const push = a.req('POST', `/v2/g/r/blobs/uploads/?digest=${digest}`, { body, headers: { 'content-type': 'application/octet-stream' } });
      await Bun.sleep(50);
      await during();
      release();
      return push;
    };
    // a collection within the grace of the push's touch keeps the blob; the push links it
    let r = await pushDuring(async () => expect((await run(a, 1)).blobs).toEqual([]));
    expect(r.status).toBe(201);
    expect(new Uint8Array(await (await a.req('GET', `/v2/g/r/blobs/${digest}`)).arrayBuffer())).toEqual(bytes);
    // the body streamed for longer than the touch protects (a collection with no grace): the
    // bytes are gone, so the push is refused with a 4xx, not linked to nothing
    expect((await a.req('DELETE', `/v2/g/r/blobs/${digest}`)).status).toBe(202);
    await Bun.sleep(1100);
    r = await pushDuring(async () => expect((await run(a, 0)).blobs).toEqual([digest]));
    const text = await r.text();
    expect(`${r.status} ${text}`).toStartWith('400 ');
    expect(text).toContain('BLOB_UPLOAD_INVALID');
    expect((await a.req('HEAD', `/v2/g/r/blobs/${digest}`)).status).toBe(404);
    // pushed again, it is stored anew
    await pushBlob(a, 'g/r', bytes);
    expect(new Uint8Array(await (await a.req('GET', `/v2/g/r/blobs/${digest}`)).arrayBuffer())).toEqual(bytes);
  });

  test('a dry run deletes nothing and reports exactly what the run after it deletes', async () => {
    const a = app();
    const [x, y] = [hex(64), hex(64)];
    await v1Push(a, 'd/r', 'x', [{ id: x, parent: null, layer: 'x layer' }, { id: y, parent: x, layer: 'y layer' }]);
    expect((await a.req('DELETE', '/v1/repositories/d/r/tags/x')).status).toBe(200);
    await pushBlob(a, 'd/r', 'lonely');
    await a.storage.putContent(`blobs/sha256/${'f'.repeat(64)}-0000000000000000`, 'leftover');
    await a.req('POST', '/v2/d/r/blobs/uploads/');
    const before = await allKeys(a.storage);
    const dry = await run(a, 0, true);
    expect(dry.dryRun).toBe(true);
    expect(await allKeys(a.storage)).toEqual(before);
    expect(await a.meta.getImage(x)).not.toBeNull();
    expect(dry.images).toEqual([y, x]);
    const real = await run(a, 0);
    expect(sorted(real)).toEqual(sorted(dry));
    expect(real.bytes).toBe('x layer'.length + 'y layer'.length + 'lonely'.length + 'leftover'.length);
    expect(await allKeys(a.storage)).toEqual([]);
  });

  test('one collector at a time: the lease holder runs, the other is told who holds it', async () => {
    const a = app();
    await pushBlob(a, 'l/r', 'garbage');
    expect((await a.meta.acquireLease('gc', 'someone-else', 60_000)).held).toBe(true);
    const refused = await gc(a, 'me').collect({ grace: 0 });
    expect(refused).toMatchObject({ ran: false, holder: 'someone-else' });
    expect(await a.meta.getBlob(sha256('garbage'))).not.toBeNull();
    // a dry run needs no lease
    expect((await gc(a, 'me').collect({ grace: 0, dryRun: true })).ran).toBe(true);
    await a.meta.releaseLease('gc', 'someone-else');
    await Bun.sleep(3);
    const both = await Promise.all([gc(a, 'one').collect({ grace: 0 }), gc(a, 'two').collect({ grace: 0 })]);
    expect(both.filter((o) => o.ran)).toHaveLength(1);
    expect(both.find((o) => !o.ran)).toMatchObject({ holder: expect.stringMatching(/^(one|two)$/) });
    // released after the run
    expect((await a.meta.acquireLease('gc', 'later', 1000)).held).toBe(true);
    await a.meta.releaseLease('gc', 'later');
    // a stopped run (its signal aborted) deletes nothing more, says so, and frees the lease
    await pushBlob(a, 'l/r', 'more garbage');
    await Bun.sleep(3);
    const stopped = await gc(a, 'stopping').collect({ grace: 0, signal: AbortSignal.abort() });
    expect(stopped).toMatchObject({ ran: true, report: { aborted: true, blobs: [], keys: [] } });
    expect(await a.meta.getBlob(sha256('more garbage'))).not.toBeNull();
    expect((await a.meta.acquireLease('gc', 'after', 1000)).held).toBe(true);
  });
});
