/** V2 helpers for route tests: pushing blobs and manifests through a TestApp, reading V2 errors. */
import { expect } from 'bun:test';
import { digestOf } from '../../src/domain/digest.ts';
import { OCI_MANIFEST } from '../../src/domain/manifest.ts';
import type { TestApp } from './app.ts';

export const sha256 = (bytes: Uint8Array | string): string => digestOf(bytes);

/** A monolithic blob push (POST ?digest=); returns its digest. */
export async function pushBlob(app: TestApp, name: string, bytes: Uint8Array | string): Promise<string> {
  const digest = sha256(bytes);
  const r = await app.req('POST', `/v2/${name}/blobs/uploads/?digest=${digest}`, { body: bytes, headers: { 'content-type': 'application/octet-stream' } });
  expect(r.status).toBe(201);
  return digest;
}

/** An OCI image manifest over a config and layers pushed to `name`; returns its bytes. */
export async function imageManifest(app: TestApp, name: string, layers: (Uint8Array | string)[], extra: Record<string, unknown> = {}): Promise<string> {
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
  const configDigest = await pushBlob(app, name, config);
  const descriptors = [];
  for (const layer of layers) {
    const digest = await pushBlob(app, name, layer);
    descriptors.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: typeof layer === 'string' ? Buffer.byteLength(layer) : layer.byteLength });
  }
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: Buffer.byteLength(config) },
    layers: descriptors,
    ...extra,
  });
}

export async function putManifest(app: TestApp, name: string, reference: string, manifest: string, contentType = OCI_MANIFEST): Promise<Response> {
  return app.req('PUT', `/v2/${name}/manifests/${reference}`, { body: manifest, headers: { 'content-type': contentType } });
}

/** Checks a V2 error reply: status, and the spec code of its first error. */
export async function expectV2Error(r: Response, status: number, code: string): Promise<void> {
  const text = await r.text();
  expect(`${r.status} ${text}`).toStartWith(`${status} `);
  const body = JSON.parse(text) as { errors: { code: string; message: string }[] };
  expect(body.errors[0]?.code).toBe(code);
  expect(typeof body.errors[0]?.message).toBe('string');
}
