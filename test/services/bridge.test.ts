/**
 * BridgeService (V2 → V1) under concurrency: two pushes of the same image (the same manifest
 * under two tags, or into two repositories, at once, through two workers) write the same V1
 * images. Each write is put (reset to uploading) → record the layer → mark ready; when the other
 * push resets the image between this push's layer and its mark, the image must not end `ready`
 * without its layer (it would stay so for good: a ready image is never written again).
 */
import { describe, expect, test } from 'bun:test';
import { withApp } from '../helpers/app.ts';
import { buildTar, gzip } from '../helpers/tar.ts';
import { imageManifest, putManifest } from '../helpers/v2.ts';

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
