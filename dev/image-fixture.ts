/**
 * A real multi-layer container image built locally (no network), for client-compatibility tests
 * (test/e2e/skopeo.test.ts) and benchmarks:
 *  - three gzip-compressed tar layers (tar-stream's pack, Bun's gzip) with directories, regular
 *    and executable files, a symlink, a file overwritten by a later layer, and a file deleted by
 *    the last layer through an OCI/AUFS whiteout (`tmp/.wh.scratch.txt`);
 *  - an image config (architecture amd64, os linux, config.Env/Cmd/WorkingDir/Labels,
 *    rootfs.diff_ids = sha256 of each uncompressed tar, one history entry per layer);
 *  - an OCI image manifest and a Docker schema 2 manifest over the same blobs.
 * Written in three formats skopeo reads:
 *  - `writeOciLayout(dir, tag)`: an OCI image layout (`oci:<dir>:<tag>`), OCI manifest;
 *  - `writeMultiPlatformOciLayout(dir, tag)`: an OCI image layout whose tag names an image index
 *    of two platforms (linux/amd64: the fixture's manifest; linux/arm64: the same layers under a
 *    config that says arm64), for `skopeo copy --all`;
 *  - `writeDockerArchive(file, repoTag)`: `docker save` format (`docker-archive:<file>`):
 *    manifest.json, `<config hex>.json`, `<diff id hex>/layer.tar` uncompressed, `repositories`;
 *  - `writeDir(dir)`: skopeo's `dir:` format (version 1.1), Docker schema 2 manifest, blobs
 *    named by their hex digest.
 * Content is deterministic (a seeded generator fills the binary files, mtimes are fixed), so the
 * digests are the same on every build.
 *
 * `buildImageFixture({ bulk: { layers, mib, seed } })` builds a bigger image of the same shape for
 * benchmarks instead (bench/compare.ts): `layers` layers, each one file of `mib` MiB of
 * incompressible data from the seed (another seed, other digests), gzip level 1.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildTar } from './tar.ts';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

interface FixtureLayer {
  /** the uncompressed tar */
  tar: Uint8Array;
  /** the gzip-compressed tar: the blob */
  gz: Uint8Array;
  /** sha256 of `tar` (`sha256:…`), the config's rootfs.diff_ids entry */
  diffId: string;
  /** sha256 of `gz` (`sha256:…`), the blob digest */
  digest: string;
  /** what the layer does, as in the config's history */
  createdBy: string;
}

export interface ImageFixture {
  layers: FixtureLayer[];
  config: Uint8Array;
  configDigest: string;
  /** the parsed config, for assertions */
  configJson: { architecture: string; os: string; config: { Env: string[]; Cmd: string[] }; rootfs: { diff_ids: string[] } };
  ociManifest: Uint8Array;
  ociManifestDigest: string;
  dockerManifest: Uint8Array;
  dockerManifestDigest: string;
  writeOciLayout(dir: string, tag: string): void;
  /** the index `writeMultiPlatformOciLayout` writes, and its digest */
  multiPlatformIndex: Uint8Array;
  multiPlatformIndexDigest: string;
  writeMultiPlatformOciLayout(dir: string, tag: string): void;
  writeDockerArchive(file: string, repoTag: string): Promise<void>;
  writeDir(dir: string): void;
}

const MTIME = new Date('2026-01-01T00:00:00Z');
const encoder = new TextEncoder();

export const sha256 = (bytes: Uint8Array | string): string => `sha256:${new Bun.CryptoHasher('sha256').update(bytes).digest('hex')}`;
const hexOf = (digest: string): string => digest.slice('sha256:'.length);

/** `size` bytes from a xorshift32 generator seeded with `seed`: incompressible, reproducible. */
function pseudoRandom(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    for (let j = 0; j < 4 && i + j < size; j++) out[i + j] = (x >>> (8 * j)) & 0xff;
  }
  return out;
}

type Entry = { name: string; type?: 'file' | 'directory' | 'symlink'; mode?: number; body?: string | Uint8Array; linkname?: string };

/** A tar of `entries`, root-owned, at the fixture's fixed mtime. */
function tarOf(entries: Entry[]): Promise<Uint8Array> {
  const mtime = MTIME.getTime() / 1000;
  return buildTar(entries.map((e) => ({ ...e, uname: 'root', gname: 'root', mtime })));
}

