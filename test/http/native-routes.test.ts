/**
 * The hot GETs (tags, tag, image json, ancestry) are dispatched by Bun.serve's own router
 * (app/fetch.ts nativeRoutes, http/native-route.ts). A server with the native table must answer
 * exactly what the same app answers through its generic route (createRoute → app.handle): status,
 * headers, body, for GET and HEAD, good and bad input, open and token auth; every request goes
 * through the wrapper; and good input is answered without the app's router.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import type { Server } from 'bun';
import { createRoute, nativeRoutes, type AppRoute } from '../../src/app/fetch.ts';
import { internalErrorReply } from '../../src/http/errors.ts';
import { requestUrl } from '../../src/http/request-target.ts';
import { signUp, tokenApp } from '../auth/helpers.ts';
import { makeApp, randomHex, sha256Payload, TEST_UA, uploadImage, type TestApp } from '../helpers/app.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { imageManifest, putManifest, sha256 } from '../helpers/v2.ts';

interface Pair {
  native: Server<undefined>;
  generic: Server<undefined>;
  /** what the wrapper saw, per server */
  seen: { native: string[]; generic: string[] };
  /** how many requests reached app.handle */
  routed: () => number;
  stop(): void;
}

/** Two servers over one app: one with the native table (as src/worker/serve.ts builds it), one without. */
function serve(t: TestApp): Pair {
  let routed = 0;
  const handle = t.app.handle.bind(t.app);
  t.app.handle = (request: Request) => {
    routed++;
    return handle(request);
  };
  const seen = { native: [] as string[], generic: [] as string[] };
  const wrap = (list: string[]) => (route: AppRoute) => (request: Request) => {
    list.push(`${request.method} ${new URL(request.url, 'http://x').pathname}`);
    return route(request, requestUrl(request));
  };
  const route = createRoute(t.app);
  const wrapNative = wrap(seen.native);
  const routes = Object.fromEntries(Object.entries(nativeRoutes(t.app)).map(([path, r]) => [path, { GET: wrapNative(r) }]));
  const common = { hostname: '127.0.0.1', port: 0, development: false, error: internalErrorReply } as const;
  const native = Bun.serve({ ...common, routes, fetch: wrapNative(route) });
  const generic = Bun.serve({ ...common, fetch: wrap(seen.generic)(route) });
  return {
    native,
    generic,
    seen,
    routed: () => routed,
    stop() {
      native.stop(true);
      generic.stop(true);
    },
  };
}

/** A reply as compared: `date` dropped; `expires` (now + 1 year) checked apart, to the second. */
async function ask(server: Server<undefined>, method: string, target: string, headers: string[]) {
  const reply = await rawRequest(server.port!, [`${method} ${target} HTTP/1.1`, ...headers]);
  expect(reply).not.toBeNull();
  const { date: _date, expires, ...rest } = reply!.headers;
  return { status: reply!.status, headers: rest, expires, body: new TextDecoder().decode(reply!.body) };
}

async function expectSame(pair: Pair, method: string, target: string, headers: string[] = ['Host: localhost', `User-Agent: ${TEST_UA}`]) {
  const native = await ask(pair.native, method, target, headers);
  const generic = await ask(pair.generic, method, target, headers);
  const what = `${method} ${target} ${JSON.stringify(headers)}`;
  expect({ what, ...native, expires: undefined }).toEqual({ what, ...generic, expires: undefined });
  expect(native.expires === undefined).toBe(generic.expires === undefined);
  if (native.expires !== undefined) expect(Math.abs(Date.parse(native.expires) - Date.parse(generic.expires!))).toBeLessThanOrEqual(2000);
  return native;
}

const ok = (cond: boolean, what: string) => expect(cond, what).toBe(true);

