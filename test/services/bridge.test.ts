/**
 * BridgeService (V2 → V1) under concurrency: two pushes of the same image (the same manifest
 * under two tags, or into two repositories, at once, through two workers) write the same V1
 * images. Each write is put (reset to uploading) → record the layer → mark ready; when the other
 * push resets the image between this push's layer and its mark, the image must not end `ready`
 * without its layer (it would stay so for good: a ready image is never written again).
 */
import { describe, expect, test } from 'bun:test';
import { v1ImagesFromV2, type DerivedV1Image } from '../../src/domain/bridge.ts';
import { withApp, type TestApp } from '../helpers/app.ts';
import { upload } from '../helpers/layers.ts';
import { buildTar, gzip } from '../helpers/tar.ts';
import { imageManifest, putManifest } from '../helpers/v2.ts';

/** A V2 image of gzip layers as a V1 client can read it, and the V1 images the bridge derives from it. */
async function bridgeableImage(app: TestApp, name: string, layers: Uint8Array[]): Promise<{ manifest: string; derived: DerivedV1Image[] }> {
  const m = JSON.parse(await imageManifest(app, name, layers));
  m.layers = m.layers.map((l: object) => ({ ...l, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }));
  const config = await (await app.req('GET', `/v2/${name}/blobs/${m.config.digest}`)).json();
  const derived = v1ImagesFromV2(m.layers, config as Record<string, unknown>, m.config.digest);
  if (typeof derived === 'string') throw new Error(derived);
  return { manifest: JSON.stringify(m), derived };
}

/** What V1 serves for a tag: each image's layer bytes, root first; null when V1 does not list the tag. */
async function v1Layers(app: TestApp, repo: string, tag: string): Promise<Uint8Array[] | null> {
  const tags = (await (await app.req('GET', `/v1/repositories/${repo}/tags`)).json()) as Record<string, string>;
  if (!tags[tag]) return null;
  const ancestry = (await (await app.req('GET', `/v1/images/${tags[tag]}/ancestry`)).json()) as string[];
  const out: Uint8Array[] = [];
  for (const id of [...ancestry].reverse()) out.push(new Uint8Array(await (await app.req('GET', `/v1/images/${id}/layer`)).arrayBuffer()));
  return out;
}

describe('BridgeService.bridgeToV1 against a concurrent push of the same image', () => {
  test('a reset by the other push between layer and ready: every V1 image ends ready with its layer', async () => {
    await withApp(async (app) => {
      const layers = [gzip(await buildTar([{ name: 'a', body: 'one' }])), gzip(await buildTar([{ name: 'b', body: 'two' }]))];
      const m = JSON.parse(await imageManifest(app, 'team/race', layers));
      m.layers = m.layers.map((l: object) => ({ ...l, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }));
      const meta = app.meta;
      const markReady = meta.markReady.bind(meta);
      const interfered = new Set<string>();
      // the other push's first step, taken just before this push marks each image ready
      meta.markReady = async (id, layerKey) => {
        if (!interfered.has(id)) {
          interfered.add(id);
          const image = (await meta.getImage(id))!;
          await meta.putImageIfUploading({ id, parent: image.parent, json: image.json, ancestry: image.ancestry });
        }
        return markReady(id, layerKey);
      };
      expect((await putManifest(app, 'team/race', 'v1', JSON.stringify(m))).status).toBe(201);
      expect(interfered.size).toBe(2);

      const tags = (await (await app.req('GET', '/v1/repositories/team/race/tags')).json()) as Record<string, string>;
      const ancestry = (await (await app.req('GET', `/v1/images/${tags.v1}/ancestry`)).json()) as string[];
      expect(ancestry).toHaveLength(2);
      for (const [i, id] of [...ancestry].reverse().entries()) {
        const image = (await meta.getImage(id))!;
        expect(image.state).toBe('ready');
        expect(image.layerSize).toBe(layers[i]!.byteLength);
        const r = await app.req('GET', `/v1/images/${id}/layer`);
        expect(r.status).toBe(200);
        expect(new Uint8Array(await r.arrayBuffer())).toEqual(layers[i]!);
      }
    });
  });
});