const LAYER_ENTRIES: { createdBy: string; entries: Entry[] }[] = [
  {
    createdBy: '/bin/sh -c #(nop) ADD base: etc, usr/bin/tool (+ symlink), tmp/scratch.txt',
    entries: [
      { name: 'etc/', type: 'directory' },
      { name: 'etc/os-release', body: 'NAME="Fixture Linux"\nID=fixture\nVERSION_ID=1\n' },
      { name: 'etc/hello.txt', body: 'hello from layer 1\n' },
      { name: 'usr/', type: 'directory' },
      { name: 'usr/bin/', type: 'directory' },
      { name: 'usr/bin/tool', mode: 0o755, body: pseudoRandom(300 * 1024, 1) },
      { name: 'usr/bin/tool-link', type: 'symlink', linkname: 'tool' },
      { name: 'tmp/', type: 'directory', mode: 0o1777 },
      { name: 'tmp/scratch.txt', body: 'deleted by layer 3\n' },
    ],
  },
  {
    createdBy: '/bin/sh -c echo changed > /etc/hello.txt && write /var/lib/fixture/data.bin',
    entries: [
      { name: 'etc/', type: 'directory' },
      { name: 'etc/hello.txt', body: 'hello from layer 2 (overwrites layer 1)\n' },
      { name: 'var/', type: 'directory' },
      { name: 'var/lib/', type: 'directory' },
      { name: 'var/lib/fixture/', type: 'directory' },
      { name: 'var/lib/fixture/data.bin', body: pseudoRandom(1024 * 1024 + 123, 2) },
    ],
  },
  {
    createdBy: '/bin/sh -c rm /tmp/scratch.txt && echo welcome > /etc/motd',
    entries: [
      { name: 'etc/', type: 'directory' },
      { name: 'etc/motd', body: 'welcome to the fixture image\n' },
      { name: 'tmp/', type: 'directory', mode: 0o1777 },
      // the whiteout: an empty file named .wh.<name> deletes <name> from the layers below
      { name: 'tmp/.wh.scratch.txt', body: '' },
    ],
  },
];

/** `layers` layers of one `mib` MiB file each, incompressible, from `seed`. */
function bulkEntries(layers: number, mib: number, seed: number): { createdBy: string; entries: Entry[] }[] {
  return Array.from({ length: layers }, (_, i) => ({
    createdBy: `/bin/sh -c write /data/blob-${i + 1}.bin (${mib} MiB)`,
    entries: [
      { name: 'data/', type: 'directory' as const },
      { name: `data/blob-${i + 1}.bin`, body: pseudoRandom(mib * 1024 * 1024, seed * 1000 + i + 1) },
    ],
  }));
}

export interface FixtureOptions {
  /** a benchmark image instead of the compatibility one: `layers` × `mib` MiB, random from `seed` */
  bulk?: { layers: number; mib: number; seed: number };
}

