/**
 * A client generated from the OpenAPI document (openapi-typescript types in
 * clients/typescript/v1.ts + openapi-fetch) pushes a two-layer image and pulls it back from the
 * real server (`bun run start`), with no hand-written request code. The calls are type-checked
 * against the generated `paths` by `tsc` (this file is in tsconfig's include), so a contract
 * change that breaks them fails the build.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import createClient from 'openapi-fetch';
import type { components, paths } from '../../clients/typescript/v1.ts';
import { CLIENT_TYPES_FILE, clientTypes, servedDocument } from '../../scripts/openapi.ts';
import { hex, payload } from '../../dev/ids.ts';
import { startRegistry, type StartedRegistry } from '../helpers/server.ts';
import { buildTar, gzip } from '../helpers/tar.ts';

type ImageJson = components['schemas']['ImageJson'];


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
});
