import { describe, expect, test } from 'bun:test';
import { digestOf, isDigest } from '../../src/domain/digest.ts';
import { DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, parseManifest, referrerDescriptor, requiredContent } from '../../src/domain/manifest.ts';
import { RegistryError } from '../../src/errors.ts';

const enc = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
const d = (c: string) => `sha256:${c.repeat(64)}`;
const desc = (c: string, mediaType = 'application/vnd.oci.image.layer.v1.tar+gzip', size = 10) => ({ mediaType, digest: d(c), size });

const image = {
  schemaVersion: 2,
  mediaType: OCI_MANIFEST,
  config: desc('c', 'application/vnd.oci.image.config.v1+json'),
  layers: [desc('1'), desc('2'), { ...desc('3'), urls: ['https://example.invalid/l'] }],
};

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof RegistryError) return e.code;
    throw e;
  }
  return undefined;
}

describe('digests', () => {
  test('sha256 and sha512 only, lower-case hex of the right length', () => {
    expect(isDigest(d('a'))).toBe(true);
    expect(isDigest(`sha512:${'a'.repeat(128)}`)).toBe(true);
    for (const bad of [`sha256:${'A'.repeat(64)}`, `sha256:${'a'.repeat(63)}`, `sha384:${'a'.repeat(96)}`, 'sha256:', d('a') + '\n', `sha512:${'a'.repeat(64)}`]) {
      expect(isDigest(bad)).toBe(false);
    }
    expect(digestOf('')).toBe('sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});

describe('parseManifest', () => {
  test('an OCI image manifest: type from the body, artifact type from the config, references without foreign layers', () => {
    const m = parseManifest(enc(image), OCI_MANIFEST);
    expect(m.kind).toBe('image');
    expect(m.artifactType).toBe('application/vnd.oci.image.config.v1+json');
    expect(requiredContent(m)).toEqual({ blobs: [d('c'), d('1'), d('2')], manifests: [] });
  });

  test('the media type: body over Content-Type, both must agree, shape decides when neither says', () => {
    const { mediaType: _, ...untyped } = image;
    expect(parseManifest(enc(untyped), DOCKER_MANIFEST).mediaType).toBe(DOCKER_MANIFEST);
    expect(parseManifest(enc(untyped), 'application/json').mediaType).toBe(OCI_MANIFEST);
    expect(parseManifest(enc({ schemaVersion: 2, manifests: [] }), null).mediaType).toBe(OCI_INDEX);
    expect(code(() => parseManifest(enc(image), DOCKER_MANIFEST))).toBe('V2_MANIFEST_INVALID');
  });

  test('an index references its manifests; artifactType and subject are kept', () => {
    const index = { schemaVersion: 2, mediaType: OCI_INDEX, artifactType: 'application/x-a', subject: desc('e', OCI_MANIFEST), manifests: [desc('f', OCI_MANIFEST)] };
    const m = parseManifest(enc(index), OCI_INDEX);
    expect(requiredContent(m)).toEqual({ blobs: [], manifests: [d('f')] });
    expect(m.subject?.digest).toBe(d('e'));
    expect(referrerDescriptor(m, d('b'), 99)).toEqual({ mediaType: OCI_INDEX, digest: d('b'), size: 99, artifactType: 'application/x-a' });
  });

  test('anything malformed is MANIFEST_INVALID', () => {
    const cases: unknown[] = [
      'not json',
      '[]',
      { ...image, schemaVersion: 1 },
      { ...image, mediaType: 'application/vnd.docker.distribution.manifest.v1+prettyjws' },
      { ...image, mediaType: 'text/plain' },
      { ...image, config: { ...image.config, digest: 'sha256:short' } },
      { ...image, config: { ...image.config, size: -1 } },
      { ...image, config: { ...image.config, size: 1.5 } },
      { ...image, layers: [{ ...desc('1'), mediaType: 'no slash' }] },
      { ...image, layers: 'x' },
      { ...image, annotations: { a: 1 } },
      { schemaVersion: 2, mediaType: OCI_INDEX },
      { schemaVersion: 2, mediaType: DOCKER_MANIFEST, config: image.config },
    ];
    for (const c of cases) expect(code(() => parseManifest(enc(c as object), null))).toBe('V2_MANIFEST_INVALID');
    expect(code(() => parseManifest(new Uint8Array([0xff, 0xfe, 0x7b, 0x7d]), null))).toBe('V2_MANIFEST_INVALID');
  });
});
