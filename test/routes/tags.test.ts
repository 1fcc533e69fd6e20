/**
 * Repository routes E11–E19 (v1-api.md §1), the original's tests/test_tags.py (§7 items 8–11)
 * ported exactly, tag metadata (§5), one-part names = `library/<name>` (§2), trailing slashes
 * without redirects, HEAD on every GET route.
 *
 * Note: the harness merges header names case-sensitively with its default `user-agent`, so
 * overrides are written in lower case.
 */
import { describe, expect, test } from 'bun:test';
import { TEST_UA, withApp, type TestApp } from '../helpers/app.ts';
import { expectError, expectNoCacheHeaders, newId, putJson, randomName, upload } from '../helpers/layers.ts';

const DEFAULT_JSON_TEXT =
  '{"arch": "amd64", "docker_go_version": null, "docker_version": null, "kernel": null, "last_update": null, "os": "linux"}';
const INVALID_TAG = 'Invalid tag name (must match ^[\\w][\\w.-]{0,127}$)';
const UA_TEST = 'docker/0.7.2-dev go/go1.2 os/ostest arch/archtest';
const UA_CHANGED = 'docker/0.7.2-dev go/go1.2 os/ostest arch/changedarch';

const randomLayer = (n = 1024) => crypto.getRandomValues(new Uint8Array(n));

/** PUT a tag with a JSON string body; returns the response. */
const putTag = (app: TestApp, repoPath: string, tag: string, id: unknown, ua?: string) =>
  app.req('PUT', `/v1/repositories/${repoPath}/tags/${tag}`, {
    body: JSON.stringify(id),
    headers: ua ? { 'user-agent': ua } : {},
  });

const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * tests/test_tags.py `test_simple`, parametrised by the repository name exactly as the original
 * (`foo/<repos_name>`); `urlName` is that name as it appears in the URL.
 */
async function tagLifecycle(app: TestApp, urlName: string): Promise<void> {
  const imageId = newId();
  await upload(app, imageId, null, randomLayer(1024));
  const base = `/v1/repositories/foo/${urlName}`;

  // test tags create
  let r = await putTag(app, `foo/${urlName}`, 'latest', imageId, UA_TEST);
  expect(r.status).toBe(200);
  expect(await r.text()).toBe('true');
  r = await putTag(app, `foo/${urlName}`, 'test', imageId);
  expect(r.status).toBe(200);

  // test tags read
  r = await app.req('GET', `${base}/tags/latest`);
  expect(r.status).toBe(200);
  expectNoCacheHeaders(r);
  expect(await r.text()).toBe(JSON.stringify(imageId));

  // test repository json
  r = await app.req('GET', `${base}/json`);
  expect(r.status).toBe(200);
  let props = (await r.json()) as Record<string, unknown>;
  expect(props.docker_version).toBe('0.7.2-dev');
  expect(props.docker_go_version).toBe('go1.2');
  expect(props.os).toBe('ostest');
  expect(props.arch).toBe('archtest');
  // §5: missing tokens are omitted; last_update is an integer epoch
  expect(Object.keys(props).sort()).toEqual(['arch', 'docker_go_version', 'docker_version', 'last_update', 'os']);
  expect(Number.isInteger(props.last_update)).toBe(true);
  expect(Math.abs((props.last_update as number) - nowSeconds())).toBeLessThan(120);

  // test repository tags json
  r = await app.req('GET', `${base}/tags/latest/json`);
  expect(r.status).toBe(200);
  props = (await r.json()) as Record<string, unknown>;
  expect(props.docker_version).toBe('0.7.2-dev');
  expect(props.docker_go_version).toBe('go1.2');
  expect(props.os).toBe('ostest');
  expect(props.arch).toBe('archtest');

  // the `test` tag was pushed with the default UA
  r = await app.req('GET', `${base}/tags/test/json`);
  props = (await r.json()) as Record<string, unknown>;
  expect(props).toMatchObject({ docker_version: '0.10.1', docker_go_version: 'go1.2.1', kernel: '3.8.0-19-generic', os: 'linux', arch: 'amd64' });

  // test repository tags json update
  r = await putTag(app, `foo/${urlName}`, 'latest', imageId, UA_CHANGED);
  expect(r.status).toBe(200);
  r = await putTag(app, `foo/${urlName}`, 'test', imageId, UA_CHANGED);
  expect(r.status).toBe(200);
  for (const tag of ['latest', 'test']) {
    r = await app.req('GET', `${base}/tags/${tag}/json`);
    expect(r.status).toBe(200);
    props = (await r.json()) as Record<string, unknown>;
    expect(props.arch).toBe('changedarch');
  }
  r = await app.req('GET', `${base}/json`);
  expect(((await r.json()) as Record<string, unknown>).arch).toBe('changedarch');

  // test tags list
  r = await app.req('GET', `${base}/tags`);
  expect(r.status).toBe(200);
  const list = (await r.json()) as Record<string, string>;
  expect(Object.keys(list).length).toBe(2);
  expect(list).toEqual({ latest: imageId, test: imageId });

  // test tag delete
  r = await app.req('DELETE', `${base}/tags/latest`);
  expect(r.status).toBe(200);
  expect(await r.text()).toBe('true');
  r = await app.req('GET', `${base}/tags`);
  expect(r.status).toBe(200);
  expect(await r.json()).toEqual({ test: imageId });
  r = await app.req('GET', `${base}/tags/latest`);
  expect(r.status).toBe(404);
  await expectError(r, 404, 'Tag not found');

  // test whole delete
  r = await app.req('DELETE', `${base}/`);
  expect(r.status).toBe(200);
  expect(await r.text()).toBe('true');
  r = await app.req('GET', `${base}/tags`);
  expect(r.status).toBe(404);
  await expectError(r, 404, 'Repository not found');
}

