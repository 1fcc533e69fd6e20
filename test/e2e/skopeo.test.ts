/**
 * Client compatibility with skopeo (containers/image, the library behind podman and buildah):
 * a real 3-layer image (dev/image-fixture.ts, built locally) is pushed with `skopeo copy` from each
 * of the three formats skopeo reads (`oci:` layout, `docker-archive:` tar, `dir:`), pulled back with
 * `skopeo copy docker://… dir:`, and compared byte for byte with the fixture: the manifest, the
 * config and every layer blob (bytes and digest). Also: `skopeo inspect` of a pushed image, a copy
 * between two repositories of the registry, and pushes converted with `--format v2s2` and
 * `--format oci`.
 *
 * `docker-archive:` holds uncompressed layers (as `docker save` writes them), so skopeo compresses
 * them on the way: their blobs cannot equal the fixture's gzip bytes. For that source the test
 * checks that every pulled layer decompresses to the fixture's tar (its diff id) and that the
 * config is byte-identical.
 *
 * Target: this registry by default, distribution 2.8 with REGISTRY_COMPAT_TARGET=distribution
 * (test/helpers/compat-target.ts), which must pass every test: that proves the harness.
 * Run alone: `bun test --timeout 600000 test/e2e/skopeo.test.ts`.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildImageFixture,
  DOCKER_CONFIG,
  DOCKER_LAYER_GZIP,
  DOCKER_MANIFEST,
  OCI_CONFIG,
  OCI_LAYER_GZIP,
  OCI_MANIFEST,
  sha256,
  type ImageFixture,
} from '../../dev/image-fixture.ts';
import { COMPAT_TARGET, startOpenTarget, type RunningTarget } from '../helpers/compat-target.ts';
import { skopeoRunner } from '../helpers/skopeo.ts';

const TIMEOUT = 120_000;

let fixture: ImageFixture;
let target: RunningTarget;
let tmp: string;
const source = { oci: '', archive: '', dir: '' };

beforeAll(async () => {
  const t0 = performance.now();
  tmp = mkdtempSync(join(tmpdir(), 'skopeo-compat-'));
  fixture = await buildImageFixture();
  fixture.writeOciLayout(join(tmp, 'src-oci'), 'v1');
  await fixture.writeDockerArchive(join(tmp, 'src-archive.tar'), 'fixture/app:v1');
  fixture.writeDir(join(tmp, 'src-dir'));
  source.oci = `oci:${join(tmp, 'src-oci')}:v1`;
  source.archive = `docker-archive:${join(tmp, 'src-archive.tar')}`;
  source.dir = `dir:${join(tmp, 'src-dir')}`;
  target = await startOpenTarget();
  console.log(`skopeo.test.ts: target ${COMPAT_TARGET}: ${target.describe}; ready in ${Math.round(performance.now() - t0)} ms`);
}, TIMEOUT);

afterAll(async () => {
  await target?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const { run: skopeo, ok } = skopeoRunner(() => tmp);

const ref = (repo: string, tag: string) => `docker://${target.host}/${repo}:${tag}`;

async function push(src: string, repo: string, tag: string, ...extra: string[]): Promise<void> {
  await ok('copy', '--dest-tls-verify=false', ...extra, src, ref(repo, tag));
}

interface Pulled {
  manifest: Uint8Array;
  manifestJson: { mediaType?: string; config: { digest: string; mediaType: string }; layers: { digest: string; size: number; mediaType: string }[] };
  /** blob digest → bytes */
  blobs: Map<string, Uint8Array>;
}

/** `skopeo copy docker://… dir:` into a fresh directory, read back. */
async function pull(repo: string, tag: string): Promise<Pulled> {
  const dir = mkdtempSync(join(tmp, 'pulled-'));
  await ok('copy', '--src-tls-verify=false', ref(repo, tag), `dir:${dir}`);
  const manifest = new Uint8Array(readFileSync(join(dir, 'manifest.json')));
  const blobs = new Map<string, Uint8Array>();
  for (const name of readdirSync(dir)) {
    if (/^[0-9a-f]{64}$/.test(name)) blobs.set(`sha256:${name}`, new Uint8Array(readFileSync(join(dir, name))));
  }
  return { manifest, manifestJson: JSON.parse(new TextDecoder().decode(manifest)), blobs };
}

