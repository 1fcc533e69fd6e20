/** One store, both protocols: a V1 push pulled through V2, a V2 push pulled through V1 (app level). */
import { describe, expect, test } from 'bun:test';
import { DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST } from '../../../src/domain/manifest.ts';
import { hex } from '../../../dev/ids.ts';
import { withApp, type TestApp } from '../../helpers/app.ts';
import { upload } from '../../helpers/layers.ts';
import { buildTar, gzip } from '../../helpers/tar.ts';
import { expectV2Error, imageManifest, putManifest, sha256 } from '../../helpers/v2.ts';

const layerTar = (name: string, text: string) => buildTar([{ name, body: text }]);

async function v1Push(app: TestApp, repo: string, tag: string, layers: Uint8Array[]): Promise<string[]> {
  const ids: string[] = [];
  let parent: string | null = null;
  for (const layer of layers) {
    const id = hex(64);
    await upload(app, id, parent, layer);
    ids.push(id);
    parent = id;
  }
  expect((await app.req('PUT', `/v1/repositories/${repo}/tags/${tag}`, { body: JSON.stringify(parent) })).status).toBe(200);
  return ids;
}

describe('V1 ⇄ V2 bridge', () => {
  test('a V1 push is pulled through V2: a Docker schema 2 manifest whose layers are the V1 layers, stable digest', async () => {
    await withApp(async (app) => {
      const layers = [gzip(await layerTar('a.txt', 'one')), gzip(await layerTar('b.txt', 'two'))];
      await v1Push(app, 'team/web', 'latest', layers);
      let r = await app.req('GET', '/v2/team/web/manifests/latest');
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe(DOCKER_MANIFEST);
      const text = await r.text();
      const manifest = JSON.parse(text);
      expect(manifest.layers.map((l: { digest: string }) => l.digest)).toEqual(layers.map((l) => sha256(l)));
      for (const [i, l] of manifest.layers.entries()) {
        const blob = await app.req('GET', `/v2/team/web/blobs/${l.digest}`);
        expect(new Uint8Array(await blob.arrayBuffer())).toEqual(layers[i]!);
      }
      const config = JSON.parse(await (await app.req('GET', `/v2/team/web/blobs/${manifest.config.digest}`)).text());
      const diffIds = await Promise.all(layers.map(async (l) => sha256(Bun.gunzipSync(l))));
      expect(config.rootfs).toEqual({ type: 'layers', diff_ids: diffIds });
      // stable: the same bytes on every pull, and by digest
      r = await app.req('GET', '/v2/team/web/manifests/latest');
      expect(await r.text()).toBe(text);
      expect((await app.req('GET', `/v2/team/web/manifests/${sha256(text)}`)).status).toBe(200);
      expect(await (await app.req('GET', '/v2/team/web/tags/list')).json()).toEqual({ name: 'team/web', tags: ['latest'] });
    });
  });

  test('an uncompressed V1 layer gives an OCI manifest; a bzip2 one a clear UNSUPPORTED', async () => {
    await withApp(async (app) => {
      await v1Push(app, 'team/plain', 'v', [await layerTar('a', 'plain')]);
      const r = await app.req('GET', '/v2/team/plain/manifests/v');
      expect(r.headers.get('content-type')).toBe(OCI_MANIFEST);
      await v1Push(app, 'team/bz', 'v', [new Uint8Array([0x42, 0x5a, 0x68, 0x39, 1, 2, 3])]);
      await expectV2Error(await app.req('GET', '/v2/team/bz/manifests/v'), 400, 'UNSUPPORTED');
    });
  });

  test('a V2 push by tag is pulled through V1: tags, index images, ancestry, json and the layer bytes', async () => {
    await withApp(async (app) => {
      const layers = [gzip(await layerTar('x', '1')), gzip(await layerTar('y', '2'))];
      const manifest = await imageManifest(app, 'team/api', layers);
      const m = JSON.parse(manifest);
      m.layers = m.layers.map((l: object) => ({ ...l, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }));
      expect((await putManifest(app, 'team/api', 'stable', JSON.stringify(m))).status).toBe(201);
      const tags = (await (await app.req('GET', '/v1/repositories/team/api/tags')).json()) as Record<string, string>;
      const top = tags.stable!;
      expect(top).toMatch(/^[a-f0-9]{64}$/);
      const list = (await (await app.req('GET', '/v1/repositories/team/api/images')).json()) as { id: string }[];
      expect(list.map((i) => i.id)).toContain(top);
      const ancestry = (await (await app.req('GET', `/v1/images/${top}/ancestry`)).json()) as string[];
      expect(ancestry).toHaveLength(2);
      expect(ancestry[0]).toBe(top);
      const json = await (await app.req('GET', `/v1/images/${top}/json`)).json();
      expect(json).toMatchObject({ id: top, parent: ancestry[1], architecture: 'amd64', os: 'linux' });
      for (const [i, id] of [...ancestry].reverse().entries()) {
        const r = await app.req('GET', `/v1/images/${id}/layer`);
        expect(new Uint8Array(await r.arrayBuffer())).toEqual(layers[i]!);
      }
      // V2 still serves what V2 pushed
      expect(await (await app.req('GET', '/v2/team/api/manifests/stable')).text()).toBe(JSON.stringify(m));
    });
  });

  test('an index stays V2-only: V1 does not list its tag', async () => {
    await withApp(async (app) => {
      const child = await imageManifest(app, 'team/multi', [gzip(await layerTar('z', '3'))]);
      await putManifest(app, 'team/multi', sha256(child), child);
      const index = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: sha256(child), size: Buffer.byteLength(child) }] });
      expect((await putManifest(app, 'team/multi', 'all', index, OCI_INDEX)).status).toBe(201);
      const r = await app.req('GET', '/v1/repositories/team/multi/tags');
      expect(await r.json()).toEqual({});
    });
  });
});
