/**
 * A client generated from the OpenAPI document (openapi-typescript types in
 * clients/typescript/v1.ts + openapi-fetch) pushes images and pulls them back from the real
 * server (`bun run start`), with no hand-written request code: a two-layer V1 image through
 * /v1/, and an OCI image through /v2/ (a monolithic and a chunked blob upload, a manifest by tag);
 * in token mode it signs up and gets its Bearer tokens from /v2/token (GET and POST) as well.
 * The calls are type-checked against the generated `paths` by `tsc` (this file is in tsconfig's
 * include), so a contract change that breaks them fails the build.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import createClient from 'openapi-fetch';
import type { components, paths } from '../../clients/typescript/v1.ts';
import { CLIENT_TYPES_FILE, clientTypes, servedDocument } from '../../scripts/openapi.ts';
import { hex, payload, randomBytes } from '../../dev/ids.ts';
import { startRegistry, type StartedRegistry } from '../helpers/server.ts';
import { buildTar, gzip } from '../helpers/tar.ts';

type ImageJson = components['schemas']['ImageJson'];
type ImageManifest = components['schemas']['ImageManifest'];

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const sha256 = (bytes: Uint8Array | string) => `sha256:${new Bun.CryptoHasher('sha256').update(bytes).digest('hex')}`;
/** Blob bodies go out as they are (openapi-fetch would JSON-encode them). */
const raw = { bodySerializer: (body: unknown) => body as Blob, headers: { 'content-type': 'application/octet-stream' } };


test('the committed client types are what openapi-typescript generates from the served document', async () => {
  const committed = await Bun.file(CLIENT_TYPES_FILE).text();
  expect(committed === (await clientTypes(await servedDocument())) ? 'up to date' : 'stale: run `bun run openapi`').toBe(
    'up to date',
  );
});

