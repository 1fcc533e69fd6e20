/**
 * The V2 pull-through mirror's manifests and tag lists, through the app served as a worker serves
 * it (native V2 routes included) against a stub upstream (test/helpers/upstream-stub.ts): what is
 * fetched, stored and served; the TTL of tags that came from upstream; local pushes winning; and
 * every upstream failure on a miss a gateway status with a V2 error body, nothing stored.
 */
import { describe, expect, test } from 'bun:test';
import { DOCKER_MANIFEST, OCI_MANIFEST } from '../../../src/domain/manifest.ts';
import { closedPort, mirrorsPerTest, serveMirror, type StubUpstream } from '../../helpers/upstream-stub.ts';
import { expectV2Error, imageManifest, putManifest, sha256 } from '../../helpers/v2.ts';

const REF = { namespace: 'team', name: 'app' };
const { start, track } = mirrorsPerTest();

/** The manifest GETs and HEADs the upstream saw for a reference. */
const asked = (u: StubUpstream, reference: string, name = 'team/app') => u.seen.filter((s) => s.endsWith(`/v2/${name}/manifests/${reference}`));

describe('manifests through the mirror', () => {
  test('a tag not held here: fetched once, stored with its tag and references, served with the upstream media type; then local', async () => {
    const { up, m } = start();
    const config = '{"architecture":"amd64","os":"linux"}';
    const layer = 'layer bytes';
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: DOCKER_MANIFEST,
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: up.putBlob(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: up.putBlob(layer), size: layer.length }],
    });
    const digest = up.putManifest('team/app', manifest, DOCKER_MANIFEST, 'v1');
    let r = await m.get('/v2/team/app/manifests/v1');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe(DOCKER_MANIFEST);
    expect(r.headers.get('docker-content-digest')).toBe(digest);
    expect(await r.text()).toBe(manifest);
    expect(asked(up, 'v1')).toEqual(['GET /v2/team/app/manifests/v1']);
    // stored: the tag, the manifest, its references (a GC or a PUT check sees them), no blob yet
    expect(await m.t.meta.listTagNames(REF)).toEqual(['v1']);
    expect((await m.t.meta.getManifest(REF, digest))?.mediaType).toBe(DOCKER_MANIFEST);
    expect(await m.t.meta.getBlob(sha256(layer))).toBeNull();
    // local from now on: by tag (within the TTL), by digest, HEAD
    r = await m.get('/v2/team/app/manifests/v1');
    expect(await r.text()).toBe(manifest);
    expect((await m.get(`/v2/team/app/manifests/${digest}`)).status).toBe(200);
    r = await m.get('/v2/team/app/manifests/v1', { method: 'HEAD' });
    expect(r.headers.get('content-length')).toBe(String(manifest.length));
    expect(up.seen.filter((s) => s.includes('/manifests/'))).toEqual(['GET /v2/team/app/manifests/v1']);
  });

  test('by digest: fetched once and kept without a tag; a referrer fetched so is listed by the referrers API', async () => {
    const { up, m } = start();
    const image = up.putImage('team/app', 'v1', ['a']);
    const artifact = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: 'application/x-signature',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: up.putBlob('{}'), size: 2 },
      layers: [],
      subject: { mediaType: OCI_MANIFEST, digest: image.digest, size: image.manifest.length },
    });
    const signature = up.putManifest('team/app', artifact, OCI_MANIFEST);
    const r = await m.get(`/v2/team/app/manifests/${signature}`);
    expect(r.status).toBe(200);
    expect(await r.text()).toBe(artifact);
    expect(await m.t.meta.listTagNames(REF)).toEqual([]);
    const referrers = (await (await m.get(`/v2/team/app/referrers/${image.digest}`)).json()) as { manifests: { digest: string; artifactType: string }[] };
    expect(referrers.manifests).toEqual([expect.objectContaining({ digest: signature, artifactType: 'application/x-signature' })]);
    await m.get(`/v2/team/app/manifests/${signature}`);
    expect(asked(up, signature)).toHaveLength(1);
  });

  test('a one-part name is asked as library/<name>, then as <name> (how distribution stores it)', async () => {
    const { up, m } = start();
    const image = up.putImage('busybox', 'latest', ['bb']);
    const r = await m.get('/v2/busybox/manifests/latest');
    expect(r.status).toBe(200);
    expect(r.headers.get('docker-content-digest')).toBe(image.digest);
    expect(up.seen.slice(0, 2)).toEqual(['GET /v2/library/busybox/manifests/latest', 'GET /v2/busybox/manifests/latest']);
    expect((await m.get(`/v2/library/busybox/blobs/${image.layers[0]!.digest}`)).status).toBe(200);
  });

  test('a miss upstream has not either: 404 MANIFEST_UNKNOWN', async () => {
    const { m } = start();
    await expectV2Error(await m.get('/v2/team/app/manifests/nope'), 404, 'MANIFEST_UNKNOWN');
    await expectV2Error(await m.get(`/v2/team/app/manifests/${sha256('x')}`), 404, 'MANIFEST_UNKNOWN');
  });
});