// -------------------------------------------------------------------------------------------------
// tests/test_tags.py (§7 items 8–11)
// -------------------------------------------------------------------------------------------------

describe('test_tags.py (§7)', () => {
  test('8. test_simple: the full tag lifecycle', async () => {
    await withApp((app) => tagLifecycle(app, randomName(10)));
  });

  test('9. test_notfound: GET tags of a random repository → 404', async () => {
    await withApp(async (app) => {
      const r = await app.req('GET', `/v1/repositories/${randomName(10)}/bar/tags`);
      await expectError(r, 404, 'Repository not found');
    });
  });

  test('10. test_special_chars: test_simple with `<5 chars>%$_-test` (percent-encoded in the URL)', async () => {
    await withApp(async (app) => {
      const name = `${randomName(5)}%$_-test`;
      await tagLifecycle(app, encodeURIComponent(name));
    });
  });

  test('10b. the special-chars repository is one repository whatever the encoding of its URL', async () => {
    await withApp(async (app) => {
      const name = `${randomName(5)}%$_-test`;
      const id = newId();
      await upload(app, id, null, 'x');
      expect((await putTag(app, `foo/${encodeURIComponent(name)}`, 'latest', id)).status).toBe(200);
      // `$` need not be encoded; `%` must be
      const r = await app.req('GET', `/v1/repositories/foo/${name.replace('%', '%25')}/tags`);
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual({ latest: id });
    });
  });

  test('11. test_tag_name_validation: $<invalid>, .invalid, -invalid → 400; _valid → 200', async () => {
    await withApp(async (app) => {
      const imageId = newId();
      await upload(app, imageId, null, randomLayer(1024));
      for (const name of ['$<invalid>', '.invalid', '-invalid']) {
        const r = await putTag(app, `foo/${randomName(10)}`, encodeURIComponent(name), imageId);
        await expectError(r, 400, INVALID_TAG);
      }
      const r = await putTag(app, `foo/${randomName(10)}`, '_valid', imageId);
      expect(r.status).toBe(200);
    });
  });
});

// -------------------------------------------------------------------------------------------------
// E15 PUT tag, E14 GET tag, E13 list
// -------------------------------------------------------------------------------------------------

