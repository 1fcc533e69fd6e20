/** V2 manifests, tags, referrers and the catalog through the app. */
import { describe, expect, test } from 'bun:test';
import { OCI_INDEX, OCI_MANIFEST } from '../../../src/domain/manifest.ts';
import { randomBytes } from '../../../dev/ids.ts';
import { withApp } from '../../helpers/app.ts';
import { expectV2Error, imageManifest, pushBlob, putManifest, sha256 } from '../../helpers/v2.ts';

const NAME = 'acme/app';

describe('V2 manifests', () => {
  test('PUT by tag, GET and HEAD by tag and digest, the bytes as pushed', async () => {
    await withApp(async (app) => {
      const manifest = await imageManifest(app, NAME, [randomBytes(100), randomBytes(200)]);
      const digest = sha256(manifest);
      let r = await putManifest(app, NAME, 'v1', manifest);
      expect(r.status).toBe(201);
      expect(r.headers.get('docker-content-digest')).toBe(digest);
      expect(r.headers.get('location')).toBe(`/v2/${NAME}/manifests/${digest}`);
      for (const ref of ['v1', digest]) {
        r = await app.req('GET', `/v2/${NAME}/manifests/${ref}`);
        expect(r.status).toBe(200);
        expect(r.headers.get('content-type')).toBe(OCI_MANIFEST);
        expect(r.headers.get('docker-content-digest')).toBe(digest);
        expect(await r.text()).toBe(manifest);
        r = await app.req('HEAD', `/v2/${NAME}/manifests/${ref}`);
        expect(r.status).toBe(200);
        expect(r.headers.get('content-length')).toBe(String(Buffer.byteLength(manifest)));
      }
      await expectV2Error(await app.req('GET', `/v2/${NAME}/manifests/nope`), 404, 'MANIFEST_UNKNOWN');
      await expectV2Error(await app.req('GET', `/v2/${NAME}/manifests/sha256:totallywrong`), 400, 'DIGEST_INVALID');
      await expectV2Error(await app.req('GET', `/v2/${NAME}/manifests/.INVALID_MANIFEST_NAME`), 404, 'MANIFEST_UNKNOWN');
    });
  });

  test('PUT by digest must match the content; a missing blob or child is MANIFEST_BLOB_UNKNOWN; junk is MANIFEST_INVALID', async () => {
    await withApp(async (app) => {
      const manifest = await imageManifest(app, NAME, [randomBytes(10)]);
      await expectV2Error(await putManifest(app, NAME, sha256('other'), manifest), 400, 'DIGEST_INVALID');
      expect((await putManifest(app, NAME, sha256(manifest), manifest)).status).toBe(201);
      const missing = JSON.parse(manifest);
      missing.layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256('absent'), size: 6 });
      await expectV2Error(await putManifest(app, NAME, 'x', JSON.stringify(missing)), 404, 'MANIFEST_BLOB_UNKNOWN');
      // a blob of another repository does not count
      const elsewhere = await pushBlob(app, 'other/repo', 'elsewhere');
      missing.layers[1] = { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: elsewhere, size: 9 };
      await expectV2Error(await putManifest(app, NAME, 'x', JSON.stringify(missing)), 404, 'MANIFEST_BLOB_UNKNOWN');
      const index = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: sha256('no such'), size: 3 }] });
      await expectV2Error(await putManifest(app, NAME, 'idx', index, OCI_INDEX), 404, 'MANIFEST_BLOB_UNKNOWN');
      for (const junk of ['{', '[]', JSON.stringify({ schemaVersion: 1 })]) await expectV2Error(await putManifest(app, NAME, 'j', junk), 400, 'MANIFEST_INVALID');
      await expectV2Error(await putManifest(app, NAME, 'bad tag!', manifest), 400, 'MANIFEST_INVALID');
      await expectV2Error(await putManifest(app, NAME, 'big', `${' '.repeat(4 * 1024 * 1024)}${manifest}`), 413, 'SIZE_INVALID');
    });
  });

  test('an index over stored manifests', async () => {
    await withApp(async (app) => {
      const child = await imageManifest(app, NAME, [randomBytes(10)]);
      expect((await putManifest(app, NAME, sha256(child), child)).status).toBe(201);
      const index = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: sha256(child), size: Buffer.byteLength(child), platform: { architecture: 'amd64', os: 'linux' } }] });
      expect((await putManifest(app, NAME, 'multi', index, OCI_INDEX)).status).toBe(201);
      const r = await app.req('GET', `/v2/${NAME}/manifests/multi`);
      expect(r.headers.get('content-type')).toBe(OCI_INDEX);
      expect(await r.text()).toBe(index);
    });
  });

  test('tags: listed in byte order, paged with n and last and a Link; unknown repository is NAME_UNKNOWN', async () => {
    await withApp(async (app) => {
      const manifest = await imageManifest(app, NAME, [randomBytes(10)]);
      for (const tag of ['b', 'a', 'C', 'c']) expect((await putManifest(app, NAME, tag, manifest)).status).toBe(201);
      let r = await app.req('GET', `/v2/${NAME}/tags/list`);
      expect(await r.json()).toEqual({ name: NAME, tags: ['C', 'a', 'b', 'c'] });
      r = await app.req('GET', `/v2/${NAME}/tags/list?n=2`);
      expect(await r.json()).toEqual({ name: NAME, tags: ['C', 'a'] });
      expect(r.headers.get('link')).toBe(`</v2/${NAME}/tags/list?n=2&last=a>; rel="next"`);
      r = await app.req('GET', `/v2/${NAME}/tags/list?n=2&last=a`);
      expect(await r.json()).toEqual({ name: NAME, tags: ['b', 'c'] });
      r = await app.req('GET', `/v2/${NAME}/tags/list?n=0`);
      expect(await r.json()).toEqual({ name: NAME, tags: [] });
      await expectV2Error(await app.req('GET', '/v2/no/such/tags/list'), 404, 'NAME_UNKNOWN');
      r = await app.req('GET', '/v2/_catalog?n=1');
      expect(((await r.json()) as { repositories: string[] }).repositories).toHaveLength(1);
      r = await app.req('GET', '/v2/_catalog');
      expect(((await r.json()) as { repositories: string[] }).repositories).toContain(NAME);
    });
  });

  test('the same bytes pushed under two media types answer each with its own Content-Type', async () => {
    await withApp(async (app) => {
      const typed = JSON.parse(await imageManifest(app, 'one/repo', [randomBytes(10)]));
      await imageManifest(app, 'two/repo', []);
      for (const l of typed.layers) await pushBlob(app, 'two/repo', await (await app.req('GET', `/v2/one/repo/blobs/${l.digest}`)).bytes());
      await pushBlob(app, 'two/repo', await (await app.req('GET', `/v2/one/repo/blobs/${typed.config.digest}`)).bytes());
      delete typed.mediaType;
      const bytes = JSON.stringify(typed);
      expect((await putManifest(app, 'one/repo', 'x', bytes, OCI_MANIFEST)).status).toBe(201);
      expect((await putManifest(app, 'two/repo', 'x', bytes, 'application/vnd.docker.distribution.manifest.v2+json')).status).toBe(201);
      for (let i = 0; i < 2; i++) {
        expect((await app.req('GET', '/v2/one/repo/manifests/x')).headers.get('content-type')).toBe(OCI_MANIFEST);
        expect((await app.req('GET', '/v2/two/repo/manifests/x')).headers.get('content-type')).toBe('application/vnd.docker.distribution.manifest.v2+json');
      }
    });
  });

  test('a tag list names the repository as the request did, whichever spelling asked first', async () => {
    await withApp(async (app) => {
      const manifest = await imageManifest(app, 'busybox', [randomBytes(10)]);
      expect((await putManifest(app, 'busybox', 'latest', manifest)).status).toBe(201);
      for (let i = 0; i < 2; i++) {
        expect(await (await app.req('GET', '/v2/busybox/tags/list')).json()).toEqual({ name: 'busybox', tags: ['latest'] });
        expect(await (await app.req('GET', '/v2/library/busybox/tags/list')).json()).toEqual({ name: 'library/busybox', tags: ['latest'] });
      }
      // a change is seen at once
      expect((await putManifest(app, 'busybox', 'v2', manifest)).status).toBe(201);
      expect(await (await app.req('GET', '/v2/busybox/tags/list')).json()).toEqual({ name: 'busybox', tags: ['latest', 'v2'] });
    });
  });

  test('DELETE by tag removes the tag; by digest the manifest and its tags', async () => {
    await withApp(async (app) => {
      const manifest = await imageManifest(app, NAME, [randomBytes(10)]);
      const digest = sha256(manifest);
      for (const tag of ['one', 'two', 'three']) await putManifest(app, NAME, tag, manifest);
      expect((await app.req('DELETE', `/v2/${NAME}/manifests/one`)).status).toBe(202);
      await expectV2Error(await app.req('GET', `/v2/${NAME}/manifests/one`), 404, 'MANIFEST_UNKNOWN');
      expect((await app.req('GET', `/v2/${NAME}/manifests/two`)).status).toBe(200);
      expect((await app.req('DELETE', `/v2/${NAME}/manifests/${digest}`)).status).toBe(202);
      await expectV2Error(await app.req('GET', `/v2/${NAME}/manifests/${digest}`), 404, 'MANIFEST_UNKNOWN');
      expect(await (await app.req('GET', `/v2/${NAME}/tags/list`)).json()).toEqual({ name: NAME, tags: [] });
      await expectV2Error(await app.req('DELETE', `/v2/${NAME}/manifests/${digest}`), 404, 'MANIFEST_UNKNOWN');
    });
  });

  test('referrers: manifests with a subject, filtered by artifactType; OCI-Subject on PUT', async () => {
    await withApp(async (app) => {
      const subject = await imageManifest(app, NAME, [randomBytes(10)]);
      const subjectDigest = sha256(subject);
      await putManifest(app, NAME, 'base', subject);
      const empty = await pushBlob(app, NAME, '{}');
      const artifact = (type: string, note: string) =>
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          artifactType: type,
          config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: empty, size: 2 },
          layers: [{ mediaType: 'application/vnd.oci.empty.v1+json', digest: empty, size: 2 }],
          subject: { mediaType: OCI_MANIFEST, digest: subjectDigest, size: Buffer.byteLength(subject) },
          annotations: { note },
        });
      const sig = artifact('application/x-signature', 'sig');
      const sbom = artifact('application/x-sbom', 'sbom');
      for (const m of [sig, sbom]) {
        const r = await putManifest(app, NAME, sha256(m), m);
        expect(r.status).toBe(201);
        expect(r.headers.get('oci-subject')).toBe(subjectDigest);
      }
      let r = await app.req('GET', `/v2/${NAME}/referrers/${subjectDigest}`);
      expect(r.headers.get('content-type')).toBe(OCI_INDEX);
      const all = (await r.json()) as { manifests: { digest: string; artifactType: string; annotations: Record<string, string> }[] };
      expect(all.manifests.map((m) => m.digest).sort()).toEqual([sha256(sig), sha256(sbom)].sort());
      expect(all.manifests.find((m) => m.digest === sha256(sig))).toMatchObject({ artifactType: 'application/x-signature', annotations: { note: 'sig' } });
      r = await app.req('GET', `/v2/${NAME}/referrers/${subjectDigest}?artifactType=application/x-sbom`);
      expect(r.headers.get('oci-filters-applied')).toBe('artifactType');
      expect(((await r.json()) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest)).toEqual([sha256(sbom)]);
      r = await app.req('GET', `/v2/${NAME}/referrers/${sha256('nothing refers to this')}`);
      expect(r.status).toBe(200);
      expect(((await r.json()) as { manifests: unknown[] }).manifests).toEqual([]);
      await expectV2Error(await app.req('GET', `/v2/${NAME}/referrers/sha256:bad`), 400, 'DIGEST_INVALID');
    });
  });
});