describe('upstream failures on a miss: 502, 503, 504 with V2 bodies, nothing stored', () => {
  async function expectGateway(r: Response, status: number, message: RegExp): Promise<void> {
    const text = await r.text();
    expect(`${r.status} ${text}`).toStartWith(`${status} `);
    const body = JSON.parse(text) as { errors: { code: string; message: string; detail: string }[] };
    expect(body.errors[0]!.code).toBe(status === 503 ? 'UNAVAILABLE' : 'UNKNOWN');
    expect(`${body.errors[0]!.message}: ${body.errors[0]!.detail}`).toMatch(message);
  }

  test('bytes that do not hash to the digest asked for: 502', async () => {
    const { up, m } = start();
    const image = up.putImage('team/app', 'v1', ['a']);
    const other = up.putImage('team/app', 'v2', ['b']);
    up.override = (_, url) => (url.pathname.endsWith(image.digest) ? new Response(other.manifest, { headers: { 'content-type': OCI_MANIFEST } }) : undefined);
    await expectGateway(await m.get(`/v2/team/app/manifests/${image.digest}`), 502, /bad response.*digest is/);
    // a tag whose Docker-Content-Digest does not match its bytes, too
    up.override = () => new Response(other.manifest, { headers: { 'content-type': OCI_MANIFEST, 'docker-content-digest': image.digest } });
    await expectGateway(await m.get('/v2/team/app/manifests/v1'), 502, /bad response/);
    expect(await m.t.meta.getManifest(REF, image.digest)).toBeNull();
    expect(await m.t.meta.getManifest(REF, other.digest)).toBeNull();
    expect(await m.t.meta.listTagNames(REF)).toBeNull();
  });

  test('garbage: not JSON, a Docker schema 1 manifest, an HTML 200, a 500: 502', async () => {
    const { up, m } = start();
    const replies = [
      () => new Response('<html>hello</html>', { headers: { 'content-type': 'text/html' } }),
      () => Response.json({ schemaVersion: 1, name: 'team/app', tag: 'v1', fsLayers: [] }),
      () => new Response('{"schemaVersion":2,"config":{"digest":"sha256:zz"}}', { headers: { 'content-type': OCI_MANIFEST } }),
      () => new Response('oops', { status: 500 }),
    ];
    for (const reply of replies) {
      up.override = reply;
      await expectGateway(await m.get('/v2/team/app/manifests/v1'), 502, /Upstream registry sent a bad response/);
    }
    expect(await m.t.meta.listTagNames(REF)).toBeNull();
  });

  test('slow headers: 504 once mirroring.timeout has passed', async () => {
    const { up, m } = start();
    up.override = async () => {
      await Bun.sleep(2500);
      return new Response('late');
    };
    const started = performance.now();
    await expectGateway(await m.get('/v2/team/app/manifests/v1'), 504, /timed out/);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  test('an upstream nobody listens on: 503 for tags, digests and tag lists not held here', async () => {
    const m = track(serveMirror(`http://127.0.0.1:${closedPort()}`));
    await expectGateway(await m.get('/v2/team/app/manifests/v1'), 503, /unavailable/);
    await expectGateway(await m.get(`/v2/team/app/manifests/${sha256('x')}`), 503, /unavailable/);
    await expectGateway(await m.get('/v2/team/app/tags/list'), 503, /unavailable/);
    // what is held here is served: a local push, its tag list
    const manifest = await imageManifest(m.t, 'team/app', ['local']);
    expect((await putManifest(m.t, 'team/app', 'mine', manifest)).status).toBe(201);
    expect((await m.get('/v2/team/app/manifests/mine')).status).toBe(200);
    expect(await (await m.get('/v2/team/app/tags/list')).json()).toEqual({ name: 'team/app', tags: ['mine'] });
  });
});