/** Builds the fixture image (about 1.4 MiB of layers; with `bulk`, the benchmark image). */
export async function buildImageFixture(o: FixtureOptions = {}): Promise<ImageFixture> {
  const layers: FixtureLayer[] = [];
  const specs = o.bulk ? bulkEntries(o.bulk.layers, o.bulk.mib, o.bulk.seed) : LAYER_ENTRIES;
  for (const { createdBy, entries } of specs) {
    const tar = await tarOf(entries);
    // random data does not compress: level 1 gives the same size as 6, several times faster
    const gz = Bun.gzipSync(tar as Uint8Array<ArrayBuffer>, { level: o.bulk ? 1 : 6 });
    layers.push({ tar, gz, diffId: sha256(tar), digest: sha256(gz), createdBy });
  }
  const configJson = {
    created: MTIME.toISOString(),
    architecture: 'amd64',
    os: 'linux',
    config: {
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'FIXTURE=registry-compat'],
      Cmd: ['/usr/bin/tool', '--serve'],
      WorkingDir: '/var/lib/fixture',
      Labels: { 'org.opencontainers.image.title': 'registry compatibility fixture' },
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((l) => ({ created: MTIME.toISOString(), created_by: l.createdBy })),
  };
  const config = encoder.encode(JSON.stringify(configJson));
  const configDigest = sha256(config);
  const manifest = (mediaType: string, configType: string, layerType: string) =>
    encoder.encode(
      JSON.stringify(
        {
          schemaVersion: 2,
          mediaType,
          config: { mediaType: configType, digest: configDigest, size: config.length },
          layers: layers.map((l) => ({ mediaType: layerType, digest: l.digest, size: l.gz.length })),
        },
        null,
        3,
      ),
    );
  const ociManifest = manifest(OCI_MANIFEST, OCI_CONFIG, OCI_LAYER_GZIP);
  const dockerManifest = manifest(DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER_GZIP);
  const ociManifestDigest = sha256(ociManifest);
  // the arm64 variant: the same layers, a config that names another architecture
  const armConfig = encoder.encode(JSON.stringify({ ...configJson, architecture: 'arm64', variant: 'v8' }));
  const armConfigDigest = sha256(armConfig);
  const armManifest = encoder.encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: armConfigDigest, size: armConfig.length },
      layers: layers.map((l) => ({ mediaType: OCI_LAYER_GZIP, digest: l.digest, size: l.gz.length })),
    }),
  );
  const multiPlatformIndex = encoder.encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        { mediaType: OCI_MANIFEST, digest: ociManifestDigest, size: ociManifest.length, platform: { architecture: 'amd64', os: 'linux' } },
        { mediaType: OCI_MANIFEST, digest: sha256(armManifest), size: armManifest.length, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
      ],
    }),
  );
  const multiPlatformIndexDigest = sha256(multiPlatformIndex);

  return {
    layers,
    config,
    configDigest,
    configJson,
    ociManifest,
    ociManifestDigest,
    dockerManifest,
    dockerManifestDigest: sha256(dockerManifest),

    writeOciLayout(dir, tag) {
      const blobs = join(dir, 'blobs', 'sha256');
      mkdirSync(blobs, { recursive: true });
      writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
      for (const l of layers) writeFileSync(join(blobs, hexOf(l.digest)), l.gz);
      writeFileSync(join(blobs, hexOf(configDigest)), config);
      writeFileSync(join(blobs, hexOf(ociManifestDigest)), ociManifest);
      const index = {
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          { mediaType: OCI_MANIFEST, digest: ociManifestDigest, size: ociManifest.length, annotations: { 'org.opencontainers.image.ref.name': tag } },
        ],
      };
      writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
    },

    multiPlatformIndex,
    multiPlatformIndexDigest,

    writeMultiPlatformOciLayout(dir, tag) {
      const blobs = join(dir, 'blobs', 'sha256');
      mkdirSync(blobs, { recursive: true });
      writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
      for (const l of layers) writeFileSync(join(blobs, hexOf(l.digest)), l.gz);
      writeFileSync(join(blobs, hexOf(configDigest)), config);
      writeFileSync(join(blobs, hexOf(ociManifestDigest)), ociManifest);
      writeFileSync(join(blobs, hexOf(armConfigDigest)), armConfig);
      writeFileSync(join(blobs, hexOf(sha256(armManifest))), armManifest);
      writeFileSync(join(blobs, hexOf(multiPlatformIndexDigest)), multiPlatformIndex);
      const index = {
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [
          { mediaType: OCI_INDEX, digest: multiPlatformIndexDigest, size: multiPlatformIndex.length, annotations: { 'org.opencontainers.image.ref.name': tag } },
        ],
      };
      writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
    },

    async writeDockerArchive(file, repoTag) {
      const [repo, tag] = [repoTag.slice(0, repoTag.lastIndexOf(':')), repoTag.slice(repoTag.lastIndexOf(':') + 1)];
      const top = hexOf(layers.at(-1)!.diffId);
      const entries: Entry[] = [
        { name: `${hexOf(configDigest)}.json`, body: config },
        ...layers.flatMap((l): Entry[] => [
          { name: `${hexOf(l.diffId)}/`, type: 'directory' },
          { name: `${hexOf(l.diffId)}/VERSION`, body: '1.0' },
          { name: `${hexOf(l.diffId)}/layer.tar`, body: l.tar },
        ]),
        {
          name: 'manifest.json',
          body: JSON.stringify([{ Config: `${hexOf(configDigest)}.json`, RepoTags: [repoTag], Layers: layers.map((l) => `${hexOf(l.diffId)}/layer.tar`) }]),
        },
        { name: 'repositories', body: JSON.stringify({ [repo]: { [tag]: top } }) },
      ];
      await Bun.write(file, await tarOf(entries));
    },

    writeDir(dir) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'version'), 'Directory Transport Version: 1.1\n');
      writeFileSync(join(dir, 'manifest.json'), dockerManifest);
      writeFileSync(join(dir, hexOf(configDigest)), config);
      for (const l of layers) writeFileSync(join(dir, hexOf(l.digest)), l.gz);
    },
  };
}