describe('V2 manifests and tags under concurrent requests', () => {
  test('a tag PUT of a stored manifest whose DELETE by digest lands after its checks: stored again with the tag, GET by tag and digest and the tag list agree', async () => {
    await withApp(async (app) => {
      const manifest = await imageManifest(app, NAME, [randomBytes(10)]);
      const digest = sha256(manifest);
      expect((await putManifest(app, NAME, 'old', manifest)).status).toBe(201);
      const getLinkedBlob = app.meta.getLinkedBlob.bind(app.meta);
      let deleted = false;
      // the last check of the PUT's references, then the DELETE, then the PUT's write
      app.meta.getLinkedBlob = async (ref, blob) => {
        const found = await getLinkedBlob(ref, blob);
        if (!deleted && blob === JSON.parse(manifest).layers[0].digest) {
          deleted = true;
          expect((await app.req('DELETE', `/v2/${NAME}/manifests/${digest}`)).status).toBe(202);
        }
        return found;
      };
      expect((await putManifest(app, NAME, 'new', manifest)).status).toBe(201);
      expect(deleted).toBe(true);
      app.meta.getLinkedBlob = getLinkedBlob;
      expect(await (await app.req('GET', `/v2/${NAME}/manifests/new`)).text()).toBe(manifest);
      expect((await app.req('GET', `/v2/${NAME}/manifests/${digest}`)).status).toBe(200);
      // the DELETE took the old tag with the manifest; the PUT's tag is the only one
      expect(await (await app.req('GET', `/v2/${NAME}/tags/list`)).json()).toEqual({ name: NAME, tags: ['new'] });
      await expectV2Error(await app.req('GET', `/v2/${NAME}/manifests/old`), 404, 'MANIFEST_UNKNOWN');
    });
  });
});