describe('E15 PUT /v1/repositories/{repo}/tags/{tag}', () => {
  test('tag rule: 1–128 chars of [A-Za-z0-9_] then [A-Za-z0-9_.-]', async () => {
    await withApp(async (app) => {
      const id = newId();
      await upload(app, id, null, 'x');
      const repo = `ns/${randomName()}`;
      for (const ok of ['a', '0', '_', 'v1.0-rc_2', 'A'.repeat(128), 'Latest', 'a..b--c']) {
        const r = await putTag(app, repo, ok, id);
        expect(`${ok}: ${r.status}`).toBe(`${ok}: 200`);
      }
      for (const bad of ['a'.repeat(129), '.x', '-x', 'a%20b', 'a:b', 'é', 'a%2Fb', '%00x']) {
        const r = await putTag(app, repo, bad, id);
        await expectError(r, 400, INVALID_TAG);
      }
    });
  });

  test('the tag name is checked before the body', async () => {
    await withApp(async (app) => {
      const r = await app.req('PUT', `/v1/repositories/ns/${randomName()}/tags/.bad`, { body: 'not json' });
      await expectError(r, 400, INVALID_TAG);
    });
  });

  test('body not a non-empty JSON string → 400 Invalid data', async () => {
    await withApp(async (app) => {
      const id = newId();
      await upload(app, id, null, 'x');
      const repo = `ns/${randomName()}`;
      for (const b of ['42', JSON.stringify({ id }), JSON.stringify([id]), '""', 'null', 'true', 'not json', '', `"${id}`, id]) {
        const r = await app.req('PUT', `/v1/repositories/${repo}/tags/latest`, { body: b });
        await expectError(r, 400, 'Invalid data');
      }
      // nothing was created
      await expectError(await app.req('GET', `/v1/repositories/${repo}/tags`), 404, 'Repository not found');
    });
  });

  test('missing image → 404 Image not found (hex or not); nothing is created', async () => {
    await withApp(async (app) => {
      const repo = `ns/${randomName()}`;
      for (const id of [newId(), 'not-an-image', '../../etc/passwd']) {
        await expectError(await putTag(app, repo, 'latest', id), 404, 'Image not found');
      }
      await expectError(await app.req('GET', `/v1/repositories/${repo}/tags`), 404, 'Repository not found');
    });
  });

  test('a tag may point at an image still in progress', async () => {
    await withApp(async (app) => {
      const id = newId();
      await putJson(app, id);
      const repo = `ns/${randomName()}`;
      const r = await putTag(app, repo, 'wip', id);
      expect(r.status).toBe(200);
      expect(await (await app.req('GET', `/v1/repositories/${repo}/tags/wip`)).json()).toBe(id);
    });
  });

  test('the body is read whatever its Content-Type', async () => {
    await withApp(async (app) => {
      const id = newId();
      await upload(app, id, null, 'x');
      const repo = `ns/${randomName()}`;
      for (const [tag, ct] of [
        ['form', 'application/x-www-form-urlencoded'],
        ['none', undefined],
        ['text', 'text/plain'],
        ['json', 'application/json'],
      ] as const) {
        const r = await app.req('PUT', `/v1/repositories/${repo}/tags/${tag}`, {
          body: new Blob([JSON.stringify(id)]).stream(),
          headers: ct ? { 'content-type': ct } : {},
        });
        expect(`${tag}: ${r.status}`).toBe(`${tag}: 200`);
      }
      const r = await app.req('GET', `/v1/repositories/${repo}/tags`);
      expect(await r.json()).toEqual({ form: id, json: id, none: id, text: id });
    });
  });

  test('re-PUT moves a tag to another image', async () => {
    await withApp(async (app) => {
      const [a, b] = [newId(), newId()];
      await upload(app, a, null, 'a');
      await upload(app, b, null, 'b');
      const repo = `ns/${randomName()}`;
      expect((await putTag(app, repo, 'latest', a)).status).toBe(200);
      expect((await putTag(app, repo, 'latest', b)).status).toBe(200);
      expect(await (await app.req('GET', `/v1/repositories/${repo}/tags/latest`)).json()).toBe(b);
      expect(await (await app.req('GET', `/v1/repositories/${repo}/tags`)).json()).toEqual({ latest: b });
    });
  });

  test('_x tags: GET tags lists only {"_x": id} (no shadow x_json entry)', async () => {
    await withApp(async (app) => {
      const id = newId();
      await upload(app, id, null, 'x');
      const repo = `ns/${randomName()}`;
      expect((await putTag(app, repo, '_x', id)).status).toBe(200);
      const r = await app.req('GET', `/v1/repositories/${repo}/tags`);
      expect(r.status).toBe(200);
      expect(await r.text()).toBe(`{"_x": "${id}"}`);
      const j = await app.req('GET', `/v1/repositories/${repo}/tags/_x/json`);
      expect(((await j.json()) as Record<string, unknown>).docker_version).toBe('0.10.1');
    });
  });
});