describe('open mode', async () => {
  const t = makeApp();
  const id = randomHex(64);
  const parent = randomHex(64);
  const pending = randomHex(64);
  await uploadImage(t, parent, null, 'parent layer', ok);
  await uploadImage(t, id, parent, 'child layer', ok);
  expect((await t.req('PUT', `/v1/images/${pending}/json`, { body: JSON.stringify({ id: pending }) })).status).toBe(200);
  for (const [repo, tag] of [['ns/repo', 'latest'], ['library/solo', 'v1'], ['ns/tags', 'tags']] as const) {
    expect((await t.req('PUT', `/v1/repositories/${repo}/tags/${tag}`, { json: id })).status).toBe(200);
  }
  const pair = serve(t);
  afterAll(() => {
    pair.stop();
    t.close();
  });

  const good = [
    '/v1/repositories/ns/repo/tags',
    '/v1/repositories/ns/repo/tags/latest',
    '/v1/repositories/library/solo/tags',
    '/v1/repositories/library/solo/tags/v1',
    `/v1/images/${id}/json`,
    `/v1/images/${id}/ancestry`,
    `/v1/images/${parent}/json`,
    `/v1/images/${id}/json?x=1`,
  ];
  const other = [
    // unknown names and ids, invalid names and ids, images in progress
    '/v1/repositories/ns/nothing/tags',
    '/v1/repositories/ns/repo/tags/missing',
    '/v1/repositories/NS!/re%20po/tags',
    '/v1/repositories/ns/repo/tags/%E2%82%AC',
    `/v1/images/${randomHex(64)}/json`,
    '/v1/images/not-hex!/json',
    '/v1/images/a%2Fb/ancestry',
    `/v1/images/${pending}/json`,
    `/v1/images/${pending}/ancestry`,
    // one-part names (rewritten to library/<name>), a path the rewrite reads as another route
    '/v1/repositories/solo/tags',
    '/v1/repositories/solo/tags/v1',
    '/v1/repositories/ns/tags/tags',
    '/v1/repositories/ns/tags/tags/json',
    // percent-encoding that does not decode, trailing slashes, doubled slashes
    '/v1/repositories/ns/re%ZZpo/tags',
    '/v1/images/%E2%82/json',
    '/v1/repositories/ns/repo/tags/',
    `/v1/images/${id}/json/`,
    '/v1/repositories/ns//tags',
  ];

  for (const method of ['GET', 'HEAD']) {
    test(`${method}: good input answers like the app, without the app's router`, async () => {
      const before = pair.routed();
      for (const target of good) await expectSame(pair, method, target);
      // the generic server routed each once; the native one not at all
      expect(pair.routed() - before).toBe(good.length);
    });

    test(`${method}: unknown, invalid, one-part and odd paths answer like the app`, async () => {
      for (const target of other) await expectSame(pair, method, target);
    });

    test(`${method}: If-Modified-Since (304, or 200 for an old or bad date) answers like the app`, async () => {
      for (const since of ['Fri, 31 Dec 9999 23:59:59 GMT', 'Thu, 01 Jan 1970 00:00:00 GMT', 'not a date']) {
        for (const target of [`/v1/images/${id}/json`, `/v1/images/${id}/ancestry`]) {
          await expectSame(pair, method, target, ['Host: localhost', `If-Modified-Since: ${since}`]);
        }
      }
    });

    test(`${method}: an invalid or a short Host header answers like the app`, async () => {
      // short: Elysia once read the path from index 11 of the URL, past it for `http://x/…`
      for (const host of ['a b', '[::1', 'x:99999', 'x', 'a:1']) {
        for (const target of [good[0]!, good[4]!]) await expectSame(pair, method, target, [`Host: ${host}`]);
      }
    });
  }

  test('a short Host header reaches the routes (200 for good input)', async () => {
    for (const host of ['x', 'a:1']) {
      for (const target of good) expect((await expectSame(pair, 'GET', target, [`Host: ${host}`])).status).toBe(200);
    }
  });

  test('every request passed through the wrapper of the server it reached', () => {
    expect(pair.seen.native.length).toBe(pair.seen.generic.length);
    expect(pair.seen.native.length).toBeGreaterThan(2 * (good.length + other.length));
  });
});

