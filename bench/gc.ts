/**
 * `bun bench/gc.ts`: garbage collection time and bytes freed for a store of BENCH_GC_IMAGES
 * images (1000), half V1 and half V2, sharing layers. The store is built in this process through
 * the real app (routes, services, the SQLite store in a file, fs storage in a temp dir) with
 * requests handed to its fetch handler, no sockets: pushing over HTTP would mostly measure the
 * push. V1 images are one shared base (BENCH_GC_BASES of them) plus a unique layer; V2 images a
 * config, two shared base layers and a unique layer; layers are BENCH_GC_LAYER_KIB (4) KiB. Then
 * 30 % of the V1 tags are deleted, 30 % of the V2 manifests deleted by digest and 10 % only
 * untagged (kept), and the collector runs with a grace of 0: a dry run, the run, and a second run
 * that finds nothing (the cost of a pass over a clean store). Prints a table, machine and Bun.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../src/app/app.ts';
import { createFetch } from '../src/app/fetch.ts';
import { loadConfig } from '../src/config/load.ts';
import { SqliteMetaStore } from '../src/db/sqlite/store.ts';
import { OCI_MANIFEST } from '../src/domain/manifest.ts';
import { GarbageCollector, type GcReport } from '../src/services/gc.ts';
import { createStorage, storageConfigOf } from '../src/storage/factory.ts';
import { envNumber } from './lib/env.ts';
import { loadAvg, machineInfo } from './lib/session.ts';

const IMAGES = envNumber('BENCH_GC_IMAGES', 1000, 10, 1_000_000);
const BASES = envNumber('BENCH_GC_BASES', 20, 2, 10_000);
const LAYER = envNumber('BENCH_GC_LAYER_KIB', 4, 1, 1024) * 1024;

const dir = mkdtempSync(join(tmpdir(), 'registry-bench-gc-'));
const config = loadConfig({ env: { STORAGE_PATH: dir, STORAGE: 'fs' } });
const meta = SqliteMetaStore.open(join(dir, 'registry.db'));
const storage = createStorage(storageConfigOf(config));
const fetch = createFetch(createApp({ config, meta, storage }));
const UA = 'docker/1.6.2 go/go1.4.2 kernel/3.13.0 os/linux arch/amd64';

async function req(method: string, path: string, body?: string | Uint8Array, headers: Record<string, string> = {}): Promise<Response> {
  const r = await fetch(new Request(`http://localhost${path}`, { method, body, headers: { 'user-agent': UA, ...headers } }));
  if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${await r.text()}`);
  await r.arrayBuffer();
  return r;
}
const hexOf = (b: Uint8Array | string) => new Bun.CryptoHasher('sha256').update(b).digest('hex');
/** Layer bytes: `seed` repeated up to the layer size (distinct seeds, distinct digests). */
const layer = (seed: string) => new TextEncoder().encode(seed.repeat(Math.ceil(LAYER / seed.length)).slice(0, LAYER));
const payload = (json: string, l: Uint8Array) => `sha256:${new Bun.CryptoHasher('sha256').update(json).update('\n').update(l).digest('hex')}`;

async function pushV1(id: string, parent: string | null, bytes: Uint8Array): Promise<void> {
  if ((await fetch(new Request(`http://localhost/v1/images/${id}/json`, { headers: { 'user-agent': UA } }))).status === 200) return;
  const json = JSON.stringify(parent ? { id, parent } : { id });
  await req('PUT', `/v1/images/${id}/json`, json, { 'content-type': 'application/json' });
  await req('PUT', `/v1/images/${id}/layer`, bytes);
  await req('PUT', `/v1/images/${id}/checksum`, undefined, { 'x-docker-checksum-payload': payload(json, bytes) });
}

