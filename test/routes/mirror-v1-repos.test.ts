/**
 * The V1 pull-through mirror, repositories (E13, E14, E17, E24) and the upstream's V1 token flow,
 * through the app against a stub upstream: misses are fetched and stored as tags and image
 * lists, refreshed after mirroring.tags_cache_ttl, served from the cached copy while the upstream
 * fails; local pushes win; upstream garbage is a 502 that stores nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { hex, randomBytes } from '../../dev/ids.ts';
import { makeApp, uploadImage, type TestApp } from '../helpers/app.ts';
import { expectError } from '../helpers/layers.ts';
import { startStubUpstream, stubJson, type StubUpstream } from '../helpers/stub-v1-upstream.ts';

let up: StubUpstream;
beforeAll(() => {
  up = startStubUpstream();
});
afterAll(() => up.stop());

const mirror = (ttl = 172_800, source = up.url): TestApp =>
  makeApp({ 'mirroring.source': source, 'mirroring.timeout': 1, 'mirroring.tags_cache_ttl': ttl });

/** A repository in the stub with two tags on two images; returns its name and ids. */
function repository() {
  const repo = `mirror${hex(8)}/app`;
  const a = hex(16);
  const b = hex(16);
  up.addImage({ id: a, json: stubJson(a), layer: randomBytes(100) });
  up.addImage({ id: b, parent: a, json: stubJson(b, a), layer: randomBytes(100) });
  up.setTags(repo, { latest: b, v1: a });
  return { repo, a, b, tags: `/v1/repositories/${repo}/tags` };
}

describe('tags', () => {
  test('a missing repository is fetched and stored as tags; the next reads are local', async () => {
    const app = mirror();
    const { repo, a, b, tags } = repository();
    let r = await app.req('GET', tags);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ latest: b, v1: a });
    expect(await app.meta.listTags({ namespace: repo.split('/')[0]!, name: 'app' })).toHaveLength(2);
    r = await app.req('GET', `${tags}/latest`);
    expect(await r.json()).toBe(b);
    expect(await (await app.req('GET', tags)).json()).toEqual({ latest: b, v1: a });
    expect(up.count(tags)).toBe(1);
    // a tag the fresh upstream list did not have is a plain 404, without asking again
    await expectError(await app.req('GET', `${tags}/nope`), 404);
    expect(up.count(tags)).toBe(1);
    app.close();
  });

  test('unknown upstream too: 404 Repository not found, nothing stored', async () => {
    const app = mirror();
    await expectError(await app.req('GET', `/v1/repositories/none${hex(8)}/x/tags`), 404, 'Repository not found');
    await expectError(await app.req('GET', `/v1/repositories/none${hex(8)}/x/tags/latest`), 404);
    expect((await app.meta.search('none', 10, 0)).total).toBe(0);
    app.close();
  });

  test('after the TTL a refresh follows the upstream, but tags pushed here stay', async () => {
    const app = mirror(1);
    const { repo, a, b, tags } = repository();
    await app.req('GET', tags);
    // a tag pushed here, and a mirrored tag moved here by a push
    const local = hex(16);
    await uploadImage(app, local, null, 'mine', (ok, what) => expect(ok ? what : `failed: ${what}`).toBe(what));
    for (const name of ['mine', 'v1']) expect((await app.req('PUT', `${tags}/${name}`, { json: local })).status).toBe(200);
    const c = hex(16);
    up.addImage({ id: c, json: stubJson(c), layer: randomBytes(10) });
    up.setTags(repo, { latest: c, v1: b, mine: b, fresh: a });
    // within the TTL: the cached copy
    expect(await (await app.req('GET', tags)).json()).toEqual({ latest: b, v1: local, mine: local });
    await Bun.sleep(1100);
    expect(await (await app.req('GET', tags)).json()).toEqual({ latest: c, v1: local, mine: local, fresh: a });
    // the upstream drops a mirrored tag: dropped here too
    up.setTags(repo, { latest: c });
    await Bun.sleep(1100);
    expect(await (await app.req('GET', `${tags}/latest`)).json()).toBe(c);
    expect(await (await app.req('GET', tags)).json()).toEqual({ latest: c, v1: local, mine: local });
    app.close();
  });

  test('a repository pushed here is never asked upstream', async () => {
    const app = mirror(0);
    const { repo, tags } = repository();
    const local = hex(16);
    await uploadImage(app, local, null, 'x', (ok, what) => expect(ok ? what : `failed: ${what}`).toBe(what));
    expect((await app.req('PUT', `${tags}/latest`, { json: local })).status).toBe(200);
    expect(await (await app.req('GET', tags)).json()).toEqual({ latest: local });
    expect(await (await app.req('GET', `${tags}/latest`)).json()).toBe(local);
    expect(up.count(tags)).toBe(0);
    expect(repo).toContain('/');
    app.close();
  });

  test('garbage tag lists are 502 and store nothing', async () => {
    const app = mirror();
    for (const body of ['<html>', '["latest"]', JSON.stringify({ latest: 'not-an-id' }), JSON.stringify({ latest: 42 })]) {
      const { tags } = repository();
      up.fault(tags, () => new Response(body));
      await expectError(await app.req('GET', tags), 502);
      up.fault(tags, null);
    }
    expect((await app.meta.search('mirror', 100, 0)).total).toBe(0);
    app.close();
  });

  test('upstream down: the cached copy is served after the TTL; a miss is a 503', async () => {
    const down = startStubUpstream();
    const app = mirror(1, down.url);
    const repo = `down${hex(8)}/app`;
    const id = hex(16);
    down.setTags(repo, { latest: id });
    expect((await app.req('GET', `/v1/repositories/${repo}/tags`)).status).toBe(200);
    await down.stop();
    await Bun.sleep(1100);
    expect(await (await app.req('GET', `/v1/repositories/${repo}/tags`)).json()).toEqual({ latest: id });
    expect(await (await app.req('GET', `/v1/repositories/${repo}/tags/latest`)).json()).toBe(id);
    await expectError(await app.req('GET', `/v1/repositories/${repo}/tags/other`), 503);
    await expectError(await app.req('GET', `/v1/repositories/other${hex(4)}/app/tags`), 503);
    await expectError(await app.req('GET', `/v1/images/${id}/json`), 503);
    app.close();
  });
});