describe('E13 / E14 GET tags', () => {
  test('tags list: sorted-key JSON object with no-cache headers', async () => {
    await withApp(async (app) => {
      const [a, b] = [newId(), newId()];
      await upload(app, a, null, 'a');
      await upload(app, b, null, 'b');
      const repo = `ns/${randomName()}`;
      await putTag(app, repo, 'zeta', a);
      await putTag(app, repo, 'alpha', b);
      const r = await app.req('GET', `/v1/repositories/${repo}/tags`);
      expect(r.status).toBe(200);
      expectNoCacheHeaders(r);
      expect(await r.text()).toBe(`{"alpha": "${b}", "zeta": "${a}"}`);
    });
  });

  test('GET a missing tag → 404 Tag not found (existing or missing repository); any segment accepted', async () => {
    await withApp(async (app) => {
      const id = newId();
      await upload(app, id, null, 'x');
      const repo = `ns/${randomName()}`;
      await putTag(app, repo, 'latest', id);
      for (const tag of ['nope', '.weird', '-dash', '%24x']) {
        await expectError(await app.req('GET', `/v1/repositories/${repo}/tags/${tag}`), 404, 'Tag not found');
      }
      await expectError(await app.req('GET', `/v1/repositories/ns/${randomName()}/tags/latest`), 404, 'Tag not found');
    });
  });
});

// -------------------------------------------------------------------------------------------------
// E16 DELETE tag, E19 DELETE repository
// -------------------------------------------------------------------------------------------------

describe('E16 DELETE tag / E19 DELETE repository', () => {
  test('DELETE a missing tag → 404 Tag not found: <tag>', async () => {
    await withApp(async (app) => {
      const id = newId();
      await upload(app, id, null, 'x');
      const repo = `ns/${randomName()}`;
      await putTag(app, repo, 'latest', id);
      await expectError(await app.req('DELETE', `/v1/repositories/${repo}/tags/other`), 404, 'Tag not found: other');
      await expectError(await app.req('DELETE', `/v1/repositories/ns/${randomName()}/tags/latest`), 404, 'Tag not found: latest');
      // the existing tag survived
      expect(await (await app.req('GET', `/v1/repositories/${repo}/tags`)).json()).toEqual({ latest: id });
    });
  });

  test('DELETE latest also drops the repository json (back to the default)', async () => {
    await withApp(async (app) => {
      const id = newId();
      await upload(app, id, null, 'x');
      const repo = `ns/${randomName()}`;
      await putTag(app, repo, 'latest', id, UA_TEST);
      expect(((await (await app.req('GET', `/v1/repositories/${repo}/json`)).json()) as Record<string, unknown>).arch).toBe('archtest');
      expect((await app.req('DELETE', `/v1/repositories/${repo}/tags/latest`)).status).toBe(200);
      expect(await (await app.req('GET', `/v1/repositories/${repo}/json`)).text()).toBe(DEFAULT_JSON_TEXT);
      await expectError(await app.req('DELETE', `/v1/repositories/${repo}/tags/latest`), 404, 'Tag not found: latest');
    });
  });

  test('DELETE repository: /, no slash, and /tags all work; missing → 404 Repository not found; images survive', async () => {
    await withApp(async (app) => {
      const id = newId();
      await upload(app, id, null, 'x');
      for (const suffix of ['/', '', '/tags', '/tags/']) {
        const repo = `ns/${randomName()}`;
        await putTag(app, repo, 'latest', id);
        await putTag(app, repo, 'v1', id);
        const r = await app.req('DELETE', `/v1/repositories/${repo}${suffix}`);
        expect(`${suffix}: ${r.status}`).toBe(`${suffix}: 200`);
        expect(await r.text()).toBe('true');
        await expectError(await app.req('GET', `/v1/repositories/${repo}/tags`), 404, 'Repository not found');
        await expectError(await app.req('GET', `/v1/repositories/${repo}/tags/v1`), 404, 'Tag not found');
        expect(await (await app.req('GET', `/v1/repositories/${repo}/json`)).text()).toBe(DEFAULT_JSON_TEXT);
        await expectError(await app.req('DELETE', `/v1/repositories/${repo}${suffix}`), 404, 'Repository not found');
      }
      expect((await app.req('GET', `/v1/images/${id}/json`)).status).toBe(200);
      expect((await app.req('GET', `/v1/images/${id}/layer`)).status).toBe(200);
    });
  });

  test('a repository can be re-created after deletion', async () => {
    await withApp(async (app) => {
      const id = newId();
      await upload(app, id, null, 'x');
      const repo = `ns/${randomName()}`;
      await putTag(app, repo, 'old', id);
      expect((await app.req('DELETE', `/v1/repositories/${repo}/`)).status).toBe(200);
      await putTag(app, repo, 'new', id);
      expect(await (await app.req('GET', `/v1/repositories/${repo}/tags`)).json()).toEqual({ new: id });
    });
  });
});