describe('generated client against bun run start', () => {
  let reg: StartedRegistry;
  beforeAll(async () => {
    reg = await startRegistry();
  }, 60_000);
  afterAll(async () => {
    await reg?.stop();
  });

  test('push a two-layer image, then pull it back', async () => {
    const client = createClient<paths>({ baseUrl: reg.url });
    const namespace = `gen${hex(8)}`;
    const repository = 'app';
    const repo = { namespace, repository };
    const base = hex(64);
    const top = hex(64);
    const jsons: Record<string, ImageJson> = {
      [base]: { id: base, created: '2026-11-27T00:00:00Z' },
      [top]: { id: top, parent: base, created: '2026-11-27T00:00:01Z' },
    };
    const layers: Record<string, Uint8Array> = {
      [base]: gzip(await buildTar([{ name: 'etc/hostname', body: 'generated\n' }])),
      [top]: gzip(await buildTar([{ name: 'usr/bin/app', body: 'binary', mode: 0o755 }])),
    };
    // openapi-fetch sends JSON bodies with JSON.stringify: those exact bytes are the image json
    const sum = (id: string) => payload(JSON.stringify(jsons[id]), layers[id]!);

    // push
    const announced = await client.PUT('/v1/repositories/{namespace}/{repository}/', {
      params: { path: repo },
      body: [{ id: base }, { id: top }],
    });
    expect(announced.response.status).toBe(200);
    expect(announced.response.headers.get('x-docker-token')).toContain(`repository="${namespace}/${repository}"`);
    for (const id of [base, top]) {
      const json = await client.PUT('/v1/images/{id}/json', { params: { path: { id } }, body: jsons[id]! });
      expect(json.response.status).toBe(200);
      expect(json.data).toBe(true);
      const layer = await client.PUT('/v1/images/{id}/layer', {
        params: { path: { id } },
        body: new Blob([layers[id]!]),
        bodySerializer: (body) => body,
        headers: { 'content-type': 'application/octet-stream' },
      });
      expect(layer.response.status).toBe(200);
      const checksum = await client.PUT('/v1/images/{id}/checksum', {
        params: { path: { id }, header: { 'x-docker-checksum-payload': sum(id) } },
      });
      expect(checksum.response.status).toBe(200);
    }
    const tag = await client.PUT('/v1/repositories/{namespace}/{repository}/tags/{tag}', {
      params: { path: { ...repo, tag: 'latest' } },
      body: top,
    });
    expect(tag.response.status).toBe(200);
    const listed = await client.PUT('/v1/repositories/{namespace}/{repository}/images', {
      params: { path: repo },
      body: [
        { id: base, checksum: sum(base) },
        { id: top, checksum: sum(top) },
      ],
    });
    expect(listed.response.status).toBe(204);

    // pull
    const images = await client.GET('/v1/repositories/{namespace}/{repository}/images', { params: { path: repo } });
    expect(images.data?.map((i) => i.id).sort()).toEqual([base, top].sort());
    const tags = await client.GET('/v1/repositories/{namespace}/{repository}/tags', { params: { path: repo } });
    expect(tags.data).toEqual({ latest: top });
    const ancestry = await client.GET('/v1/images/{id}/ancestry', { params: { path: { id: top } } });
    expect(ancestry.data).toEqual([top, base]);
    for (const id of ancestry.data!) {
      const json = await client.GET('/v1/images/{id}/json', { params: { path: { id } } });
      expect(json.data).toEqual(jsons[id]!);
      expect(json.response.headers.get('x-docker-checksum-payload')).toBe(sum(id));
      expect(json.response.headers.get('x-docker-size')).toBe(String(layers[id]!.byteLength));
      const layer = await client.GET('/v1/images/{id}/layer', { params: { path: { id } }, parseAs: 'arrayBuffer' });
      expect(layer.response.status).toBe(200);
      expect(Buffer.from(layer.data!).equals(layers[id]!)).toBe(true);
    }

    // errors come back typed as V1Error
    const missing = await client.GET('/v1/images/{id}/json', { params: { path: { id: hex(16) } } });
    expect(missing.response.status).toBe(404);
    expect(missing.error).toEqual({ error: 'Image not found' });
    const search = await client.GET('/v1/search', { params: { query: { q: namespace } } });
    expect(search.data?.results.map((r) => r.name)).toEqual([`${namespace}/${repository}`]);
  }, 60_000);

  test('push an OCI image through /v2/ (monolithic and chunked blob uploads, manifest by tag), then pull it back', async () => {
    const client = createClient<paths>({ baseUrl: reg.url });
    // a two-part name: openapi-fetch sends it as one segment (`gen…%2Fapp`), which the router decodes
    const name = `gen${hex(8)}/app`;
    const config = new TextEncoder().encode(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    const layer = randomBytes(300_000);
    const configDigest = sha256(config);
    const layerDigest = sha256(layer);

    // the config: one POST with its digest
    const monolithic = await client.POST('/v2/{name}/blobs/uploads/', {
      params: { path: { name }, query: { digest: configDigest } },
      body: new Blob([config]),
      ...raw,
    });
    expect(monolithic.response.status).toBe(201);
    expect(monolithic.response.headers.get('docker-content-digest')).toBe(configDigest);
    expect(monolithic.response.headers.get('location')).toBe(`/v2/${name}/blobs/${configDigest}`);

    // the layer: a session, two chunks, then the PUT with the digest
    const started = await client.POST('/v2/{name}/blobs/uploads/', { params: { path: { name } } });
    expect(started.response.status).toBe(202);
    const session = started.response.headers.get('docker-upload-uuid')!;
    expect(started.response.headers.get('location')).toBe(`/v2/${name}/blobs/uploads/${session}`);
    const half = 100_000;
    for (const [start, end] of [
      [0, half],
      [half, layer.byteLength],
    ] as const) {
      const chunk = await client.PATCH('/v2/{name}/blobs/uploads/{session}', {
        params: { path: { name, session } },
        body: new Blob([layer.subarray(start, end)]),
        ...raw,
        headers: { ...raw.headers, 'content-range': `${start}-${end - 1}` },
      });
      expect(chunk.response.status).toBe(202);
      expect(chunk.response.headers.get('range')).toBe(`0-${end - 1}`);
    }
    const status = await client.GET('/v2/{name}/blobs/uploads/{session}', { params: { path: { name, session } } });
    expect(status.response.status).toBe(204);
    expect(status.response.headers.get('range')).toBe(`0-${layer.byteLength - 1}`);
    const completed = await client.PUT('/v2/{name}/blobs/uploads/{session}', {
      params: { path: { name, session }, query: { digest: layerDigest } },
    });
    expect(completed.response.status).toBe(201);
    expect(completed.response.headers.get('docker-content-digest')).toBe(layerDigest);

    // the manifest, by tag; openapi-fetch sends JSON.stringify(body): those bytes are the manifest
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.byteLength },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.byteLength }],
    };
    const manifestDigest = sha256(JSON.stringify(manifest));
    const pushed = await client.PUT('/v2/{name}/manifests/{reference}', {
      params: { path: { name, reference: 'v1' } },
      body: manifest,
      headers: { 'content-type': OCI_MANIFEST },
    });
    expect(pushed.response.status).toBe(201);
    expect(pushed.response.headers.get('docker-content-digest')).toBe(manifestDigest);
    expect(pushed.response.headers.get('location')).toBe(`/v2/${name}/manifests/${manifestDigest}`);

    // pull: the manifest by tag and by digest, byte for byte, then its blobs
    for (const reference of ['v1', manifestDigest]) {
      const pulled = await client.GET('/v2/{name}/manifests/{reference}', { params: { path: { name, reference } }, parseAs: 'text' });
      expect(pulled.response.status).toBe(200);
      expect(pulled.response.headers.get('content-type')).toBe(OCI_MANIFEST);
      expect(pulled.response.headers.get('docker-content-digest')).toBe(manifestDigest);
      expect(pulled.data).toBe(JSON.stringify(manifest));
    }
    const typed = await client.GET('/v2/{name}/manifests/{reference}', { params: { path: { name, reference: 'v1' } } });
    expect(typed.data && 'layers' in typed.data ? typed.data.layers.map((l) => l.digest) : null).toEqual([layerDigest]);
    for (const [digest, bytes] of [
      [configDigest, config],
      [layerDigest, layer],
    ] as const) {
      const blob = await client.GET('/v2/{name}/blobs/{digest}', { params: { path: { name, digest } }, parseAs: 'arrayBuffer' });
      expect(blob.response.status).toBe(200);
      expect(blob.response.headers.get('docker-content-digest')).toBe(digest);
      expect(Buffer.from(blob.data!).equals(bytes)).toBe(true);
    }
    const tags = await client.GET('/v2/{name}/tags/list', { params: { path: { name } } });
    expect(tags.data).toEqual({ name, tags: ['v1'] });

    // errors come back typed as V2Errors
    const missing = await client.GET('/v2/{name}/manifests/{reference}', { params: { path: { name, reference: 'v2' } } });
    expect(missing.response.status).toBe(404);
    expect(missing.error).toEqual({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown to registry', detail: null }] });
  }, 60_000);
});

