/**
 * (Over 300 lines on purpose: one contract, one suite — every method of src/db/meta.ts, V1, V2
 * and garbage collection, held to the same cases on every store.)
 *
 * The MetaStore contract, run against every implementation (SQLite, PostgreSQL).
 * Deliberately not named *.test.ts: implementation test files call `runMetaStoreSuite`.
 */
import { afterEach, describe, expect, test } from 'bun:test';
import type { ManifestReference, MetaStore, NewImage, NewManifest, RepoRef } from '../../src/db/meta.ts';

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
  /** Rows in a table, read behind the store's back (what the contract cannot show: references, cascades). */
  countRows: (table: string) => Promise<number>;
}

const blob = (n: string, key = `blobs/sha256/${n}`) => ({ digest: `sha256:${n}`, size: n.length * 10, key });
const manifest = (n: string, references: ManifestReference[] = [], subject: string | null = null, artifactType: string | null = null): NewManifest => ({
  digest: `sha256:${n}`,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  content: enc.encode(`{"schemaVersion":2,"n":"${n}"}`),
  subject,
  artifactType,
  references,
});
const blobRef = (n: string): ManifestReference => ({ digest: `sha256:${n}`, kind: 'blob' });
/** What a stored manifest reads back as (createdAt aside). */
const asRecord = (m: NewManifest) => ({ digest: m.digest, mediaType: m.mediaType, content: m.content, subject: m.subject, artifactType: m.artifactType });

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
    const countRows = (table: string) => handle!.countRows(table);
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

    test('putReadyImage records a complete image in one step, only when the id is new', async () => {
      const s = await open();
      const layer = { key: 'images/m/layer-1', size: 9, checksums: ['sha256:m'] };
      expect(await s.putReadyImage(img('m', 'p', ['m', 'p']), layer)).toBe(true);
      const m = await s.getImage('m');
      expect(m?.state).toBe('ready');
      expect(m?.parent).toBe('p');
      expect(m?.ancestry).toEqual(['m', 'p']);
      expect(m?.layerKey).toBe('images/m/layer-1');
      expect(m?.layerSize).toBe(9);
      expect(m?.checksums).toEqual(['sha256:m']);
      expect(new TextDecoder().decode(m!.json)).toBe('{"id":"m","parent":"p"}');
      // an existing image, ready or uploading, is left exactly as it is
      expect(await s.putReadyImage(img('m'), { key: 'other', size: 1, checksums: [] })).toBe(false);
      expect((await s.getImage('m'))?.layerKey).toBe('images/m/layer-1');
      expect(await s.putImageIfUploading(img('u'))).toBe(true);
      expect(await s.putReadyImage(img('u'), layer)).toBe(false);
      expect((await s.getImage('u'))?.state).toBe('uploading');
      expect((await s.getImage('u'))?.layerKey).toBeNull();
      // and it is as immutable as a pushed one
      expect(await s.putImageIfUploading(img('m'))).toBe(false);
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
    // ---- V2 ----

    test('putBlob: records and links in one call, creating the repository; the first record of a digest stands', async () => {
      const s = await open();
      const a = { namespace: 'ns', name: 'a' };
      const b = { namespace: 'ns', name: 'b' };
      expect(await s.getBlob('sha256:x')).toBeNull();
      expect(await s.getLinkedBlob(a, 'sha256:x')).toBeNull();
      const first = await s.putBlob(a, blob('x', 'k1'));
      expect(first.created).toBe(true);
      expect(first.blob).toMatchObject({ digest: 'sha256:x', size: 10, key: 'k1' });
      expect(typeof first.blob.createdAt).toBe('number');
      expect(await s.getRepository(a)).not.toBeNull();
      expect(await s.getBlob('sha256:x')).toEqual(first.blob);
      expect(await s.getLinkedBlob(a, 'sha256:x')).toEqual(first.blob);
      expect(await s.getLinkedBlob(b, 'sha256:x')).toBeNull();
      // a second copy of the same digest: the first record is kept, and linked into b
      const second = await s.putBlob(b, { digest: 'sha256:x', size: 10, key: 'k2' });
      expect(second).toEqual({ blob: first.blob, created: false });
      expect(await s.getLinkedBlob(b, 'sha256:x')).toEqual(first.blob);
      expect((await s.getBlob('sha256:x'))?.key).toBe('k1');
      // again into a repository that links it already
      expect(await s.putBlob(a, blob('x', 'k3'))).toEqual({ blob: first.blob, created: false });
      expect(await countRows('blobs')).toBe(1);
      expect(await countRows('repository_blobs')).toBe(2);
      // racing first records: exactly one is created, and every caller gets that one
      const raced = await Promise.all(['r1', 'r2', 'r3', 'r4'].map((k, i) => s.putBlob({ namespace: 'race', name: `r${i}` }, blob('y', k))));
      expect(raced.filter((r) => r.created)).toHaveLength(1);
      const winner = raced.find((r) => r.created)!.blob;
      for (const r of raced) expect(r.blob).toEqual(winner);
      expect(await s.getBlob('sha256:y')).toEqual(winner);
    });

    test('linkBlob: mounts an existing blob (creating the repository); an unknown digest writes nothing', async () => {
      const s = await open();
      const src = { namespace: 'ns', name: 'src' };
      const dst = { namespace: 'ns', name: 'dst' };
      expect(await s.linkBlob(dst, 'sha256:none')).toBeNull();
      expect(await s.getRepository(dst)).toBeNull();
      const { blob: stored } = await s.putBlob(src, blob('x'));
      expect(await s.linkBlob(dst, 'sha256:x')).toEqual(stored);
      expect(await s.getRepository(dst)).not.toBeNull();
      expect(await s.getLinkedBlob(dst, 'sha256:x')).toEqual(stored);
      expect(await s.linkBlob(dst, 'sha256:x')).toEqual(stored);
      expect(await countRows('repository_blobs')).toBe(2);
    });

    test('unlinkBlob: removes only that link; the blob stays', async () => {
      const s = await open();
      const a = { namespace: 'ns', name: 'a' };
      const b = { namespace: 'ns', name: 'b' };
      const { blob: stored } = await s.putBlob(a, blob('x'));
      await s.linkBlob(b, 'sha256:x');
      expect(await s.unlinkBlob(a, 'sha256:x')).toBe(true);
      expect(await s.unlinkBlob(a, 'sha256:x')).toBe(false);
      expect(await s.unlinkBlob({ namespace: 'no', name: 'repo' }, 'sha256:x')).toBe(false);
      expect(await s.getLinkedBlob(a, 'sha256:x')).toBeNull();
      expect(await s.getLinkedBlob(b, 'sha256:x')).toEqual(stored);
      expect(await s.getBlob('sha256:x')).toEqual(stored);
    });

    test('uploads: create, get, append only at the expected offset and chunk count', async () => {
      const s = await open();
      const id = 'a'.repeat(32);
      expect(await s.getUpload(id)).toBeNull();
      const created = await s.createUpload(id, { namespace: 'ns', name: 'r/x' });
      expect(created).toMatchObject({ id, repository: 'ns/r/x', offset: 0, chunks: 0 });
      expect(created.updatedAt).toBe(created.createdAt);
      expect(await s.getUpload(id)).toEqual(created);
      const one = await s.appendUpload(id, { offset: 0, chunks: 0 }, 10);
      expect(one).toMatchObject({ id, repository: 'ns/r/x', offset: 10, chunks: 1, createdAt: created.createdAt });
      expect(one!.updatedAt).toBeGreaterThanOrEqual(created.updatedAt);
      // a stale expectation (a concurrent PATCH won) changes nothing
      expect(await s.appendUpload(id, { offset: 0, chunks: 0 }, 5)).toBeNull();
      expect(await s.appendUpload(id, { offset: 10, chunks: 0 }, 5)).toBeNull();
      expect(await s.appendUpload(id, { offset: 0, chunks: 1 }, 5)).toBeNull();
      expect(await s.getUpload(id)).toEqual(one);
      expect(one).toMatchObject({ digest: null });
      expect(await s.appendUpload(id, { offset: 10, chunks: 1 }, 5, `sha256:${'c'.repeat(64)}`)).toMatchObject({ offset: 15, chunks: 2, digest: `sha256:${'c'.repeat(64)}` });
      expect((await s.getUpload(id))?.digest).toBe(`sha256:${'c'.repeat(64)}`);
      expect(await s.appendUpload('b'.repeat(32), { offset: 0, chunks: 0 }, 5)).toBeNull();
      // racing appends at the same point: one wins
      const raced = await Promise.all([1, 2, 3].map((n) => s.appendUpload(id, { offset: 15, chunks: 2 }, n)));
      expect(raced.filter((r) => r !== null)).toHaveLength(1);
      expect((await s.getUpload(id))?.chunks).toBe(3);
      // an append whose digest is unknown forgets the one before (it no longer covers every byte)
      expect((await s.getUpload(id))?.digest).toBeNull();
    });

    test('uploads: chunk names start empty, are replaced only by an append that wins, and kept by one that gives none', async () => {
      const s = await open();
      const id = 'e'.repeat(32);
      expect((await s.createUpload(id, { namespace: 'ns', name: 'r' })).chunkNames).toBe('');
      expect(await s.appendUpload(id, { offset: 0, chunks: 0 }, 3, null, '0-aa')).toMatchObject({ chunks: 1, chunkNames: '0-aa' });
      // the loser of a race for the same chunk leaves the winner's names
      expect(await s.appendUpload(id, { offset: 0, chunks: 0 }, 4, null, '0-bb')).toBeNull();
      expect(await s.appendUpload(id, { offset: 3, chunks: 1 }, 4, null, '0-aa 1-cc')).toMatchObject({ offset: 7, chunks: 2, chunkNames: '0-aa 1-cc' });
      expect(await s.appendUpload(id, { offset: 7, chunks: 2 }, 1)).toMatchObject({ chunks: 3, chunkNames: '0-aa 1-cc' });
      expect((await s.getUpload(id))?.chunkNames).toBe('0-aa 1-cc');
      expect((await s.staleUploads(Date.now() + 1000, 10)).find((u) => u.id === id)?.chunkNames).toBe('0-aa 1-cc');
    });

    test('deleteUpload: true for exactly one caller', async () => {
      const s = await open();
      const id = 'c'.repeat(32);
      await s.createUpload(id, { namespace: 'ns', name: 'r' });
      const results = await Promise.all([0, 1, 2, 3].map(() => s.deleteUpload(id)));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await s.deleteUpload(id)).toBe(false);
      expect(await s.getUpload(id)).toBeNull();
      expect(await s.appendUpload(id, { offset: 0, chunks: 0 }, 1)).toBeNull();
    });

    test('deleteUpload with idleBefore: only a session last touched before that time', async () => {
      const s = await open();
      const id = 'f'.repeat(32);
      const created = await s.createUpload(id, { namespace: 'ns', name: 'r' });
      // touched at (not before) the time: kept
      expect(await s.deleteUpload(id, created.updatedAt)).toBe(false);
      await Bun.sleep(3);
      const moved = await s.appendUpload(id, { offset: 0, chunks: 0 }, 1);
      // listed as idle before the append, moved on since: kept
      expect(await s.deleteUpload(id, moved!.updatedAt - 1)).toBe(false);
      expect(await s.getUpload(id)).toEqual(moved);
      expect(await s.deleteUpload(id, moved!.updatedAt + 1)).toBe(true);
      expect(await s.deleteUpload(id, moved!.updatedAt + 1)).toBe(false);
    });

    test('staleUploads: last touched before the time given, oldest first, at most limit', async () => {
      const s = await open();
      const ref = { namespace: 'ns', name: 'r' };
      const [id1, id2, id3] = ['1', '2', '3'].map((c) => c.repeat(32)) as [string, string, string];
      const ids = [id1, id2, id3];
      for (const id of ids) {
        await s.createUpload(id, ref);
        await Bun.sleep(3);
      }
      const after = Date.now() + 1;
      expect((await s.staleUploads(after, 10)).map((u) => u.id)).toEqual(ids);
      expect((await s.staleUploads(after, 2)).map((u) => u.id)).toEqual(ids.slice(0, 2));
      const second = (await s.getUpload(id2))!;
      // strictly before: the second session is not stale at its own time
      expect((await s.staleUploads(second.updatedAt, 10)).map((u) => u.id)).toEqual([id1]);
      expect(await s.staleUploads(0, 10)).toEqual([]);
      // a chunk touches the session: it is now the newest
      await Bun.sleep(3);
      await s.appendUpload(id1, { offset: 0, chunks: 0 }, 4);
      const stale = await s.staleUploads(Date.now() + 1, 10);
      expect(stale.map((u) => u.id)).toEqual([id2, id3, id1]);
      expect(stale[0]).toEqual(second);
    });

    test('putManifest: stores exact bytes and references, keeps an existing digest, creates the repository', async () => {
      const s = await open();
      const ref = { namespace: 'ns', name: 'm' };
      const m1 = { ...manifest('m1', [blobRef('c'), blobRef('l1'), blobRef('l1')]), content: new Uint8Array([0x7b, 0, 0xff, 0x0a, 0x7d]) };
      expect(await s.getManifest(ref, m1.digest)).toBeNull();
      await s.putManifest(ref, m1);
      expect(await s.getRepository(ref)).not.toBeNull();
      const stored = await s.getManifest(ref, m1.digest);
      expect(stored).toMatchObject(asRecord(m1));
      expect(stored?.content).toEqual(new Uint8Array([0x7b, 0, 0xff, 0x0a, 0x7d]));
      expect(typeof stored?.createdAt).toBe('number');
      expect(await countRows('manifest_references')).toBe(2);
      // only in that repository
      expect(await s.getManifest({ namespace: 'ns', name: 'other' }, m1.digest)).toBeNull();
      // the same digest again (even told otherwise) keeps the stored manifest and its references
      await s.putManifest(ref, { ...manifest('m1', [blobRef('z')]), mediaType: 'other/type' });
      expect(await s.getManifest(ref, m1.digest)).toEqual(stored);
      expect(await countRows('manifest_references')).toBe(2);
      // the same digest in another repository is a manifest of its own
      await s.putManifest({ namespace: 'ns', name: 'other' }, manifest('m1', [blobRef('c')]));
      expect(await countRows('manifests')).toBe(2);
      expect(await countRows('manifest_references')).toBe(3);
    });

    test('putManifest with a tag: points it at the manifest, moves it, clears its V1 image', async () => {
      const s = await open();
      const ref = { namespace: 'ns', name: 't' };
      const [m1, m2] = [manifest('m1'), manifest('m2')];
      expect(await s.getTaggedManifest(ref, 'latest')).toBeNull();
      await s.putManifest(ref, m1, 'latest');
      expect(await s.getTaggedManifest(ref, 'latest')).toMatchObject(asRecord(m1));
      await s.putManifest(ref, m2, 'latest');
      expect(await s.getTaggedManifest(ref, 'latest')).toMatchObject(asRecord(m2));
      expect(await s.getManifest(ref, m1.digest)).toMatchObject(asRecord(m1));
      // a V1 tag taken over by a V2 push: V1 no longer sees it
      await s.putTag(ref, { name: 'old', imageId: 'img', metadata: '{"m":1}' });
      expect((await s.getTag(ref, 'old'))?.imageId).toBe('img');
      expect(await s.getTaggedManifest(ref, 'old')).toBeNull();
      await s.putManifest(ref, m1, 'old');
      expect(await s.getTag(ref, 'old')).toBeNull();
      expect(await s.listTags(ref)).toEqual([]);
      expect(await s.getTaggedManifest(ref, 'old')).toMatchObject(asRecord(m1));
      expect(await s.listTagNames(ref)).toEqual(['latest', 'old']);
      // putting a kept manifest under a new tag still tags it
      await s.putManifest(ref, manifest('m2', [blobRef('ignored')]), 'again');
      expect(await s.getTaggedManifest(ref, 'again')).toMatchObject(asRecord(m2));
      expect(await s.getTaggedManifest({ namespace: 'ns', name: 'none' }, 'latest')).toBeNull();
    });

    test('V1 tags: V2-only tags are hidden; putTag takes a V2 tag back and clears its manifest', async () => {
      const s = await open();
      const ref = { namespace: 'ns', name: 'v' };
      await s.putManifest(ref, manifest('m1'), 'v2');
      expect(await s.listTags(ref)).toEqual([]);
      expect(await s.getTag(ref, 'v2')).toBeNull();
      await s.putTag(ref, { name: 'v1', imageId: 'i1', metadata: '{}' });
      expect(await s.listTags(ref)).toEqual([{ name: 'v1', imageId: 'i1', metadata: '{}' }]);
      expect(await s.listTagNames(ref)).toEqual(['v1', 'v2']);
      await s.putTag(ref, { name: 'v2', imageId: 'i2', metadata: '{"x":1}' });
      expect(await s.getTaggedManifest(ref, 'v2')).toBeNull();
      expect(await s.getTag(ref, 'v2')).toEqual({ name: 'v2', imageId: 'i2', metadata: '{"x":1}' });
      expect((await s.listTags(ref))?.map((t) => t.name)).toEqual(['v1', 'v2']);
      // deleteTag deletes whichever protocol set the tag
      await s.putManifest(ref, manifest('m1'), 'only-v2');
      expect(await s.deleteTag(ref, 'only-v2')).toBe(true);
      expect(await s.getTaggedManifest(ref, 'only-v2')).toBeNull();
      expect(await s.listTagNames(ref)).toEqual(['v1', 'v2']);
    });

    test('deleteManifest: the manifest, its references and the tags pointing at it; false when absent', async () => {
      const s = await open();
      const ref = { namespace: 'ns', name: 'd' };
      const other = { namespace: 'ns', name: 'other' };
      const [m1, m2] = [manifest('m1', [blobRef('a'), blobRef('b')]), manifest('m2', [blobRef('a')])];
      await s.putManifest(ref, m1, 'a');
      await s.putManifest(ref, m1, 'b');
      await s.putManifest(ref, m2, 'c');
      await s.putTag(ref, { name: 'v1', imageId: 'i', metadata: '{}' });
      await s.putManifest(other, m1, 'a');
      expect(await countRows('manifest_references')).toBe(5);
      expect(await s.deleteManifest(ref, m1.digest)).toBe(true);
      expect(await s.deleteManifest(ref, m1.digest)).toBe(false);
      expect(await s.deleteManifest({ namespace: 'no', name: 'repo' }, m1.digest)).toBe(false);
      expect(await s.getManifest(ref, m1.digest)).toBeNull();
      expect(await s.getTaggedManifest(ref, 'a')).toBeNull();
      expect(await s.listTagNames(ref)).toEqual(['c', 'v1']);
      expect(await countRows('manifest_references')).toBe(3);
      // the other repository's copy and tag are untouched
      expect(await s.getTaggedManifest(other, 'a')).toMatchObject(asRecord(m1));
      // once deleted, the digest can be stored afresh
      await s.putManifest(ref, manifest('m1', [blobRef('c')]), 'a');
      expect(await countRows('manifest_references')).toBe(4);
    });

    test('listReferrers: full records of that repository whose subject is the digest, by digest', async () => {
      const s = await open();
      const ref = { namespace: 'ns', name: 'r' };
      const subject = manifest('subject');
      await s.putManifest(ref, subject);
      const r2 = manifest('r2', [], subject.digest, 'application/x-sig');
      const r1 = manifest('r1', [blobRef('c')], subject.digest, null);
      await s.putManifest(ref, r2);
      await s.putManifest(ref, r1);
      await s.putManifest(ref, manifest('r3', [], 'sha256:elsewhere'));
      await s.putManifest({ namespace: 'ns', name: 'other' }, manifest('r4', [], subject.digest));
      const referrers = await s.listReferrers(ref, subject.digest);
      expect(referrers.map(({ createdAt: _, ...r }) => r)).toEqual([asRecord(r1), asRecord(r2)]);
      expect(await s.listReferrers(ref, 'sha256:none')).toEqual([]);
      expect(await s.listReferrers({ namespace: 'no', name: 'repo' }, subject.digest)).toEqual([]);
    });

    test('listTagNames: V1 and V2 tags, byte order, paged by last and n; null without the repository', async () => {
      const s = await open();
      const ref = { namespace: 'ns', name: 'p' };
      expect(await s.listTagNames(ref)).toBeNull();
      await createRepository(s, ref);
      expect(await s.listTagNames(ref)).toEqual([]);
      await s.putTag(ref, { name: 'b', imageId: 'i', metadata: '{}' });
      await s.putManifest(ref, manifest('m'), 'a');
      await s.putTag(ref, { name: 'B', imageId: 'i', metadata: '{}' });
      await s.putManifest(ref, manifest('m'), 'a-1');
      await s.putTag({ namespace: 'ns', name: 'elsewhere' }, { name: 'A', imageId: 'i', metadata: '{}' });
      expect(await s.listTagNames(ref)).toEqual(['B', 'a', 'a-1', 'b']);
      expect(await s.listTagNames(ref, { n: 2 })).toEqual(['B', 'a']);
      expect(await s.listTagNames(ref, { last: 'a', n: 2 })).toEqual(['a-1', 'b']);
      expect(await s.listTagNames(ref, { last: 'B' })).toEqual(['a', 'a-1', 'b']);
      expect(await s.listTagNames(ref, { last: '' })).toEqual(['B', 'a', 'a-1', 'b']);
      expect(await s.listTagNames(ref, { last: 'a-0' })).toEqual(['a-1', 'b']);
      expect(await s.listTagNames(ref, { last: 'b' })).toEqual([]);
      expect(await s.listTagNames(ref, { n: 0 })).toEqual([]);
      expect(await s.listTagNames(ref, { n: 10 })).toEqual(['B', 'a', 'a-1', 'b']);
      // the listing follows writes
      await s.deleteTag(ref, 'a');
      expect(await s.listTagNames(ref, { n: 2 })).toEqual(['B', 'a-1']);
    });

    test('listRepositories: full names, byte order, paged by last and n', async () => {
      const s = await open();
      expect(await s.listRepositories()).toEqual([]);
      for (const [namespace, name] of [['ns', 'b'], ['ns', 'B'], ['a', 'x/y'], ['A', 'x'], ['library', 'ubuntu']]) {
        await createRepository(s, { namespace: namespace!, name: name! });
      }
      const all = ['A/x', 'a/x/y', 'library/ubuntu', 'ns/B', 'ns/b'];
      expect(await s.listRepositories()).toEqual(all);
      expect(await s.listRepositories({ n: 2 })).toEqual(all.slice(0, 2));
      expect(await s.listRepositories({ last: 'a/x/y', n: 2 })).toEqual(['library/ubuntu', 'ns/B']);
      expect(await s.listRepositories({ last: 'ns/B' })).toEqual(['ns/b']);
      expect(await s.listRepositories({ last: 'ns/b' })).toEqual([]);
      expect(await s.listRepositories({ n: 0 })).toEqual([]);
      await s.deleteRepository({ namespace: 'ns', name: 'B' });
      expect(await s.listRepositories({ last: 'library/ubuntu' })).toEqual(['ns/b']);
    });

    test('deleteRepository takes its V2 rows along (links, manifests, references, tags); blobs and sessions stay', async () => {
      const s = await open();
      const ref = { namespace: 'ns', name: 'gone' };
      const kept = { namespace: 'ns', name: 'kept' };
      await s.putBlob(ref, blob('x'));
      await s.putBlob(kept, blob('y'));
      await s.putManifest(ref, manifest('m1', [blobRef('x')]), 'latest');
      await s.putManifest(ref, manifest('ref', [blobRef('x')], 'sha256:m1'));
      await s.putManifest(kept, manifest('m2', [blobRef('y')]), 'latest');
      await s.createUpload('e'.repeat(32), ref);
      expect(await s.deleteRepository(ref)).toBe(true);
      expect(await countRows('repository_blobs')).toBe(1);
      expect(await countRows('manifests')).toBe(1);
      expect(await countRows('manifest_references')).toBe(1);
      expect(await countRows('tags')).toBe(1);
      expect(await countRows('blobs')).toBe(2);
      expect(await s.getBlob('sha256:x')).not.toBeNull();
      expect(await s.getUpload('e'.repeat(32))).not.toBeNull();
      expect(await s.getTaggedManifest(kept, 'latest')).toMatchObject(asRecord(manifest('m2')));
      // a new repository of that name starts without them
      await createRepository(s, ref);
      expect(await s.getLinkedBlob(ref, 'sha256:x')).toBeNull();
      expect(await s.getManifest(ref, 'sha256:m1')).toBeNull();
      expect(await s.listTagNames(ref)).toEqual([]);
      expect(await s.listReferrers(ref, 'sha256:m1')).toEqual([]);
    });

    // ---- garbage collection ----

    /** An image made ready with a layer under `key` (ancestry from the parent's). */
    const readyImage = async (s: MetaStore, id: string, parent: string | null = null, key = `images/${id}/layer`) => {
      const ancestry = parent ? [id, ...(await s.getImage(parent))!.ancestry] : [id];
      await s.putImageIfUploading(img(id, parent, ancestry));
      await s.setLayerIfUploading(id, { key, size: id.length, checksums: [] });
      await s.markReady(id);
    };
    /** All pages of a paged scan. */
    const all = async <T>(scan: (after: string | null, limit: number) => Promise<T[]>, keyOf: (t: T) => string, limit = 2): Promise<T[]> => {
      const out: T[] = [];
      for (let after: string | null = null; ; ) {
        const page = await scan(after, limit);
        out.push(...page);
        if (page.length < limit) return out;
        after = keyOf(page[page.length - 1]!);
      }
    };
    const FUTURE = () => Date.now() + 60_000;

    test('touchImage/touchBlob: write only when last used before the time given; say whether the row exists', async () => {
      const s = await open();
      const ref = { namespace: 'ns', name: 't' };
      expect(await s.touchImage('none', Date.now())).toBe(false);
      expect(await s.touchBlob('sha256:none', Date.now())).toBe(false);
      await readyImage(s, 'a');
      await s.putBlob(ref, blob('x'));
      const lastUsed = async () => ({
        image: (await s.collectableImages(null, 10)).find((i) => i.id === 'a')!.lastUsed,
        blob: (await s.collectableBlobs(null, 10)).find((b) => b.digest === 'sha256:x')!.lastUsed,
      });
      const before = await lastUsed();
      // fresh enough: nothing written
      expect(await s.touchImage('a', before.image)).toBe(true);
      expect(await s.touchBlob('sha256:x', before.blob)).toBe(true);
      expect(await lastUsed()).toEqual(before);
      await Bun.sleep(5);
      const now = Date.now();
      expect(await s.touchImage('a', now)).toBe(true);
      expect(await s.touchBlob('sha256:x', now)).toBe(true);
      const after = await lastUsed();
      expect(after.image).toBeGreaterThanOrEqual(now);
      expect(after.blob).toBeGreaterThanOrEqual(now);
    });

    test('linkBlob and putBlob of a known digest touch it; records never show the touch', async () => {
      const s = await open();
      const { blob: stored } = await s.putBlob({ namespace: 'ns', name: 'a' }, blob('x'));
      const used = async () => (await s.collectableBlobs(null, 10))[0]!.lastUsed;
      const first = await used();
      await Bun.sleep(5);
      expect(await s.linkBlob({ namespace: 'ns', name: 'b' }, 'sha256:x')).toEqual(stored);
      const linked = await used();
      expect(linked).toBeGreaterThan(first);
      await Bun.sleep(5);
      expect(await s.putBlob({ namespace: 'ns', name: 'c' }, blob('x', 'other'))).toEqual({ blob: stored, created: false });
      expect(await used()).toBeGreaterThan(linked);
      expect(await s.getBlob('sha256:x')).toEqual(stored);
    });

    test('putTag with verify: only while the image and its whole ancestry exist', async () => {
      const s = await open();
      const ref = { namespace: 'ns', name: 'v' };
      expect(await s.putTag(ref, { name: 't', imageId: 'none', metadata: '{}' }, { verify: true })).toBe(false);
      expect(await s.getTag(ref, 't')).toBeNull();
      await readyImage(s, 'base');
      await readyImage(s, 'top', 'base');
      expect(await s.putTag(ref, { name: 't', imageId: 'top', metadata: '{}' }, { verify: true })).toBe(true);
      expect((await s.getTag(ref, 't'))?.imageId).toBe('top');
      // an ancestor gone (what a collection racing the push could do): refused
      await s.putImageIfUploading(img('orphan', 'gone', ['orphan', 'gone']));
      expect(await s.putTag(ref, { name: 'u', imageId: 'orphan', metadata: '{}' }, { verify: true })).toBe(false);
      expect(await s.getTag(ref, 'u')).toBeNull();
      // without verify the write is taken as given
      expect(await s.putTag(ref, { name: 'u', imageId: 'orphan', metadata: '{}' })).toBe(true);
    });

    test('putManifest with verify: blobs linked in the repository, child manifests in it; else the first missing, nothing written', async () => {
      const s = await open();
      const ref = { namespace: 'ns', name: 'm' };
      const other = { namespace: 'ns', name: 'other' };
      await s.putBlob(other, blob('l1'));
      const m1 = manifest('m1', [blobRef('l1'), blobRef('c')]);
      // linked elsewhere only
      expect(await s.putManifest(ref, m1, 'latest', { verify: true })).toBe('sha256:l1');
      expect(await s.getManifest(ref, m1.digest)).toBeNull();
      expect(await s.getTaggedManifest(ref, 'latest')).toBeNull();
      await s.linkBlob(ref, 'sha256:l1');
      expect(await s.putManifest(ref, m1, 'latest', { verify: true })).toBe('sha256:c');
      await s.putBlob(ref, blob('c'));
      expect(await s.putManifest(ref, m1, 'latest', { verify: true })).toBeNull();
      expect(await s.getTaggedManifest(ref, 'latest')).toMatchObject(asRecord(m1));
      const index = manifest('idx', [{ digest: 'sha256:m1', kind: 'manifest' }, { digest: 'sha256:m2', kind: 'manifest' }]);
      expect(await s.putManifest(ref, index, undefined, { verify: true })).toBe('sha256:m2');
      await s.putManifest(ref, manifest('m2'));
      expect(await s.putManifest(ref, index, undefined, { verify: true })).toBeNull();
      // a stored manifest needs no check (what it references is never collected)
      expect(await s.putManifest(ref, manifest('m2', [blobRef('gone')]), 'again', { verify: true })).toBeNull();
      expect(await s.getTaggedManifest(ref, 'again')).toMatchObject(asRecord(manifest('m2')));
    });

    test('bridgeTag only while the image chain and the manifest exist', async () => {
      const s = await open();
      const ref = { namespace: 'ns', name: 'b' };
      await s.putManifest(ref, manifest('m1'), 'latest');
      expect(await s.bridgeTag(ref, 'latest', 'none', 'sha256:m1')).toBe(false);
      await readyImage(s, 'i1');
      expect(await s.bridgeTag(ref, 'latest', 'i1', 'sha256:m1')).toBe(true);
      expect((await s.getTag(ref, 'latest'))?.imageId).toBe('i1');
      await readyImage(s, 'i2');
      await s.putTag(ref, { name: 'v1', imageId: 'i2', metadata: '{}' });
      expect(await s.bridgeTag(ref, 'v1', 'i2', 'sha256:nothere')).toBe(false);
      expect(await s.getTaggedManifest(ref, 'v1')).toBeNull();
    });

    test('putLayerBlob: a V1 layer becomes a blob only while the image names the key; a known digest is kept', async () => {
      const s = await open();
      const ref = { namespace: 'ns', name: 'l' };
      await readyImage(s, 'i', null, 'images/i/layer');
      expect(await s.putLayerBlob(ref, 'i', blob('x', 'images/i/other'))).toBeNull();
      expect(await s.putLayerBlob(ref, 'gone', blob('x', 'images/gone/layer'))).toBeNull();
      expect(await s.getBlob('sha256:x')).toBeNull();
      expect(await s.getRepository(ref)).toBeNull();
      const stored = await s.putLayerBlob(ref, 'i', blob('x', 'images/i/layer'));
      expect(stored).toMatchObject({ digest: 'sha256:x', key: 'images/i/layer' });
      expect(await s.getLinkedBlob(ref, 'sha256:x')).toEqual(stored);
      // known already: kept (whatever image is named) and linked
      const other = { namespace: 'ns', name: 'o' };
      expect(await s.putLayerBlob(other, 'gone', blob('x', 'images/gone/layer'))).toEqual(stored);
      expect(await s.getLinkedBlob(other, 'sha256:x')).toEqual(stored);
    });

    test('setLayerIfUploading with a blob: recorded only while that blob names the key', async () => {
      const s = await open();
      await s.putBlob({ namespace: 'ns', name: 'r' }, blob('x', 'blobs/x'));
      await s.putImageIfUploading(img('a'));
      expect((await s.setLayerIfUploading('a', { key: 'blobs/y', size: 1, checksums: [], blob: 'sha256:x' })).recorded).toBe(false);
      expect((await s.setLayerIfUploading('a', { key: 'blobs/x', size: 1, checksums: [], blob: 'sha256:y' })).recorded).toBe(false);
      expect((await s.getImage('a'))?.layerKey).toBeNull();
      expect((await s.setLayerIfUploading('a', { key: 'blobs/x', size: 1, checksums: [], blob: 'sha256:x' })).recorded).toBe(true);
      expect((await s.getImage('a'))?.layerKey).toBe('blobs/x');
    });

    test('the collector scans: images, tagged image ids and blobs, paged in byte order', async () => {
      const s = await open();
      const ref = { namespace: 'ns', name: 's' };
      for (const id of ['b', 'a', 'C', 'd']) await readyImage(s, id);
      await s.putImageIfUploading(img('e', 'd', ['e', 'd']));
      await s.putTag(ref, { name: 't1', imageId: 'd', metadata: '{}' });
      await s.putTag(ref, { name: 't2', imageId: 'a', metadata: '{}' });
      await s.putTag({ namespace: 'ns', name: 'x' }, { name: 't', imageId: 'd', metadata: '{}' });
      await s.putManifest(ref, manifest('m'), 'v2');
      const images = await all((a, n) => s.collectableImages(a, n), (i) => i.id);
      expect(images.map((i) => i.id)).toEqual(['C', 'a', 'b', 'd', 'e']);
      expect(images.find((i) => i.id === 'e')).toMatchObject({ parent: 'd', ancestry: ['e', 'd'], layerKey: null, layerSize: 0 });
      expect(images.find((i) => i.id === 'b')).toMatchObject({ parent: null, ancestry: ['b'], layerKey: 'images/b/layer', layerSize: 1 });
      expect(typeof images[0]!.lastUsed).toBe('number');
      expect(await all((a, n) => s.taggedImageIds(a, n), (id) => id)).toEqual(['a', 'd']);
      await s.putBlob(ref, blob('z'));
      await s.putBlob(ref, blob('y'));
      await s.putBlob(ref, blob('x'));
      await s.putManifest(ref, manifest('m1', [blobRef('y')]));
      const blobs = await all((a, n) => s.collectableBlobs(a, n), (b) => b.digest);
      expect(blobs.map((b) => [b.digest, b.key, b.size, b.referenced])).toEqual([
        ['sha256:x', 'blobs/sha256/x', 10, false],
        ['sha256:y', 'blobs/sha256/y', 10, true],
        ['sha256:z', 'blobs/sha256/z', 10, false],
      ]);
    });

    test('deleteImageIfUnused: never a tagged image, a parent, or one used since the cut-off', async () => {
      const s = await open();
      const ref = { namespace: 'ns', name: 'd' };
      await readyImage(s, 'base');
      await readyImage(s, 'mid', 'base');
      await readyImage(s, 'top', 'mid');
      await readyImage(s, 'tagged');
      await s.putTag(ref, { name: 't', imageId: 'tagged', metadata: '{}' });
      expect(await s.deleteImageIfUnused('none', FUTURE())).toBeNull();
      expect(await s.deleteImageIfUnused('tagged', FUTURE())).toBeNull();
      expect(await s.deleteImageIfUnused('mid', FUTURE())).toBeNull();
      // too recent for this cut-off
      expect(await s.deleteImageIfUnused('top', Date.now() - 60_000)).toBeNull();
      expect(await s.deleteImageIfUnused('top', FUTURE())).toEqual({ key: 'images/top/layer', size: 3 });
      expect(await s.getImage('top')).toBeNull();
      // a touch after the cut-off keeps it
      const cutoff = Date.now() + 1;
      await Bun.sleep(5);
      expect(await s.touchImage('mid', Date.now() + 1)).toBe(true);
      expect(await s.deleteImageIfUnused('mid', cutoff)).toBeNull();
      expect(await s.deleteImageIfUnused('mid', FUTURE())).toEqual({ key: 'images/mid/layer', size: 3 });
      expect(await s.deleteImageIfUnused('base', FUTURE())).toEqual({ key: 'images/base/layer', size: 4 });
      await s.deleteTag(ref, 't');
      expect(await s.deleteImageIfUnused('tagged', FUTURE())).not.toBeNull();
      expect(await countRows('images')).toBe(0);
    });

    test('deleteBlobIfUnused: never a referenced or recently used blob; its links go with it', async () => {
      const s = await open();
      const ref = { namespace: 'ns', name: 'b' };
      await s.putBlob(ref, blob('kept'));
      await s.putBlob(ref, blob('gone'));
      await s.linkBlob({ namespace: 'ns', name: 'other' }, 'sha256:gone');
      await s.putManifest(ref, manifest('m', [blobRef('kept')]));
      expect(await s.deleteBlobIfUnused('sha256:none', FUTURE())).toBeNull();
      expect(await s.deleteBlobIfUnused('sha256:kept', FUTURE())).toBeNull();
      expect(await s.deleteBlobIfUnused('sha256:gone', Date.now() - 60_000)).toBeNull();
      expect(await s.deleteBlobIfUnused('sha256:gone', FUTURE())).toEqual({ key: 'blobs/sha256/gone', size: 40 });
      expect(await s.getBlob('sha256:gone')).toBeNull();
      expect(await countRows('repository_blobs')).toBe(1);
      await s.deleteManifest(ref, 'sha256:m');
      expect(await s.deleteBlobIfUnused('sha256:kept', FUTURE())).toEqual({ key: 'blobs/sha256/kept', size: 40 });
      expect(await countRows('blobs')).toBe(0);
    });

    test('keysInUse: the keys an image layer or a blob names', async () => {
      const s = await open();
      await readyImage(s, 'i', null, 'images/i/layer');
      await s.putBlob({ namespace: 'ns', name: 'r' }, blob('x', 'blobs/x'));
      expect((await s.keysInUse(['images/i/layer', 'blobs/x', 'blobs/y', 'images/j/layer'])).sort()).toEqual(['blobs/x', 'images/i/layer']);
      expect(await s.keysInUse([])).toEqual([]);
      const many = Array.from({ length: 1200 }, (_, i) => `k/${i}`);
      expect(await s.keysInUse([...many, 'blobs/x'])).toEqual(['blobs/x']);
    });

    test('leases: one holder at a time; renewed by its holder; taken over once expired; released by its holder only', async () => {
      const s = await open();
      const a = await s.acquireLease('gc', 'A', 60_000);
      expect(a).toMatchObject({ held: true, holder: 'A' });
      expect(a.expiresAt).toBeGreaterThan(Date.now() + 50_000);
      expect(await s.acquireLease('gc', 'B', 60_000)).toEqual({ held: false, holder: 'A', expiresAt: a.expiresAt });
      expect((await s.acquireLease('other', 'B', 60_000)).held).toBe(true);
      const renewed = await s.acquireLease('gc', 'A', 120_000);
      expect(renewed.held).toBe(true);
      expect(renewed.expiresAt).toBeGreaterThan(a.expiresAt);
      expect(await s.releaseLease('gc', 'B')).toBe(false);
      expect(await s.releaseLease('gc', 'A')).toBe(true);
      expect(await s.releaseLease('gc', 'A')).toBe(false);
      expect((await s.acquireLease('gc', 'B', 1)).held).toBe(true);
      await Bun.sleep(5);
      expect(await s.acquireLease('gc', 'A', 60_000)).toMatchObject({ held: true, holder: 'A' });
      // racing takers of a free lease: exactly one holds it
      await s.releaseLease('gc', 'A');
      const raced = await Promise.all(['1', '2', '3', '4', '5'].map((h) => s.acquireLease('gc', h, 60_000)));
      expect(raced.filter((r) => r.held)).toHaveLength(1);
    });

    test('releasing content touches it: deleting or moving a tag, deleting a manifest or a repository', async () => {
      const s = await open();
      const ref = { namespace: 'ns', name: 'rel' };
      for (const id of ['i1', 'i2', 'i3', 'i4']) await readyImage(s, id);
      await s.putBlob(ref, blob('b1'));
      await s.putBlob(ref, blob('b2'));
      await s.putTag(ref, { name: 'deleted', imageId: 'i1', metadata: '{}' });
      await s.putTag(ref, { name: 'moved', imageId: 'i2', metadata: '{}' });
      await s.putTag(ref, { name: 'taken', imageId: 'i3', metadata: '{}' });
      await s.putManifest(ref, manifest('m1', [blobRef('b1')]), 'v2');
      const other = { namespace: 'ns', name: 'gone' };
      await s.putTag(other, { name: 't', imageId: 'i4', metadata: '{}' });
      await s.putBlob(other, blob('b3'));
      await s.putManifest(other, manifest('m3', [blobRef('b3')]));
      await Bun.sleep(5);
      const mark = Date.now();
      const used = async () => {
        const out = new Map<string, number>();
        for (const i of await s.collectableImages(null, 100)) out.set(i.id, i.lastUsed);
        for (const b of await s.collectableBlobs(null, 100)) out.set(b.digest, b.lastUsed);
        return out;
      };
      expect([...(await used()).values()].every((t) => t < mark)).toBe(true);
      await s.deleteTag(ref, 'deleted');
      await s.putTag(ref, { name: 'moved', imageId: 'i1', metadata: '{}' });
      await s.putManifest(ref, manifest('m2'), 'taken');
      await s.deleteManifest(ref, 'sha256:m1');
      await s.deleteRepository(other);
      const after = await used();
      for (const k of ['i1', 'i2', 'i3', 'i4', 'sha256:b1', 'sha256:b3']) expect([k, after.get(k)! >= mark]).toEqual([k, true]);
      // what nothing released keeps its time
      expect(after.get('sha256:b2')!).toBeLessThan(mark);
    });

    test('a verified tag racing the collection of its image: either both or neither', async () => {
      const s = await open();
      const ref = { namespace: 'ns', name: 'race' };
      for (let round = 0; round < 12; round++) {
        const id = `r${round}`;
        await readyImage(s, `${id}b`);
        await readyImage(s, id, `${id}b`);
        const [tagged, deleted, parentDeleted] = await Promise.all([
          s.putTag(ref, { name: id, imageId: id, metadata: '{}' }, { verify: true }),
          s.deleteImageIfUnused(id, FUTURE()),
          s.deleteImageIfUnused(`${id}b`, FUTURE()),
        ]);
        const kept = (await s.getImage(id)) !== null && (await s.getImage(`${id}b`)) !== null;
        // a tag names a complete chain, or there is no tag
        expect(tagged).toBe(kept);
        expect(tagged ? deleted : null).toBeNull();
        expect(tagged ? parentDeleted : null).toBeNull();
        expect((await s.getTag(ref, id)) !== null).toBe(tagged);
      }
    });

    test('a verified manifest racing the collection of its blob: either both or neither', async () => {
      const s = await open();
      const ref = { namespace: 'ns', name: 'race' };
      for (let round = 0; round < 12; round++) {
        const b = `b${round}`;
        await s.putBlob(ref, blob(b));
        const [missing, deleted] = await Promise.all([
          s.putManifest(ref, manifest(`m${round}`, [blobRef(b)]), `t${round}`, { verify: true }),
          s.deleteBlobIfUnused(`sha256:${b}`, FUTURE()),
        ]);
        const stored = (await s.getManifest(ref, `sha256:m${round}`)) !== null;
        expect(stored).toBe(missing === null);
        expect(deleted === null).toBe(stored);
        expect((await s.getBlob(`sha256:${b}`)) !== null).toBe(stored);
      }
    });
  });
}
