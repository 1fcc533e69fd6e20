import { expect, test } from 'bun:test';
import { configFromV1, manifestFromV1, v1ImagesFromV2, type V1Image } from '../../src/domain/bridge.ts';
import { DOCKER_MANIFEST, OCI_MANIFEST } from '../../src/domain/manifest.ts';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const ancestry: V1Image[] = [
  { json: { id: 'a'.repeat(64), created: '2014-01-01T00:00:00Z', container_config: { Cmd: ['/bin/sh', '-c', 'ADD root'] }, Size: 5 }, layer: { digest: d('1'), diffId: d('2'), size: 10, compression: 'gzip' } },
  { json: { id: 'b'.repeat(64), parent: 'a'.repeat(64), created: '2014-01-02T00:00:00Z', container_config: { Cmd: ['CMD sh'] } }, layer: null },
  {
    json: { id: 'c'.repeat(64), parent: 'b'.repeat(64), created: '2014-01-03T00:00:00Z', author: 'me', architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, container_config: { Cmd: ['RUN x'] }, checksum: 'x' },
    layer: { digest: d('3'), diffId: d('4'), size: 20, compression: 'gzip' },
  },
];

test('V1 → V2 config: the top json without V1-only keys, diff_ids of non-empty layers, history with empty layers marked', () => {
  const config = JSON.parse(configFromV1(ancestry));
  expect(config.id).toBeUndefined();
  expect(config.parent).toBeUndefined();
  expect(config.checksum).toBeUndefined();
  expect(config.architecture).toBe('amd64');
  expect(config.config).toEqual({ Cmd: ['sh'] });
  expect(config.rootfs).toEqual({ type: 'layers', diff_ids: [d('2'), d('4')] });
  expect(config.history).toEqual([
    { created: '2014-01-01T00:00:00Z', created_by: '/bin/sh -c ADD root' },
    { created: '2014-01-02T00:00:00Z', created_by: 'CMD sh', empty_layer: true },
    { created: '2014-01-03T00:00:00Z', created_by: 'RUN x', author: 'me' },
  ]);
  // deterministic: the same input, the same bytes
  expect(configFromV1(ancestry)).toBe(configFromV1(structuredClone(ancestry)));
});

test('V1 → V2 manifest: Docker schema 2 when every layer is gzip, OCI when one is a plain tar', () => {
  const gz = JSON.parse(manifestFromV1(ancestry, { digest: d('9'), size: 7 }).content);
  expect(gz.mediaType).toBe(DOCKER_MANIFEST);
  expect(gz.config).toEqual({ mediaType: 'application/vnd.docker.container.image.v1+json', size: 7, digest: d('9') });
  expect(gz.layers.map((l: { digest: string }) => l.digest)).toEqual([d('1'), d('3')]);
  const plain = structuredClone(ancestry);
  plain[0]!.layer!.compression = 'none';
  const oci = JSON.parse(manifestFromV1(plain, { digest: d('9'), size: 7 }).content);
  expect(oci.mediaType).toBe(OCI_MANIFEST);
  expect(oci.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual(['application/vnd.oci.image.layer.v1.tar', 'application/vnd.oci.image.layer.v1.tar+gzip']);
});

test('V2 → V1: one image per layer, chained ids, the top one carrying the config; stable; unreadable layers refused', () => {
  const layers = [
    { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d('1'), size: 10 },
    { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: d('3'), size: 20 },
  ];
  const config = { architecture: 'arm64', os: 'linux', config: { Env: ['A=1'] }, rootfs: { type: 'layers', diff_ids: [] }, history: [{ created_by: 'one' }, { empty_layer: true }, { created_by: 'two' }] };
  const images = v1ImagesFromV2(layers, config, d('c'));
  if (typeof images === 'string') throw new Error(images);
  expect(images).toHaveLength(2);
  expect(images[0]!.parent).toBeNull();
  expect(images[1]!.parent).toBe(images[0]!.id);
  for (const i of images) expect(i.id).toMatch(/^[a-f0-9]{64}$/);
  const top = JSON.parse(images[1]!.json);
  expect(top).toMatchObject({ id: images[1]!.id, parent: images[0]!.id, architecture: 'arm64', config: { Env: ['A=1'] } });
  expect(top.rootfs).toBeUndefined();
  expect(JSON.parse(images[0]!.json).container_config).toEqual({ Cmd: ['/bin/sh', '-c', 'one'] });
  // the same base layer under another config: same base id, another top id
  const other = v1ImagesFromV2(layers, config, d('e'));
  if (typeof other === 'string') throw new Error(other);
  expect(other[0]!.id).toBe(images[0]!.id);
  expect(other[1]!.id).not.toBe(images[1]!.id);
  expect(v1ImagesFromV2(layers, config, d('c'))).toEqual(images);
  expect(typeof v1ImagesFromV2([{ ...layers[0]!, mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' }], config, d('c'))).toBe('string');
  expect(typeof v1ImagesFromV2([], config, d('c'))).toBe('string');
});