describe('BridgeService.bridgeToV1 against V1 images pushed under the derived ids', () => {
  // the derived ids are a function of the manifest and config: anyone who can push through V1
  // can push an image under one of them first (or while the bridge writes it), with other bytes
  test('an image completed through V1 under a derived id with another layer: the tag is not bridged to it', async () => {
    await withApp(async (app) => {
      const layers = [gzip(await buildTar([{ name: 'a', body: 'one' }])), gzip(await buildTar([{ name: 'b', body: 'two' }]))];
      const { manifest, derived } = await bridgeableImage(app, 'team/poison', layers);
      // the root image, pushed through V1 under its derived id, json copied, with other bytes
      const other = gzip(await buildTar([{ name: 'a', body: 'evil' }]));
      await upload(app, derived[0]!.id, null, other);
      expect((await putManifest(app, 'team/poison', 'v1', manifest)).status).toBe(201);
      const served = await v1Layers(app, 'team/poison', 'v1');
      // V1 serves the V2 image's own layers, or does not list the tag (it stays V2-only)
      if (served !== null) expect(served).toEqual(layers);
      expect(new Uint8Array(await (await app.req('GET', `/v2/team/poison/blobs/${JSON.parse(manifest).layers[0].digest}`)).arrayBuffer())).toEqual(layers[0]!);
    });
  });

  test('the same image completed through V1 while the bridge writes it (between its reset and its mark): not taken as the bridge\'s own', async () => {
    await withApp(async (app) => {
      const layers = [gzip(await buildTar([{ name: 'a', body: 'one' }]))];
      const { manifest, derived } = await bridgeableImage(app, 'team/poison2', layers);
      const other = gzip(await buildTar([{ name: 'a', body: 'evil' }]));
      const meta = app.meta;
      const setLayer = meta.setLayerIfUploading.bind(meta);
      let interfered = false;
      // a V1 push of the same id completes between the bridge's reset and its layer write
      meta.setLayerIfUploading = async (id, layer) => {
        if (!interfered && id === derived[0]!.id) {
          interfered = true;
          await upload(app, id, null, other);
        }
        return setLayer(id, layer);
      };
      expect((await putManifest(app, 'team/poison2', 'v1', manifest)).status).toBe(201);
      expect(interfered).toBe(true);
      const served = await v1Layers(app, 'team/poison2', 'v1');
      if (served !== null) expect(served).toEqual(layers);
    });
  });
});

describe('BridgeService.bridgeToV1 against garbage collection of V1 images it finds complete', () => {
  test('a derived image found ready, then collected before the tag is bridged: written again, the tag bridged to it, every image V1 lists there', async () => {
    await withApp(async (app) => {
      const layers = [gzip(await buildTar([{ name: 'a', body: 'one' }])), gzip(await buildTar([{ name: 'b', body: 'two' }]))];
      const { manifest, derived } = await bridgeableImage(app, 'team/swept', layers);
      const top = derived[1]!.id;
      // an earlier push derived the images; its tag is gone, so nothing holds the top image
      expect((await putManifest(app, 'team/swept', 'old', manifest)).status).toBe(201);
      expect((await app.req('DELETE', '/v2/team/swept/manifests/old')).status).toBe(202);
      const meta = app.meta;
      const putImage = meta.putImageIfUploading.bind(meta);
      let swept = false;
      // the collector deletes the top image right after this push found it complete
      meta.putImageIfUploading = async (image) => {
        const written = await putImage(image);
        if (!written && image.id === top && !swept) swept = (await meta.deleteImageIfUnused(top, Date.now() + 60_000)) !== null;
        return written;
      };
      expect((await putManifest(app, 'team/swept', 'new', manifest)).status).toBe(201);
      expect(swept).toBe(true);
      const list = (await (await app.req('GET', '/v1/repositories/team/swept/images')).json()) as { id: string }[];
      for (const { id } of list) expect((await app.req('GET', `/v1/images/${id}/json`)).status).toBe(200);
      expect(await v1Layers(app, 'team/swept', 'new')).toEqual(layers);
    });
  });
});