describe('V2 (open mode)', async () => {
  const t = makeApp();
  const manifest = await imageManifest(t, 'team/app/web', ['layer one', 'layer two']);
  for (const [name, tag] of [['team/app/web', 'latest'], ['team/app/web', 'v1.0'], ['solo', 'x'], ['a/manifests', 'm']] as const) {
    if (name !== 'team/app/web') await imageManifest(t, name, ['layer one', 'layer two']);
    expect((await putManifest(t, name, tag, manifest)).status).toBe(201);
  }
  const digest = sha256(manifest);
  const pair = serve(t);
  afterAll(() => {
    pair.stop();
    t.close();
  });
  const good = [
    '/v2/team/app/web/manifests/latest',
    `/v2/team/app/web/manifests/${digest}`,
    '/v2/solo/manifests/x',
    '/v2/library/solo/manifests/x',
    '/v2/a/manifests/manifests/m',
    '/v2/team/app/web/tags/list',
    '/v2/team/app/web/tags/list?n=1',
    '/v2/team/app/web/tags/list?n=1&last=latest',
  ];
  const other = [
    '/v2/team/app/web/manifests/missing',
    '/v2/team/app/web/manifests/sha256:bad',
    '/v2/team/app/web/manifests/.INVALID',
    '/v2/Team/app/manifests/latest',
    '/v2/no/such/tags/list',
    '/v2/team/app/web/tags/list?n=x',
    '/v2/team%2Fapp%2Fweb/manifests/latest',
    '/v2/team/app/web/manifests/latest/',
    `/v2/team/app/web/blobs/${digest}`,
    '/v2/',
    '/v2/_catalog',
    '/v2/team//web/tags/list',
  ];
  for (const method of ['GET', 'HEAD']) {
    test(`${method}: manifests and tag lists answer like the app, without the app's router`, async () => {
      const before = pair.routed();
      for (const target of good) expect((await expectSame(pair, method, target)).status).toBe(200);
      expect(pair.routed() - before).toBe(good.length);
    });
    test(`${method}: unknown, invalid and other V2 paths answer like the app`, async () => {
      for (const target of other) await expectSame(pair, method, target);
    });
  }
});

describe('token mode', async () => {
  const t = tokenApp({ standalone: true, anonymous_read: false });
  const admin = await signUp(t, 'alice');
  const id = randomHex(64);
  // a push with Basic credentials gives the write token the uploads use
  let r = await t.req('PUT', '/v1/repositories/alice/app/', { json: [{ id }], headers: { authorization: admin, 'x-docker-token': 'true' } });
  expect(r.status).toBe(200);
  const write = r.headers.get('x-docker-token')!;
  const json = JSON.stringify({ id });
  const auth = { authorization: write };
  expect((await t.req('PUT', `/v1/images/${id}/json`, { body: json, headers: auth })).status).toBe(200);
  expect((await t.req('PUT', `/v1/images/${id}/layer`, { body: 'layer', headers: auth })).status).toBe(200);
  r = await t.req('PUT', `/v1/images/${id}/checksum`, { headers: { ...auth, 'x-docker-checksum-payload': sha256Payload(json, 'layer') } });
  expect(r.status).toBe(200);
  expect((await t.req('PUT', '/v1/repositories/alice/app/tags/latest', { json: id, headers: auth })).status).toBe(200);
  expect((await t.req('PUT', '/v1/repositories/alice/app/images', { json: [{ id }], headers: { authorization: admin } })).status).toBe(204);
  r = await t.req('GET', '/v1/repositories/alice/app/images', { headers: { authorization: admin, 'x-docker-token': 'true' } });
  expect(r.status).toBe(200);
  const read = r.headers.get('x-docker-token')!;
  const pair = serve(t);
  afterAll(() => {
    pair.stop();
    t.close();
  });
  const targets = ['/v1/repositories/alice/app/tags', '/v1/repositories/alice/app/tags/latest', `/v1/images/${id}/json`, `/v1/images/${id}/ancestry`];

  for (const method of ['GET', 'HEAD']) {
    test(`${method}: with the read token, answers like the app, without the app's router`, async () => {
      const before = pair.routed();
      for (const target of targets) {
        const reply = await expectSame(pair, method, target, ['Host: localhost', `Authorization: ${read}`]);
        expect(reply.status).toBe(200);
      }
      expect(pair.routed() - before).toBe(targets.length);
    });

    test(`${method}: no token, a forged token, a token for another repository, Basic credentials: answers like the app`, async () => {
      const forged = read.replace(/signature=[^,]+/, 'signature=forged');
      const other = read.replace('alice/app', 'alice/other');
      for (const authorization of [null, forged, 'Token junk', other, admin]) {
        for (const target of targets) {
          const reply = await expectSame(pair, method, target, ['Host: localhost', ...(authorization ? [`Authorization: ${authorization}`] : [])]);
          // without a valid token the guard refuses (Basic credentials and other tokens: as the app decides)
          if (authorization === null || authorization === forged || authorization === 'Token junk') expect(reply.status).toBe(401);
        }
      }
    });
  }
});