/** Every blob the pulled manifest names was pulled, and its bytes hash to its name. */
function expectIntact(p: Pulled): void {
  const named = [p.manifestJson.config.digest, ...p.manifestJson.layers.map((l) => l.digest)];
  expect([...p.blobs.keys()].sort()).toEqual([...new Set(named)].sort());
  for (const [digest, bytes] of p.blobs) expect(sha256(bytes)).toBe(digest);
  for (const l of p.manifestJson.layers) expect(p.blobs.get(l.digest)!.length).toBe(l.size);
}

/** Every layer blob of the pulled image is the fixture's, bytes and digest. */
function expectFixtureLayers(p: Pulled): void {
  expectIntact(p);
  expect(p.manifestJson.layers.map((l) => l.digest)).toEqual(fixture.layers.map((l) => l.digest));
  for (const l of fixture.layers) expect(Buffer.from(p.blobs.get(l.digest)!).equals(Buffer.from(l.gz))).toBe(true);
}

/** The pulled image is the fixture's: config bytes, and every layer blob's bytes and digest. */
function expectFixtureBlobs(p: Pulled): void {
  expectFixtureLayers(p);
  expect(p.manifestJson.config.digest).toBe(fixture.configDigest);
  expect(Buffer.from(p.blobs.get(fixture.configDigest)!).equals(Buffer.from(fixture.config))).toBe(true);
}