describe('generated client against bun run start in token mode', () => {
  let reg: StartedRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ REGISTRY_AUTH: 'token', REGISTRY_TOKEN_SECRET: 'client-test-secret', REGISTRY_ANONYMOUS_READ: 'false' });
  }, 60_000);
  afterAll(async () => {
    await reg?.stop();
  });

  test('signs up, gets Bearer tokens from /v2/token (GET with Basic, POST with the password grant) and uses them on /v2/', async () => {
    const client = createClient<paths>({ baseUrl: reg.url });
    const username = `gen${hex(8)}`;
    const password = `pw-${hex(12)}`;
    const signup = await client.POST('/v1/users', { body: { username, password, email: `${username}@example.com` } });
    expect(signup.response.status).toBe(201);
    const name = `${username}/app`;
    const service = new URL(reg.url).host;

    // without a token: the Bearer challenge names the realm, the service and the scope
    const denied = await client.GET('/v2/{name}/tags/list', { params: { path: { name } } });
    expect(denied.response.status).toBe(401);
    expect(denied.response.headers.get('www-authenticate')).toBe(`Bearer realm="${reg.url}/v2/token",service="${service}",scope="repository:${name}:pull"`);
    expect(denied.error).toEqual({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required', detail: null }] });

    // GET /v2/token with Basic credentials: pull and push on the own namespace
    const basic = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    const got = await client.GET('/v2/token', { params: { query: { service, scope: [`repository:${name}:pull,push`] }, header: { authorization: basic } } });
    expect(got.response.status).toBe(200);
    expect(got.data?.token).toBe(got.data?.access_token);
    expect(got.data?.expires_in).toBeGreaterThan(0);
    const bearer = { authorization: `Bearer ${got.data!.token}` };
    const config = new TextEncoder().encode('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    const configDigest = sha256(config);
    const pushed = await client.POST('/v2/{name}/blobs/uploads/', {
      params: { path: { name }, query: { digest: configDigest } },
      body: new Blob([config]),
      ...raw,
      headers: { ...raw.headers, ...bearer },
    });
    expect(pushed.response.status).toBe(201);
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.byteLength },
      layers: [],
    };
    const put = await client.PUT('/v2/{name}/manifests/{reference}', {
      params: { path: { name, reference: 'v1' } },
      body: manifest,
      headers: { 'content-type': OCI_MANIFEST, ...bearer },
    });
    expect(put.response.status).toBe(201);

    // wrong credentials: 401 with the Basic challenge, in the V2 error shape
    const wrong = await client.GET('/v2/token', { params: { query: { service, scope: [`repository:${name}:pull`] }, header: { authorization: `Basic ${Buffer.from(`${username}:nope`).toString('base64')}` } } });
    expect(wrong.response.status).toBe(401);
    expect(wrong.response.headers.get('www-authenticate')).toBe('Basic realm="registry"');
    expect(wrong.error?.errors[0]?.code).toBe('UNAUTHORIZED');

    // POST /v2/token, the OAuth2 password grant (containerd's first try): a pull token
    const form = await client.POST('/v2/token', {
      body: { grant_type: 'password', username, password, service, scope: `repository:${name}:pull` },
      bodySerializer: (body) => new URLSearchParams(body as Record<string, string>).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.response.status).toBe(200);
    const tags = await client.GET('/v2/{name}/tags/list', { params: { path: { name } }, headers: { authorization: `Bearer ${form.data!.access_token}` } });
    expect(tags.response.status).toBe(200);
    expect(tags.data).toEqual({ name, tags: ['v1'] });
    // a pull token does not push
    const refused = await client.PUT('/v2/{name}/manifests/{reference}', {
      params: { path: { name, reference: 'v2' } },
      body: manifest,
      headers: { 'content-type': OCI_MANIFEST, authorization: `Bearer ${form.data!.access_token}` },
    });
    expect(refused.response.status).toBe(401);
  }, 60_000);
});
