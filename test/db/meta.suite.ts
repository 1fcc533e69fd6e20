/**
 * The MetaStore contract, run against every implementation (SQLite, PostgreSQL).
 * Deliberately not named *.test.ts: implementation test files call `runMetaStoreSuite`.
 */
import { afterEach, describe, expect, test } from 'bun:test';
import type { MetaStore, NewImage, RepoRef } from '../../src/db/meta.ts';

const enc = new TextEncoder();
const img = (id: string, parent: string | null = null, ancestry = [id]): NewImage => ({
  id,
  parent,
  json: enc.encode(JSON.stringify(parent ? { id, parent } : { id })),
  ancestry,
});

/**
 * A repository with every field at its default, for tests that need one to exist: the contract
 * creates repositories only as part of a write, and setPrivate(false) changes nothing else.
 */
const createRepository = (s: MetaStore, ref: RepoRef) => s.setPrivate(ref, false);

export interface MetaStoreHandle {
  store: MetaStore;
  cleanup: () => Promise<void>;
  /**
   * Sets a repository's description behind the store's back: the contract has no setter (V1
   * pushes never send one), but search matches descriptions and the suite must hold every store
   * to that.
   */
  setDescription: (ref: RepoRef, description: string) => Promise<void>;
}

export function runMetaStoreSuite(name: string, make: () => Promise<MetaStoreHandle>) {
  describe(`${name} metadata store contract`, () => {
    let cleanup: (() => Promise<void>) | undefined;
    let handle: MetaStoreHandle | undefined;
    const open = async () => {
      const h = await make();
      cleanup = h.cleanup;
      handle = h;
      return h.store;
    };
    const setDescription = (ref: RepoRef, description: string) => handle!.setDescription(ref, description);
    afterEach(async () => {
      await cleanup?.();
      cleanup = undefined;
    });

    test('image lifecycle: uploading → layer → ready; ready images are immutable', async () => {
      const s = await open();
      expect(await s.getImage('a')).toBeNull();
      expect(await s.putImageIfUploading(img('a'))).toBe(true);
      let a = await s.getImage('a');
      expect(a?.state).toBe('uploading');
      expect(a?.layerSize).toBeNull();
      expect(a?.checksums).toEqual([]);
      expect(new TextDecoder().decode(a!.json)).toBe('{"id":"a"}');
      expect(await s.setLayerIfUploading('a', { key: 'k1', size: 42, checksums: ['sha256:x'] })).toEqual({
        recorded: true,
        replacedKey: null,
      });
      a = await s.getImage('a');
      expect(a?.layerSize).toBe(42);
      expect(a?.layerKey).toBe('k1');
      expect(a?.checksums).toEqual(['sha256:x']);
      // a second upload replaces the first and hands back its key for deletion
      expect(await s.setLayerIfUploading('a', { key: 'k2', size: 43, checksums: ['sha256:z'] })).toEqual({
        recorded: true,
        replacedKey: 'k1',
      });
      // a retried PUT json resets the layer
      expect(await s.putImageIfUploading(img('a'))).toBe(true);
      expect((await s.getImage('a'))?.layerSize).toBeNull();
      expect(await s.setLayerIfUploading('a', { key: 'k3', size: 7, checksums: ['sha256:y'] })).toEqual({
        recorded: true,
        replacedKey: 'k2',
      });
      expect(await s.markReady('a')).toBe(true);
      expect(await s.markReady('a')).toBe(false);
      expect(await s.putImageIfUploading(img('a'))).toBe(false);
      expect(await s.setLayerIfUploading('a', { key: 'k4', size: 1, checksums: [] })).toEqual({
        recorded: false,
        replacedKey: null,
      });
      a = await s.getImage('a');
      expect(a?.state).toBe('ready');
      expect(a?.layerSize).toBe(7);
      expect(a?.layerKey).toBe('k3');
      expect(await s.markReady('missing')).toBe(false);
      expect((await s.setLayerIfUploading('missing', { key: 'k', size: 1, checksums: [] })).recorded).toBe(false);
    });

    test('a layer is recorded only over the json it was hashed with; markReady completes only the verified layer', async () => {
      const s = await open();
      const [j1, j2] = [enc.encode('{"id":"v","n":1}'), enc.encode('{"id":"v","n":2}')];
      await s.putImageIfUploading({ id: 'v', parent: null, json: j1, ancestry: ['v'] });
      // hashed with a json the image does not have (a PUT json replaced it during the upload)
      expect(await s.setLayerIfUploading('v', { key: 'k1', size: 1, checksums: ['sha256:1'], json: j2 })).toEqual({
        recorded: false,
        replacedKey: null,
      });
      expect(await s.getImage('v')).toMatchObject({ layerKey: null, layerSize: null, checksums: [] });
      expect(await s.setLayerIfUploading('v', { key: 'k1', size: 1, checksums: ['sha256:1'], json: j1 })).toEqual({
        recorded: true,
        replacedKey: null,
      });
      // a PUT json after k1 was verified clears the layer: k1 no longer completes the image
      expect(await s.putImageIfUploading({ id: 'v', parent: null, json: j2, ancestry: ['v'] })).toBe(true);
      expect(await s.markReady('v', 'k1')).toBe(false);
      expect(await s.setLayerIfUploading('v', { key: 'k2', size: 2, checksums: ['sha256:2'], json: j2 })).toEqual({
        recorded: true,
        replacedKey: 'k1',
      });
      // nor once another layer replaced it
      expect(await s.markReady('v', 'k1')).toBe(false);
      expect((await s.getImage('v'))?.state).toBe('uploading');
      expect(await s.markReady('v', 'k2')).toBe(true);
      expect(await s.getImage('v')).toMatchObject({ state: 'ready', layerKey: 'k2', layerSize: 2, checksums: ['sha256:2'] });
      expect(await s.markReady('v', 'k2')).toBe(false);
    });

    test('json bytes are kept exactly, ancestry in order', async () => {
      const s = await open();
      const raw = enc.encode('{"id": "b",   "parent":"a", "x": "\u00e9"}\n');
      await s.putImageIfUploading({ id: 'b', parent: 'a', json: raw, ancestry: ['b', 'a'] });
      const b = await s.getImage('b');
      expect(b?.json).toEqual(raw);
      expect(b?.ancestry).toEqual(['b', 'a']);
      expect(b?.parent).toBe('a');
    });

    test('files/diff caches only stick to ready images', async () => {
      const s = await open();
      await s.putImageIfUploading(img('c'));
      await s.setImageCache('c', 'files', '[]');
      expect(await s.getImageCache('c', 'files')).toBeNull();
      await s.setLayerIfUploading('c', { key: 'kc', size: 0, checksums: [] });
      await s.markReady('c');
      await s.setImageCache('c', 'files', '[["/x"]]');
      await s.setImageCache('c', 'diff', '{}');
      expect(await s.getImageCache('c', 'files')).toBe('[["/x"]]');
      expect(await s.getImageCache('c', 'diff')).toBe('{}');
    });

    test('tags: put, replace, list sorted, get, delete; repository created on demand', async () => {
      const s = await open();
      const ref = { namespace: 'ns', name: 'repo' };
      expect(await s.listTags(ref)).toBeNull();
      expect(await s.getTag(ref, 'latest')).toBeNull();
      await s.putTag(ref, { name: 'latest', imageId: 'a', metadata: '{"m":1}' });
      await s.putTag(ref, { name: 'abc', imageId: 'b', metadata: '{}' });
      await s.putTag(ref, { name: 'latest', imageId: 'c', metadata: '{"m":2}' });
      expect(await s.listTags(ref)).toEqual([
        { name: 'abc', imageId: 'b', metadata: '{}' },
        { name: 'latest', imageId: 'c', metadata: '{"m":2}' },
      ]);
      expect(await s.getTag(ref, 'latest')).toEqual({ name: 'latest', imageId: 'c', metadata: '{"m":2}' });
      expect(await s.getTag({ namespace: 'ns', name: 'other' }, 'latest')).toBeNull();
      expect(await s.deleteTag(ref, 'latest')).toBe(true);
      expect(await s.deleteTag(ref, 'latest')).toBe(false);
      expect(await s.deleteTag({ namespace: 'x', name: 'y' }, 'latest')).toBe(false);
      expect(await s.listTags(ref)).toEqual([{ name: 'abc', imageId: 'b', metadata: '{}' }]);
    });

    test('repositories: created on demand, private flag, delete cascades tags', async () => {
      const s = await open();
      const ref = { namespace: 'ns', name: 'r' };
      await createRepository(s, ref);
      expect(await s.getRepository(ref)).toMatchObject({ namespace: 'ns', name: 'r', private: false, description: '', indexImages: null });
      await s.setPrivate(ref, true);
      expect((await s.getRepository(ref))?.private).toBe(true);
      await s.setPrivate(ref, false);
      expect((await s.getRepository(ref))?.private).toBe(false);
      await s.putTag(ref, { name: 't', imageId: 'a', metadata: '{}' });
      expect(await s.deleteRepository(ref)).toBe(true);
      expect(await s.deleteRepository(ref)).toBe(false);
      expect(await s.getRepository(ref)).toBeNull();
      expect(await s.listTags(ref)).toBeNull();
      // a new repository of the same name starts empty
      await createRepository(s, ref);
      expect(await s.listTags(ref)).toEqual([]);
    });

    test('index images: created flag, merge function sees the current text', async () => {
      const s = await open();
      const ref = { namespace: 'ns', name: 'idx' };
      const seen: (string | null)[] = [];
      expect(await s.updateIndexImages(ref, (cur) => (seen.push(cur), '[1]'))).toEqual({ created: true });
      expect(await s.updateIndexImages(ref, (cur) => (seen.push(cur), '[1,2]'))).toEqual({ created: false });
      expect(seen).toEqual([null, '[1]']);
      expect((await s.getRepository(ref))?.indexImages).toBe('[1,2]');
    });

    test('users: create (false when taken), get, update, admin flag, delete', async () => {
      const s = await open();
      expect(await s.getUser('alice')).toBeNull();
      expect(await s.createUser({ username: 'alice', passwordHash: 'h1', email: 'a@x' })).toBe(true);
      expect(await s.createUser({ username: 'alice', passwordHash: 'h2', email: 'b@x' })).toBe(false);
      let a = await s.getUser('alice');
      expect(a).toMatchObject({ username: 'alice', passwordHash: 'h1', email: 'a@x', admin: false });
      expect(typeof a?.createdAt).toBe('number');
      expect(await s.updateUser('alice', { email: 'c@x' })).toBe(true);
      expect(await s.updateUser('alice', { passwordHash: 'h3' })).toBe(true);
      expect(await s.updateUser('alice', {})).toBe(true);
      expect(await s.updateUser('nobody', { email: 'z@x' })).toBe(false);
      expect(await s.updateUser('nobody', {})).toBe(false);
      a = await s.getUser('alice');
      expect(a).toMatchObject({ passwordHash: 'h3', email: 'c@x' });
      expect(await s.setUserAdmin('alice', true)).toBe(true);
      expect((await s.getUser('alice'))?.admin).toBe(true);
      expect(await s.setUserAdmin('alice', false)).toBe(true);
      expect((await s.getUser('alice'))?.admin).toBe(false);
      expect(await s.setUserAdmin('nobody', true)).toBe(false);
      expect(await s.createUser({ username: 'root', passwordHash: 'h', email: 'r@x', admin: true })).toBe(true);
      expect((await s.getUser('root'))?.admin).toBe(true);
      expect(await s.deleteUser('alice')).toBe(true);
      expect(await s.deleteUser('alice')).toBe(false);
      expect(await s.getUser('alice')).toBeNull();
    });

    test('repositories listing an image: by id in the index image list', async () => {
      const s = await open();
      const a = { namespace: 'ns', name: 'a' };
      const b = { namespace: 'ns', name: 'b' };
      await s.updateIndexImages(a, () => '[{"id": "i1"}, {"id": "i2", "checksum": "x"}]');
      await s.updateIndexImages(b, () => '[{"id":"i2"}]');
      await createRepository(s, { namespace: 'ns', name: 'c' });
      expect((await s.repositoriesListingImage('i1')).map((r) => r.name)).toEqual(['a']);
      expect((await s.repositoriesListingImage('i2')).map((r) => r.name)).toEqual(['a', 'b']);
      expect(await s.repositoriesListingImage('i')).toEqual([]);
      expect(await s.repositoriesListingImage('x')).toEqual([]);
      await s.setPrivate(b, true);
      const listing = await s.repositoriesListingImage('i2');
      expect(listing.map((r) => [r.name, r.private])).toEqual([
        ['a', false],
        ['b', true],
      ]);
    });

    test('search visibility: private repositories only for the namespaces given', async () => {
      const s = await open();
      for (const [ns, name] of [
        ['alice', 'secret'],
        ['alice', 'open'],
        ['bob', 'secret'],
      ] as const) {
        await createRepository(s, { namespace: ns, name });
      }
      await s.setPrivate({ namespace: 'alice', name: 'secret' }, true);
      await s.setPrivate({ namespace: 'bob', name: 'secret' }, true);
      const names = async (q: string, v?: Parameters<typeof s.search>[3]) => (await s.search(q, 10, 0, v)).results.map((r) => r.name).sort();
      for (const q of ['', 'se', 'secret']) {
        expect(await names(q)).toEqual(q === '' ? ['alice/open', 'alice/secret', 'bob/secret'] : ['alice/secret', 'bob/secret']);
        expect(await names(q, 'all')).toEqual(await names(q));
        expect(await names(q, { namespaces: [] })).toEqual(q === '' ? ['alice/open'] : []);
        expect(await names(q, { namespaces: ['alice'] })).toEqual(q === '' ? ['alice/open', 'alice/secret'] : ['alice/secret']);
        expect((await s.search(q, 10, 0, { namespaces: ['bob'] })).total).toBe(q === '' ? 2 : 1);
      }
    });

    test('search: substring, case-insensitive, ranked, paged, follows deletes', async () => {
      const s = await open();
      for (const [ns, name] of [
        ['library', 'ubuntu'],
        ['library', 'debian'],
        ['acme', 'ubuntu-tools'],
        ['zed', 'app'],
      ] as const) {
        await createRepository(s, { namespace: ns, name });
      }
      const all = await s.search('', 10, 0);
      expect(all.total).toBe(4);
      expect(all.results.map((r) => r.name)).toEqual(['acme/ubuntu-tools', 'library/debian', 'library/ubuntu', 'zed/app']);
      const ubu = await s.search('UBUNT', 10, 0);
      expect(ubu.total).toBe(2);
      // one ranking on every store: name matches first, then by name (byte order)
      expect(ubu.results.map((r) => r.name)).toEqual(['acme/ubuntu-tools', 'library/ubuntu']);
      expect((await s.search('ub', 10, 0)).total).toBe(2);
      expect((await s.search('z', 10, 0)).results.map((r) => r.name)).toEqual(['zed/app']);
      const page2 = await s.search('', 1, 1);
      expect(page2.total).toBe(4);
      expect(page2.results.map((r) => r.name)).toEqual(['library/debian']);
      for (const q of ['"', '*', 'a AND b', '(x', 'NEAR(', '%', '_', "'", '\\']) {
        const r = await s.search(q, 10, 0);
        expect(r.total).toBeGreaterThanOrEqual(0);
      }
      expect((await s.search('%', 10, 0)).total).toBe(0);
      expect((await s.search('_', 10, 0)).total).toBe(0);
      await s.deleteRepository({ namespace: 'library', name: 'ubuntu' });
      expect((await s.search('ubuntu', 10, 0)).results.map((r) => r.name)).toEqual(['acme/ubuntu-tools']);
      expect((await s.search('nothing-like-this', 10, 0)).total).toBe(0);
    });

    test('search ranking: name matches above description-only matches, for short and long terms alike', async () => {
      const s = await open();
      const repos = [
        { namespace: 'acme', name: 'base' },
        { namespace: 'zed', name: 'ubuntu' },
        { namespace: 'bob', name: 'other' },
        { namespace: 'amy', name: 'tools' },
      ];
      for (const ref of repos) await createRepository(s, ref);
      await setDescription({ namespace: 'acme', name: 'base' }, 'A base image for Ubuntu users');
      await setDescription({ namespace: 'bob', name: 'other' }, 'nothing to see');
      await setDescription({ namespace: 'amy', name: 'tools' }, 'UBUNTU TOOLS');
      // `acme/base` and `amy/tools` sort before `zed/ubuntu`, yet only their descriptions match
      for (const q of ['ubuntu', 'UBUNTU', 'Ubun', 'ub', 'U']) {
        const page = await s.search(q, 10, 0);
        const names = page.results.map((r) => r.name);
        expect(names).toEqual(['zed/ubuntu', 'acme/base', 'amy/tools']);
        expect(page.total).toBe(3);
      }
      // results carry the description; paging follows the ranking
      const all = (await s.search('ubuntu', 10, 0)).results;
      expect(all.find((r) => r.name === 'acme/base')?.description).toBe('A base image for Ubuntu users');
      expect(all.find((r) => r.name === 'zed/ubuntu')?.description).toBe('');
      const paged = [];
      for (let offset = 0; offset < 4; offset++) {
        const page = await s.search('ubuntu', 1, offset);
        expect(page.total).toBe(3);
        paged.push(...page.results);
      }
      expect(paged).toEqual(all);
      // descriptions match as substrings too, and wildcards in them are literal
      await setDescription({ namespace: 'bob', name: 'other' }, '100% free_software');
      expect((await s.search('% free_', 10, 0)).results.map((r) => r.name)).toEqual(['bob/other']);
      expect((await s.search('0%', 10, 0)).results.map((r) => r.name)).toEqual(['bob/other']);
      expect((await s.search('e_s', 10, 0)).results.map((r) => r.name)).toEqual(['bob/other']);
      // as wildcards these would match `100% f…` and `tools`
      expect((await s.search('1%f', 10, 0)).total).toBe(0);
      expect((await s.search('o_s', 10, 0)).total).toBe(0);
    });

    test('search visibility applies to description matches and to totals', async () => {
      const s = await open();
      const secret = { namespace: 'alice', name: 'secret' };
      const open_ = { namespace: 'carol', name: 'open' };
      await createRepository(s, secret);
      await createRepository(s, open_);
      await setDescription(secret, 'internal mirror of debian');
      await setDescription(open_, 'debian mirror');
      await s.setPrivate(secret, true);
      for (const q of ['mirror', 'MIRROR', 'de']) {
        expect((await s.search(q, 10, 0)).total).toBe(2);
        const hidden = await s.search(q, 10, 0, { namespaces: ['bob'] });
        expect(hidden).toEqual({ total: 1, results: [{ name: 'carol/open', description: 'debian mirror' }] });
        const shown = await s.search(q, 10, 0, { namespaces: ['alice'] });
        expect(shown.results.map((r) => r.name).sort()).toEqual(['alice/secret', 'carol/open']);
      }
    });
  });
}
