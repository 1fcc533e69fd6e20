/**
 * The V2 pull-through mirror's tags (stub upstream, test/helpers/upstream-stub.ts): a tag that came
 * from upstream is asked about again only after mirroring.tags_cache_ttl (HEAD, then a GET when
 * its digest changed) and served from the cache while upstream is down, slow or sends garbage; a
 * tag pushed here wins and is never asked upstream; tag lists merge both sides.
 */
import { describe, expect, test } from 'bun:test';
import { closedPort, mirrorsPerTest, serveMirror, type StubUpstream } from '../../helpers/upstream-stub.ts';
import { imageManifest, putManifest } from '../../helpers/v2.ts';

const REF = { namespace: 'team', name: 'app' };
const TTL = 1;
const afterTtl = () => Bun.sleep(TTL * 1000 + 150);
const { start, track } = mirrorsPerTest({ 'mirroring.tags_cache_ttl': TTL });

const digestOf = async (r: Response) => {
  expect(r.status).toBe(200);
  await r.arrayBuffer();
  return r.headers.get('docker-content-digest');
};
const tagRequests = (u: StubUpstream, tag: string) => u.seen.filter((s) => s.endsWith(`/manifests/${tag}`));

describe('tags from upstream: the TTL', () => {
  test('within the TTL: served from here without asking; after: HEAD, and a GET only when the digest changed', async () => {
    const { up, m } = start();
    const first = up.putImage('team/app', 'v1', ['one']);
    expect(await digestOf(await m.get('/v2/team/app/manifests/v1'))).toBe(first.digest);
    // upstream moves the tag; within the TTL the mirror does not ask
    const second = up.putImage('team/app', 'v1', ['two']);
    expect(await digestOf(await m.get('/v2/team/app/manifests/v1'))).toBe(first.digest);
    expect(tagRequests(up, 'v1')).toEqual(['GET /v2/team/app/manifests/v1']);
    await afterTtl();
    expect(await digestOf(await m.get('/v2/team/app/manifests/v1'))).toBe(second.digest);
    expect(tagRequests(up, 'v1').slice(1)).toEqual(['HEAD /v2/team/app/manifests/v1', 'GET /v2/team/app/manifests/v1']);
    expect((await m.t.meta.getTaggedManifest(REF, 'v1'))?.digest).toBe(second.digest);
    // unchanged upstream: a HEAD only
    await afterTtl();
    expect(await digestOf(await m.get('/v2/team/app/manifests/v1'))).toBe(second.digest);
    expect(tagRequests(up, 'v1').slice(3)).toEqual(['HEAD /v2/team/app/manifests/v1']);
  });

  test('upstream down, slow or sending garbage at the re-check: the cached manifest is served', async () => {
    const { up, m } = start();
    const image = up.putImage('team/app', 'v1', ['one']);
    expect(await digestOf(await m.get('/v2/team/app/manifests/v1'))).toBe(image.digest);
    const failures: [string, () => Response | Promise<Response>][] = [
      ['a 503', () => new Response('down', { status: 503 })],
      ['garbage', () => new Response('<html>', { headers: { 'docker-content-digest': 'sha256:nope' } })],
      [
        'slow',
        async () => {
          await Bun.sleep(2500);
          return new Response('late');
        },
      ],
    ];
    for (const [what, reply] of failures) {
      up.override = reply;
      await afterTtl();
      const started = performance.now();
      expect(`${what}: ${await digestOf(await m.get('/v2/team/app/manifests/v1'))}`).toBe(`${what}: ${image.digest}`);
      expect(performance.now() - started).toBeLessThan(1800);
    }
    // a failed check is not repeated by every request: this process waits min(TTL, 30 s)
    const before = up.seen.length;
    expect(await digestOf(await m.get('/v2/team/app/manifests/v1'))).toBe(image.digest);
    expect(up.seen.length).toBe(before);
  });

  test('an upstream that is gone entirely: tags and digests held here are served, misses are 503', async () => {
    const { up, m } = start();
    const image = up.putImage('team/app', 'v1', ['one']);
    expect(await digestOf(await m.get('/v2/team/app/manifests/v1'))).toBe(image.digest);
    up.stop();
    await afterTtl();
    expect(await digestOf(await m.get('/v2/team/app/manifests/v1'))).toBe(image.digest);
    expect(await digestOf(await m.get(`/v2/team/app/manifests/${image.digest}`))).toBe(image.digest);
    expect((await m.get('/v2/team/app/manifests/v2')).status).toBe(503);
  });
});