// -------------------------------------------------------------------------------------------------
// E17 repository json, E18 tag json
// -------------------------------------------------------------------------------------------------

describe('E17 / E18 repository and tag json', () => {
  test('unknown repository json → 200 default object (exact text, no-cache headers)', async () => {
    await withApp(async (app) => {
      const r = await app.req('GET', `/v1/repositories/ns/${randomName()}/json`);
      expect(r.status).toBe(200);
      expectNoCacheHeaders(r);
      expect(await r.text()).toBe(DEFAULT_JSON_TEXT);
    });
  });

  test('unknown tag json → 200 default object; repository without latest → default repository json', async () => {
    await withApp(async (app) => {
      const id = newId();
      await upload(app, id, null, 'x');
      const repo = `ns/${randomName()}`;
      await putTag(app, repo, 'v1', id, UA_TEST);
      let r = await app.req('GET', `/v1/repositories/${repo}/tags/nope/json`);
      expect(r.status).toBe(200);
      expect(await r.text()).toBe(DEFAULT_JSON_TEXT);
      r = await app.req('GET', `/v1/repositories/ns/${randomName()}/tags/latest/json`);
      expect(await r.text()).toBe(DEFAULT_JSON_TEXT);
      r = await app.req('GET', `/v1/repositories/${repo}/json`);
      expect(await r.text()).toBe(DEFAULT_JSON_TEXT);
    });
  });

  test('tag metadata is serialized with sorted keys and ", " / ": " separators', async () => {
    await withApp(async (app) => {
      const id = newId();
      await upload(app, id, null, 'x');
      const repo = `ns/${randomName()}`;
      await putTag(app, repo, 'latest', id, 'docker/1.2.0 go/go1.3 kernel/3.13.0-GENERIC os/Linux arch/AMD64');
      const text = await (await app.req('GET', `/v1/repositories/${repo}/tags/latest/json`)).text();
      expect(text).toMatch(
        /^\{"arch": "amd64", "docker_go_version": "go1\.3", "docker_version": "1\.2\.0", "kernel": "3\.13\.0-generic", "last_update": \d+, "os": "linux"\}$/,
      );
      expect(await (await app.req('GET', `/v1/repositories/${repo}/json`)).text()).toBe(text);
    });
  });

  test('a UA without tokens gives only last_update', async () => {
    await withApp(async (app) => {
      const id = newId();
      await upload(app, id, null, 'x');
      const repo = `ns/${randomName()}`;
      await putTag(app, repo, 'latest', id, 'curl');
      const meta = (await (await app.req('GET', `/v1/repositories/${repo}/tags/latest/json`)).json()) as Record<string, unknown>;
      expect(Object.keys(meta)).toEqual(['last_update']);
    });
  });
});

// -------------------------------------------------------------------------------------------------
// E11 / E12 properties
// -------------------------------------------------------------------------------------------------

