/** One store, both protocols: a V1 push pulled through V2, a V2 push pulled through V1 (app level). */
import { describe, expect, test } from 'bun:test';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../../src/app/app.ts';
import { createFetch } from '../../../src/app/fetch.ts';
import { loadConfig } from '../../../src/config/load.ts';
import { SqliteMetaStore } from '../../../src/db/sqlite/store.ts';
import { DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST } from '../../../src/domain/manifest.ts';
import { FsDriver } from '../../../src/storage/fs.ts';
import { hex } from '../../../dev/ids.ts';
import { TEST_UA, withApp, type TestApp } from '../../helpers/app.ts';
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

/** An app on the SQLite file and storage folder under `dir` (several: several workers on one database). */
function appOn(dir: string): TestApp {
  const config = loadConfig({ env: {}, overrides: {} });
  const meta = SqliteMetaStore.open(join(dir, 'registry.db'));
  const storage = new FsDriver(join(dir, 'data'));
  const app = createApp({ config, meta, storage, log: () => {} });
  const fetch = createFetch(app);
  return {
    config,
    app,
    meta,
    storage,
    req: (method, path, init = {}) =>
      fetch(new Request(`http://localhost${path}`, { method, headers: { 'user-agent': TEST_UA, ...init.headers }, body: init.body ?? null })),
    close: () => meta.close(),
  };
}

/** Makes `method` of every store wait until it has been called on all of them, then run. */
function barrier<K extends 'putBlob' | 'putManifest' | 'bridgeTag'>(metas: SqliteMetaStore[], method: K): void {
  let arrived = 0;
  let open!: () => void;
  const all = new Promise<void>((resolve) => (open = resolve));
  for (const meta of metas) {
    const original = (meta[method] as (...a: unknown[]) => Promise<unknown>).bind(meta);
    let first = true;
    (meta as unknown as Record<string, unknown>)[method] = async (...args: unknown[]) => {
      if (first) {
        first = false;
        if (++arrived === metas.length) open();
        await all;
      }
      return original(...args);
    };
  }
}

/** Files under `dir` whose name starts with `prefix`. */
const filesNamed = (dir: string, prefix: string) =>
  (readdirSync(dir, { recursive: true }) as string[]).filter((f) => (f.split('/').pop() ?? '').startsWith(prefix));