describe('repository json and image lists', () => {
  test('E17: the upstream repository json, cached; the default when the upstream has none', async () => {
    const app = mirror();
    const { repo } = repository();
    up.setRepositoryJson(repo, { arch: 'arm64', os: 'linux', docker_version: '1.6.2' });
    let r = await app.req('GET', `/v1/repositories/${repo}/json`);
    expect(await r.json()).toEqual({ arch: 'arm64', os: 'linux', docker_version: '1.6.2' });
    r = await app.req('GET', `/v1/repositories/${repo}/json`);
    expect(await r.json()).toEqual({ arch: 'arm64', os: 'linux', docker_version: '1.6.2' });
    expect(up.count(`/v1/repositories/${repo}/json`)).toBe(1);
    r = await app.req('GET', `/v1/repositories/nojson${hex(4)}/x/json`);
    expect(((await r.json()) as { arch: string }).arch).toBe('amd64');
    app.close();
  });

  test('E24: the upstream image list, stored, with this registry’s own endpoint and token', async () => {
    const app = mirror();
    const { repo, a, b } = repository();
    const path = `/v1/repositories/${repo}/images`;
    const r = await app.req('GET', path, { headers: { host: 'mirror.example:5000', 'x-docker-token': 'true' } });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-docker-endpoints')).toBe('mirror.example:5000');
    expect(r.headers.get('x-docker-token')).not.toContain('signature=stub');
    expect(((await r.json()) as { id: string }[]).map((e) => e.id).sort()).toEqual([a, b].sort());
    await app.req('GET', path);
    expect(up.count(path)).toBe(1);
    expect((await app.meta.repositoriesListingImage(a)).map((x) => `${x.namespace}/${x.name}`)).toEqual([repo]);
    await expectError(await app.req('GET', `/v1/repositories/none${hex(4)}/x/images`), 404, 'images not found');
    app.close();
  });
});

describe("the upstream's V1 token flow", () => {
  test('a Token challenge: a token from the index (credentials only once a challenge asks), then Token on every call about that repository', async () => {
    const app = makeApp({ 'mirroring.source': up.url, 'mirroring.username': 'bob', 'mirroring.password': 'pw' });
    const { repo, a, b, tags } = repository();
    const token = `Token signature=stub,repository="${repo}",access=read`;
    const guarded = (reply: () => Response) => (req: Request) =>
      req.headers.get('authorization') === token
        ? reply()
        : new Response('{"error":"Requires authorization"}', { status: 401, headers: { 'www-authenticate': 'Token' } });
    up.fault(tags, guarded(() => Response.json({ latest: b })));
    up.fault(`/v1/images/${b}/json`, guarded(() => new Response(stubJson(b, a))));
    up.authorizations.length = 0;
    up.hits.length = 0;
    expect(await (await app.req('GET', tags)).json()).toEqual({ latest: b });
    expect(up.hits.slice(0, 3)).toEqual([tags, `/v1/repositories/${repo}/images`, tags]);
    // the stub's index hands tokens out without asking for credentials, so none were sent
    expect(up.authorizations.slice(0, 3)).toEqual([null, null, token]);
    // an image call carries the token of the repository the client's own token names
    const r = await app.req('GET', `/v1/images/${b}/json`, { headers: { authorization: `Token signature=x,repository="${repo}",access=read` } });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe(stubJson(b, a));
    expect(up.authorizations[up.hits.indexOf(`/v1/images/${b}/json`)]).toBe(token);
    for (const p of [tags, `/v1/images/${b}/json`]) up.fault(p, null);
    app.close();
  });
});