describe(`skopeo ${COMPAT_TARGET === 'distribution' ? 'against distribution 2.8' : 'against the registry'}`, () => {
  test('oci: layout → registry → dir:: the manifest, config and layers come back byte-identical', async () => {
    await push(source.oci, 'compat/oci', 'v1');
    const p = await pull('compat/oci', 'v1');
    expect(p.manifestJson.mediaType).toBe(OCI_MANIFEST);
    expect(sha256(p.manifest)).toBe(fixture.ociManifestDigest);
    expect(Buffer.from(p.manifest).equals(Buffer.from(fixture.ociManifest))).toBe(true);
    expectFixtureBlobs(p);
  }, TIMEOUT);

  test('dir: (Docker schema 2) → registry → dir:: the manifest, config and layers come back byte-identical', async () => {
    await push(source.dir, 'compat/dir', 'v1');
    const p = await pull('compat/dir', 'v1');
    expect(p.manifestJson.mediaType).toBe(DOCKER_MANIFEST);
    expect(sha256(p.manifest)).toBe(fixture.dockerManifestDigest);
    expect(Buffer.from(p.manifest).equals(Buffer.from(fixture.dockerManifest))).toBe(true);
    expectFixtureBlobs(p);
  }, TIMEOUT);

  test('docker-archive: → registry → dir:: the config is byte-identical, every layer decompresses to the fixture tar', async () => {
    await push(source.archive, 'compat/archive', 'v1');
    const p = await pull('compat/archive', 'v1');
    expectIntact(p);
    expect(p.manifestJson.config.digest).toBe(fixture.configDigest);
    expect(Buffer.from(p.blobs.get(fixture.configDigest)!).equals(Buffer.from(fixture.config))).toBe(true);
    expect(p.manifestJson.layers).toHaveLength(fixture.layers.length);
    p.manifestJson.layers.forEach((l, i) => {
      const tar = Bun.gunzipSync(p.blobs.get(l.digest)! as Uint8Array<ArrayBuffer>);
      expect(sha256(tar)).toBe(fixture.layers[i]!.diffId);
      expect(Buffer.from(tar).equals(Buffer.from(fixture.layers[i]!.tar))).toBe(true);
    });
  }, TIMEOUT);

  test('skopeo inspect of a pushed image: digest, tag, platform, layers, env, and the raw config', async () => {
    await push(source.oci, 'compat/inspect', 'v1');
    const info = JSON.parse(await ok('inspect', '--tls-verify=false', ref('compat/inspect', 'v1')));
    expect(info.Digest).toBe(fixture.ociManifestDigest);
    expect(info.Name).toBe(`${target.host}/compat/inspect`);
    expect(info.RepoTags).toContain('v1');
    expect(info.Architecture).toBe('amd64');
    expect(info.Os).toBe('linux');
    expect(info.Layers).toEqual(fixture.layers.map((l) => l.digest));
    expect(info.Env).toEqual(fixture.configJson.config.Env);
    const raw = await ok('inspect', '--tls-verify=false', '--raw', ref('compat/inspect', 'v1'));
    expect(raw).toBe(new TextDecoder().decode(fixture.ociManifest));
    const config = await ok('inspect', '--tls-verify=false', '--config', '--raw', ref('compat/inspect', 'v1'));
    expect(config).toBe(new TextDecoder().decode(fixture.config));
  }, TIMEOUT);

  test('a copy between two repositories of the registry keeps the manifest digest and every blob', async () => {
    await push(source.oci, 'compat/copy-from', 'v1');
    await ok('copy', '--src-tls-verify=false', '--dest-tls-verify=false', ref('compat/copy-from', 'v1'), ref('compat/copy-to', 'v2'));
    const info = JSON.parse(await ok('inspect', '--tls-verify=false', ref('compat/copy-to', 'v2')));
    expect(info.Digest).toBe(fixture.ociManifestDigest);
    const p = await pull('compat/copy-to', 'v2');
    expect(Buffer.from(p.manifest).equals(Buffer.from(fixture.ociManifest))).toBe(true);
    expectFixtureBlobs(p);
  }, TIMEOUT);

  test('--format v2s2 (OCI source converted): a Docker schema 2 manifest over the same blobs', async () => {
    await push(source.oci, 'compat/format-v2s2', 'v1', '--format', 'v2s2');
    const p = await pull('compat/format-v2s2', 'v1');
    expect(p.manifestJson.mediaType).toBe(DOCKER_MANIFEST);
    expect(p.manifestJson.config.mediaType).toBe(DOCKER_CONFIG);
    expect(p.manifestJson.layers.every((l) => l.mediaType === DOCKER_LAYER_GZIP)).toBe(true);
    expectFixtureBlobs(p);
  }, TIMEOUT);

  test('--format oci (Docker schema 2 source converted): an OCI manifest over the same layers', async () => {
    await push(source.dir, 'compat/format-oci', 'v1', '--format', 'oci');
    const p = await pull('compat/format-oci', 'v1');
    expect(p.manifestJson.mediaType).toBe(OCI_MANIFEST);
    expect(p.manifestJson.layers.every((l) => l.mediaType === OCI_LAYER_GZIP)).toBe(true);
    // skopeo itself re-encodes the config as an OCI image config when it converts to OCI (its
    // digest changes before the push): the image it describes is the fixture's
    expectFixtureLayers(p);
    expect(p.manifestJson.config.mediaType).toBe(OCI_CONFIG);
    const config = JSON.parse(new TextDecoder().decode(p.blobs.get(p.manifestJson.config.digest)!));
    expect(config).toMatchObject({ architecture: 'amd64', os: 'linux', rootfs: fixture.configJson.rootfs });
    expect(config.config).toMatchObject({ Env: fixture.configJson.config.Env, Cmd: fixture.configJson.config.Cmd });
  }, TIMEOUT);

  test('a tag that was never pushed is an error for skopeo, not an empty image', async () => {
    const r = await skopeo('inspect', '--tls-verify=false', ref('compat/oci', 'no-such-tag'));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/manifest unknown|not found/i);
  }, TIMEOUT);
});