describe('V1 ⇄ V2 bridge under concurrency', () => {
  test('two first V2 pulls of one V1 tag through two apps on one database, interleaved step by step: one digest, one manifest, one config copy', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bridge-race-'));
    const [one, two] = [appOn(dir), appOn(dir)];
    try {
      await v1Push(one, 'team/twice', 'latest', [gzip(await layerTar('a', '1')), gzip(await layerTar('b', '2'))]);
      // both derive everything before either stores its config, then its manifest, then the tag
      for (const method of ['putBlob', 'putManifest', 'bridgeTag'] as const) barrier([one.meta, two.meta], method);
      const [r1, r2] = await Promise.all([one.req('GET', '/v2/team/twice/manifests/latest'), two.req('GET', '/v2/team/twice/manifests/latest')]);
      expect([r1.status, r2.status]).toEqual([200, 200]);
      const [t1, t2] = [await r1.text(), await r2.text()];
      expect(t2).toBe(t1);
      expect(r1.headers.get('docker-content-digest')).toBe(sha256(t1));
      expect(r2.headers.get('docker-content-digest')).toBe(sha256(t1));
      const rows = (table: string) => (one.meta.db.$client.query(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
      expect(rows('manifests')).toBe(1);
      const config = JSON.parse(t1).config.digest as string;
      expect(one.meta.db.$client.query('SELECT count(*) AS n FROM blobs WHERE digest = ?').get(config)).toEqual({ n: 1 });
      // the loser's copy of the config is gone: one file holds it, the one its row names
      const copies = filesNamed(join(dir, 'data'), config.slice('sha256:'.length));
      expect(copies).toHaveLength(1);
      expect((await one.meta.getBlob(config))!.key.endsWith(copies[0]!.split('/').pop()!)).toBe(true);
      // and both apps keep serving it, by tag and by digest
      for (const app of [one, two]) {
        expect(await (await app.req('GET', '/v2/team/twice/manifests/latest')).text()).toBe(t1);
        expect((await app.req('GET', `/v2/team/twice/manifests/${sha256(t1)}`)).status).toBe(200);
        expect((await app.req('GET', `/v2/team/twice/blobs/${config}`)).status).toBe(200);
      }
    } finally {
      one.close();
      two.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a V1 tag moved while its V2 manifest is derived: the next pull gets the new image, the tag is not bridged to the old one', async () => {
    await withApp(async (app) => {
      const [oldLayer, newLayer] = [gzip(await layerTar('a', 'old')), gzip(await layerTar('a', 'new'))];
      await v1Push(app, 'team/moved', 'keep', [newLayer]);
      const newTop = ((await (await app.req('GET', '/v1/repositories/team/moved/tags')).json()) as Record<string, string>).keep!;
      await v1Push(app, 'team/moved', 'latest', [oldLayer]);
      const bridgeTag = app.meta.bridgeTag.bind(app.meta);
      app.meta.bridgeTag = async (...args) => {
        // a V1 client moves the tag after the derivation read it, before the tag is bridged
        expect((await app.req('PUT', '/v1/repositories/team/moved/tags/latest', { body: JSON.stringify(newTop) })).status).toBe(200);
        return bridgeTag(...args);
      };
      const first = await app.req('GET', '/v2/team/moved/manifests/latest');
      expect(first.status).toBe(200);
      expect(JSON.parse(await first.text()).layers[0].digest).toBe(sha256(oldLayer));
      app.meta.bridgeTag = bridgeTag;
      const next = JSON.parse(await (await app.req('GET', '/v2/team/moved/manifests/latest')).text());
      expect(next.layers.map((l: { digest: string }) => l.digest)).toEqual([sha256(newLayer)]);
      expect(((await (await app.req('GET', '/v1/repositories/team/moved/tags')).json()) as Record<string, string>).latest).toBe(newTop);
    });
  });

  test('a V1 tag PUT landing while a V2 PUT of the same tag is bridged to V1: the last one holds, both protocols agree', async () => {
    await withApp(async (app) => {
      const v1Layer = gzip(await layerTar('v1', 'one'));
      await v1Push(app, 'team/both', 'other', [v1Layer]);
      const v1Top = ((await (await app.req('GET', '/v1/repositories/team/both/tags')).json()) as Record<string, string>).other!;
      const m = JSON.parse(await imageManifest(app, 'team/both', [gzip(await layerTar('v2', 'two'))]));
      m.layers = m.layers.map((l: object) => ({ ...l, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }));
      const bridgeTag = app.meta.bridgeTag.bind(app.meta);
      app.meta.bridgeTag = async (...args) => {
        expect((await app.req('PUT', '/v1/repositories/team/both/tags/same', { body: JSON.stringify(v1Top) })).status).toBe(200);
        return bridgeTag(...args);
      };
      expect((await putManifest(app, 'team/both', 'same', JSON.stringify(m))).status).toBe(201);
      app.meta.bridgeTag = bridgeTag;
      // the V1 PUT came last: V1 names its image, V2 serves the manifest derived from it
      expect(((await (await app.req('GET', '/v1/repositories/team/both/tags')).json()) as Record<string, string>).same).toBe(v1Top);
      const served = JSON.parse(await (await app.req('GET', '/v2/team/both/manifests/same')).text());
      expect(served.layers.map((l: { digest: string }) => l.digest)).toEqual([sha256(v1Layer)]);
      expect(await (await app.req('GET', '/v2/team/both/tags/list')).json()).toEqual({ name: 'team/both', tags: ['other', 'same'] });
    });
  });
  test('two V2 PUTs of one tag, the second landing while the first is bridged to V1: the second holds in both protocols', async () => {
    await withApp(async (app) => {
      const image = async (text: string) => {
        const m = JSON.parse(await imageManifest(app, 'team/twoputs', [gzip(await layerTar('f', text))]));
        m.layers = m.layers.map((l: object) => ({ ...l, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }));
        return JSON.stringify(m);
      };
      const [first, second] = [await image('first'), await image('second')];
      const bridgeTag = app.meta.bridgeTag.bind(app.meta);
      let interfered = false;
      app.meta.bridgeTag = async (...args) => {
        if (!interfered) {
          interfered = true;
          expect((await putManifest(app, 'team/twoputs', 'same', second)).status).toBe(201);
        }
        return bridgeTag(...args);
      };
      expect((await putManifest(app, 'team/twoputs', 'same', first)).status).toBe(201);
      expect(interfered).toBe(true);
      app.meta.bridgeTag = bridgeTag;
      expect(await (await app.req('GET', '/v2/team/twoputs/manifests/same')).text()).toBe(second);
      expect(await (await app.req('GET', '/v2/team/twoputs/tags/list')).json()).toEqual({ name: 'team/twoputs', tags: ['same'] });
      const top = ((await (await app.req('GET', '/v1/repositories/team/twoputs/tags')).json()) as Record<string, string>).same!;
      const layer = new Uint8Array(await (await app.req('GET', `/v1/images/${top}/layer`)).arrayBuffer());
      expect(sha256(layer)).toBe(JSON.parse(second).layers[0].digest);
    });
  });
});