describe('E11 / E12 properties', () => {
  test('private / public round trip; unknown repository is public', async () => {
    await withApp(async (app) => {
      const repo = `ns/${randomName()}`;
      let r = await app.req('GET', `/v1/repositories/${repo}/properties`);
      expect(r.status).toBe(200);
      expectNoCacheHeaders(r);
      expect(await r.text()).toBe('{"access": "public"}');
      r = await app.req('PUT', `/v1/repositories/${repo}/properties`, { json: { access: 'private' } });
      expect(r.status).toBe(200);
      expect(await r.text()).toBe('true');
      expect(await (await app.req('GET', `/v1/repositories/${repo}/properties`)).text()).toBe('{"access": "private"}');
      // any other value changes nothing
      r = await app.req('PUT', `/v1/repositories/${repo}/properties`, { json: { access: 'secret' } });
      expect(r.status).toBe(200);
      expect(await (await app.req('GET', `/v1/repositories/${repo}/properties`)).text()).toBe('{"access": "private"}');
      r = await app.req('PUT', `/v1/repositories/${repo}/properties`, { body: '{"access": "public"}', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expect(r.status).toBe(200);
      expect(await (await app.req('GET', `/v1/repositories/${repo}/properties`)).text()).toBe('{"access": "public"}');
    });
  });

  test('bad bodies → 400 Invalid data (missing access is 400, not 500)', async () => {
    await withApp(async (app) => {
      const repo = `ns/${randomName()}`;
      for (const b of ['{}', '[]', '"private"', 'null', '42', 'not json', '', '{"other": 1}', '{"Access": "private"}', '[{"access": "private"}]']) {
        const r = await app.req('PUT', `/v1/repositories/${repo}/properties`, { body: b });
        await expectError(r, 400, 'Invalid data');
      }
      expect(await (await app.req('GET', `/v1/repositories/${repo}/properties`)).text()).toBe('{"access": "public"}');
    });
  });
});

// -------------------------------------------------------------------------------------------------
// one-part names, trailing slashes, HEAD
// -------------------------------------------------------------------------------------------------

describe('one-part names are library/<name>', () => {
  test('PUT via foo, read via library/foo, and the reverse; delete via either', async () => {
    await withApp(async (app) => {
      const id = newId();
      await upload(app, id, null, 'x');
      const name = randomName();
      expect((await putTag(app, name, 'latest', id, UA_TEST)).status).toBe(200);
      expect((await putTag(app, `library/${name}`, 'v2', id)).status).toBe(200);
      for (const path of [name, `library/${name}`]) {
        const r = await app.req('GET', `/v1/repositories/${path}/tags`);
        expect(`${path}: ${r.status}`).toBe(`${path}: 200`);
        expect(await r.json()).toEqual({ latest: id, v2: id });
        expect(await (await app.req('GET', `/v1/repositories/${path}/tags/latest`)).json()).toBe(id);
        expect(((await (await app.req('GET', `/v1/repositories/${path}/tags/latest/json`)).json()) as Record<string, unknown>).arch).toBe('archtest');
        expect(((await (await app.req('GET', `/v1/repositories/${path}/json`)).json()) as Record<string, unknown>).arch).toBe('archtest');
      }
      expect((await app.req('PUT', `/v1/repositories/${name}/properties`, { json: { access: 'private' } })).status).toBe(200);
      expect(await (await app.req('GET', `/v1/repositories/library/${name}/properties`)).json()).toEqual({ access: 'private' });
      expect((await app.req('DELETE', `/v1/repositories/${name}/tags/v2`)).status).toBe(200);
      expect(await (await app.req('GET', `/v1/repositories/library/${name}/tags`)).json()).toEqual({ latest: id });
      expect((await app.req('DELETE', `/v1/repositories/${name}/`)).status).toBe(200);
      await expectError(await app.req('GET', `/v1/repositories/library/${name}/tags`), 404, 'Repository not found');
      await expectError(await app.req('GET', `/v1/repositories/${name}/tags`), 404, 'Repository not found');
    });
  });

  test('a one-part name is not confused with another namespace', async () => {
    await withApp(async (app) => {
      const id = newId();
      await upload(app, id, null, 'x');
      const name = randomName();
      await putTag(app, `other/${name}`, 'latest', id);
      await expectError(await app.req('GET', `/v1/repositories/${name}/tags`), 404, 'Repository not found');
    });
  });

  test('one-part names whose name is an endpoint word (json, images)', async () => {
    await withApp(async (app) => {
      const id = newId();
      await upload(app, id, null, 'x');
      // `/v1/repositories/json/tags/latest` is tag latest of library/json
      expect((await putTag(app, 'json', 'latest', id)).status).toBe(200);
      expect(await (await app.req('GET', '/v1/repositories/library/json/tags')).json()).toEqual({ latest: id });
      expect(await (await app.req('GET', '/v1/repositories/json/tags')).json()).toEqual({ latest: id });
      expect((await putTag(app, 'images', 'latest', id)).status).toBe(200);
      expect(await (await app.req('GET', '/v1/repositories/library/images/tags')).json()).toEqual({ latest: id });
    });
  });
});

describe('trailing slashes (never a redirect)', () => {
  test('every repository route answers with and without a trailing slash', async () => {
    await withApp(async (app) => {
      const id = newId();
      await upload(app, id, null, 'x');
      const repo = `ns/${randomName()}`;
      let r = await app.req('PUT', `/v1/repositories/${repo}/tags/latest/`, { body: JSON.stringify(id) });
      expect(r.status).toBe(200);
      r = await app.req('PUT', `/v1/repositories/${repo}/properties/`, { json: { access: 'private' } });
      expect(r.status).toBe(200);
      for (const path of ['tags', 'tags/latest', 'tags/latest/json', 'json', 'properties']) {
        for (const slash of ['', '/']) {
          r = await app.req('GET', `/v1/repositories/${repo}/${path}${slash}`);
          expect(`${path}${slash}: ${r.status}`).toBe(`${path}${slash}: 200`);
          expect(r.headers.get('location')).toBeNull();
          await r.text();
        }
      }
      r = await app.req('DELETE', `/v1/repositories/${repo}/tags/latest/`);
      expect(r.status).toBe(200);
      // one-part names too
      const name = randomName();
      expect((await app.req('PUT', `/v1/repositories/${name}/tags/latest/`, { body: JSON.stringify(id) })).status).toBe(200);
      r = await app.req('GET', `/v1/repositories/${name}/tags/`);
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual({ latest: id });
      r = await app.req('DELETE', `/v1/repositories/${name}`);
      expect(r.status).toBe(200);
    });
  });
});

describe('HEAD on every GET route', () => {
  test('same status and headers as GET, empty body', async () => {
    await withApp(async (app) => {
      const id = newId();
      await upload(app, id, null, 'x');
      const repo = `ns/${randomName()}`;
      await putTag(app, repo, 'latest', id);
      const missing = `ns/${randomName()}`;
      for (const path of [
        `/v1/repositories/${repo}/tags`,
        `/v1/repositories/${repo}/tags/latest`,
        `/v1/repositories/${repo}/tags/latest/json`,
        `/v1/repositories/${repo}/json`,
        `/v1/repositories/${repo}/properties`,
        `/v1/repositories/${missing}/tags`,
        `/v1/repositories/${missing}/tags/latest`,
        `/v1/repositories/${randomName()}/tags`,
      ]) {
        const g = await app.req('GET', path);
        const gBody = await g.text();
        const h = await app.req('HEAD', path);
        expect(`${path}: ${h.status}`).toBe(`${path}: ${g.status}`);
        for (const name of ['content-type', 'cache-control', 'expires', 'pragma']) {
          expect(`${path} ${name}: ${h.headers.get(name)}`).toBe(`${path} ${name}: ${g.headers.get(name)}`);
        }
        const hl = h.headers.get('content-length');
        if (hl !== null) expect(Number(hl)).toBe(new TextEncoder().encode(gBody).byteLength);
        expect(await h.text()).toBe('');
      }
    });
  });
});

// the default UA is the original's test UA
test('harness sanity: TEST_UA is the original test UA', () => {
  expect(TEST_UA).toBe('docker/0.10.1 go/go1.2.1 git-commit/3600720 kernel/3.8.0-19-generic os/linux arch/amd64');
});