describe('local pushes win', () => {
  test('a tag pushed here is served as pushed and never asked about upstream', async () => {
    const { up, m } = start();
    up.putImage('team/app', 'mine', ['upstream']);
    const manifest = await imageManifest(m.t, 'team/app', ['local']);
    expect((await putManifest(m.t, 'team/app', 'mine', manifest)).status).toBe(201);
    expect(await (await m.get('/v2/team/app/manifests/mine')).text()).toBe(manifest);
    await afterTtl();
    expect(await (await m.get('/v2/team/app/manifests/mine')).text()).toBe(manifest);
    expect(tagRequests(up, 'mine')).toEqual([]);
  });

  test('a push over a tag that came from upstream makes it local, even with the same manifest: no re-check after the TTL', async () => {
    const { up, m } = start();
    up.putImage('team/app', 'v1', ['upstream']);
    const same = up.putImage('team/app', 'v2', ['upstream 2']);
    await (await m.get('/v2/team/app/manifests/v1')).arrayBuffer();
    await (await m.get('/v2/team/app/manifests/v2')).arrayBuffer();
    const manifest = await imageManifest(m.t, 'team/app', ['local']);
    expect((await putManifest(m.t, 'team/app', 'v1', manifest)).status).toBe(201);
    expect((await putManifest(m.t, 'team/app', 'v2', same.manifest)).status).toBe(201);
    up.putImage('team/app', 'v2', ['moved upstream']);
    await afterTtl();
    expect(await (await m.get('/v2/team/app/manifests/v1')).text()).toBe(manifest);
    expect(await (await m.get('/v2/team/app/manifests/v2')).text()).toBe(same.manifest);
    expect(tagRequests(up, 'v1')).toEqual(['GET /v2/team/app/manifests/v1']);
    expect(tagRequests(up, 'v2')).toEqual(['GET /v2/team/app/manifests/v2']);
  });

  test('a pushed manifest may reference layers held only upstream (the client skipped them after a HEAD): the PUT fetches them', async () => {
    const { up, m } = start();
    const image = up.putImage('team/app', 'v1', ['only upstream']);
    const layer = image.layers[0]!.digest;
    // what a pushing client does: HEAD finds the layer (upstream), so it uploads nothing
    const head = await m.get(`/v2/team/app/blobs/${layer}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await m.t.meta.getLinkedBlob(REF, layer)).toBeNull();
    expect((await putManifest(m.t, 'team/app', 'pushed', image.manifest)).status).toBe(201);
    expect(await m.t.meta.getLinkedBlob(REF, layer)).not.toBeNull();
    expect(await m.t.storage.getContent((await m.t.meta.getBlob(layer))!.key)).toEqual(new TextEncoder().encode('only upstream'));
    // a reference upstream does not have either is still refused
    const missing = image.manifest.replace(layer, `sha256:${'0'.repeat(64)}`);
    expect((await putManifest(m.t, 'team/app', 'broken', missing)).status).toBe(404);
  });
});

describe('tag lists', () => {
  test('local and upstream names merged, sorted and paged; local only while upstream fails', async () => {
    const { up, m } = start();
    up.putImage('team/app', 'b', ['b']);
    up.putImage('team/app', 'd', ['d']);
    const manifest = await imageManifest(m.t, 'team/app', ['local']);
    for (const tag of ['a', 'c', 'd']) expect((await putManifest(m.t, 'team/app', tag, manifest)).status).toBe(201);
    expect(await (await m.get('/v2/team/app/tags/list')).json()).toEqual({ name: 'team/app', tags: ['a', 'b', 'c', 'd'] });
    const page = await m.get('/v2/team/app/tags/list?n=2&last=a');
    expect(await page.json()).toEqual({ name: 'team/app', tags: ['b', 'c'] });
    expect(page.headers.get('link')).toBe('</v2/team/app/tags/list?n=2&last=c>; rel="next"');
    // a repository only upstream knows
    up.putImage('other/app', 'x', ['x']);
    expect(await (await m.get('/v2/other/app/tags/list')).json()).toEqual({ name: 'other/app', tags: ['x'] });
    up.override = () => new Response('{"tags": 7}');
    expect(await (await m.get('/v2/team/app/tags/list')).json()).toEqual({ name: 'team/app', tags: ['a', 'c', 'd'] });
    up.override = () => new Response('no', { status: 500 });
    expect((await m.get('/v2/other/app/tags/list')).status).toBe(502);
    // neither knows it
    up.override = null;
    expect((await m.get('/v2/nobody/here/tags/list')).status).toBe(404);
  });

  test('the catalog is local only', async () => {
    const m = track(serveMirror(`http://127.0.0.1:${closedPort()}`));
    const manifest = await imageManifest(m.t, 'team/app', ['local']);
    await putManifest(m.t, 'team/app', 'v1', manifest);
    expect(await (await m.get('/v2/_catalog')).json()).toEqual({ repositories: ['team/app'] });
  });
});