async function pushBlob(repo: string, bytes: Uint8Array): Promise<string> {
  const digest = `sha256:${hexOf(bytes)}`;
  const head = await fetch(new Request(`http://localhost/v2/${repo}/blobs/${digest}`, { method: 'HEAD' }));
  if (head.status !== 200) await req('POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, bytes, { 'content-type': 'application/octet-stream' });
  return digest;
}

const started = performance.now();
const v1Tags: [string, string][] = [];
const v2Manifests: [string, string, string][] = [];
for (let i = 0; i < IMAGES; i++) {
  const base = i % BASES;
  if (i % 2 === 0) {
    const baseId = hexOf(`bench base ${base}`);
    await pushV1(baseId, null, layer(`v1 base ${base} `));
    const id = hexOf(`bench v1 ${i}`);
    await pushV1(id, baseId, layer(`v1 image ${i} `));
    const repo = `bench/v1-${i % 50}`;
    await req('PUT', `/v1/repositories/${repo}/tags/t${i}`, JSON.stringify(id));
    v1Tags.push([repo, `t${i}`]);
  } else {
    const repo = `bench/v2-${i % 50}`;
    const layers = [layer(`v2 base ${base} `), layer(`v2 base ${(base + 1) % BASES} `), layer(`v2 image ${i} `)];
    const config = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => `sha256:${hexOf(l)}`) }, i });
    const configDigest = await pushBlob(repo, new TextEncoder().encode(config));
    const descriptors = [];
    for (const l of layers) descriptors.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: await pushBlob(repo, l), size: l.byteLength });
    const manifest = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length }, layers: descriptors });
    await req('PUT', `/v2/${repo}/manifests/t${i}`, manifest, { 'content-type': OCI_MANIFEST });
    v2Manifests.push([repo, `t${i}`, `sha256:${hexOf(manifest)}`]);
  }
}
const built = performance.now() - started;
// the garbage: 30 % of the V1 tags; 30 % of the V2 manifests by digest, 10 % only untagged
let deleted = 0;
for (const [n, [repo, tag]] of v1Tags.entries()) if (n % 10 < 3 && ++deleted) await req('DELETE', `/v1/repositories/${repo}/tags/${tag}`);
for (const [n, [repo, tag, digest]] of v2Manifests.entries()) {
  if (n % 10 < 3 && ++deleted) await req('DELETE', `/v2/${repo}/manifests/${digest}`);
  else if (n % 10 === 3 && ++deleted) await req('DELETE', `/v2/${repo}/manifests/${tag}`);
}
await Bun.sleep(5);

async function timed(dryRun: boolean): Promise<{ ms: number; report: GcReport }> {
  const t = performance.now();
  const outcome = await new GarbageCollector(meta, storage).collect({ grace: 0, dryRun });
  if (!outcome.ran) throw new Error('lease held');
  return { ms: performance.now() - t, report: outcome.report };
}
const dry = await timed(true);
const run = await timed(false);
const clean = await timed(false);
if (dry.report.bytes !== run.report.bytes || dry.report.keys.length !== run.report.keys.length) throw new Error('the dry run and the run disagree');

const machine = machineInfo();
const row = (name: string, r: { ms: number; report: GcReport }) =>
  `| ${name} | ${r.ms.toFixed(0)} | ${r.report.images.length} | ${r.report.blobs.length} | ${r.report.keys.length} | ${(r.report.bytes / 1024 / 1024).toFixed(2)} MiB (${r.report.bytes} B) | ${r.report.kept.images} images, ${r.report.kept.blobs} blobs |`;
console.log(`machine: ${machine.nproc} × ${machine.cpu}, ${machine.memGiB} GiB; Linux ${machine.kernel}; Bun ${Bun.version}; load average ${loadAvg()}`);
console.log(`store: ${IMAGES} images (${v1Tags.length} V1 on ${BASES} shared bases, ${v2Manifests.length} V2 with 2 of ${BASES} shared base layers), ${LAYER / 1024} KiB layers, SQLite file + fs; built in ${(built / 1000).toFixed(1)} s through the app in process; ${deleted} tags/manifests deleted`);
console.log('');
console.log('| pass | ms | images deleted | blobs deleted | storage objects deleted | bytes freed | kept |');
console.log('|---|---|---|---|---|---|---|');
console.log(row('dry run', dry));
console.log(row('run', run));
console.log(row('second run (nothing left)', clean));
meta.close();
rmSync(dir, { recursive: true, force: true });
