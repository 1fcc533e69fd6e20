/**
 * The mirror's upstream client against a real local HTTP server: every upstream failure becomes a
 * gateway RegistryError (502/503/504), misses come back as replies, slow headers and stalled
 * bodies time out, and the Bearer and Basic flows authenticate as clients do.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { parseChallenge, Upstream, v1Authorization } from '../../src/upstream/client.ts';
import { failure } from '../helpers/failure.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tokenRequests: string[] = [];
const authSeen: (string | null)[] = [];
/** the Bearer upstream accepts only tokens minted after the switch (a key rotation) */
let rotated = false;
let server: ReturnType<typeof Bun.serve>;
let base: string;

beforeAll(() => {
  server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    idleTimeout: 30,
    async fetch(req) {
      const url = new URL(req.url);
      const auth = req.headers.get('authorization');
      switch (url.pathname) {
        case '/ok':
          return Response.json({ hello: 'world' });
        case '/missing':
          return new Response('{"error":"no"}', { status: 404 });
        case '/boom':
          return new Response('oops', { status: 500 });
        case '/busy':
          return new Response('slow down', { status: 429 });
        case '/garbage':
          return new Response('<html>not json', { status: 200 });
        case '/huge':
          return new Response(new Uint8Array(2048), { status: 200 });
        case '/slow-headers':
          await sleep(1500);
          return new Response('late');
        case '/stall': {
          // a first chunk, then silence
          const body = new ReadableStream({
            async pull(c) {
              c.enqueue(new TextEncoder().encode('first'));
              await sleep(3000);
              c.close();
            },
          });
          return new Response(body);
        }
        case '/token': {
          tokenRequests.push(url.search + ' ' + (auth ?? '-'));
          if (auth && auth !== `Basic ${btoa('bob:secret')}`) return new Response('no', { status: 401 });
          return Response.json({ token: `tok-${url.searchParams.get('scope')}${rotated ? '#2' : ''}`, expires_in: 300 });
        }
        case '/v1-token':
          authSeen.push(auth);
          if (auth !== 'Token signature=abc,repository="a/b",access=read') return new Response('{}', { status: 401, headers: { 'www-authenticate': 'Token' } });
          return Response.json({ ok: true });
        case '/basic-only':
          authSeen.push(auth);
          if (auth !== `Basic ${btoa('bob:secret')}`) return new Response('{}', { status: 401, headers: { 'www-authenticate': 'Basic realm="r"' } });
          return Response.json({ ok: true });
      }
      const m = /^\/v2\/(.+)\/manifests\/(.+)$/.exec(url.pathname);
      if (m) {
        authSeen.push(auth);
        if (auth !== `Bearer tok-repository:${m[1]}:pull${rotated ? '#2' : ''}`) {
          return new Response('{}', {
            status: 401,
            headers: { 'www-authenticate': `Bearer realm="${base}/token",service="up",scope="repository:${m[1]}:pull"` },
          });
        }
        return Response.json({ schemaVersion: 2 });
      }
      return new Response('?', { status: 400 });
    },
  });
  base = `http://127.0.0.1:${server.port}`;
});
afterAll(() => server.stop(true));

describe('replies and failures', () => {
  const up = () => new Upstream(base, { timeoutMs: 1000 });

  test('a 200 and a 404 come back as they are', async () => {
    const ok = await up().request('/ok');
    expect(ok.status).toBe(200);
    expect((await up().json(ok)).value).toEqual({ hello: 'world' });
    expect((await up().request('/missing')).status).toBe(404);
  });

  test('5xx is 502, 429 is 503, garbage JSON and oversized bodies are 502', async () => {
    expect((await failure(up().request('/boom'))).status).toBe(502);
    expect((await failure(up().request('/busy'))).status).toBe(503);
    const u = up();
    expect((await failure(u.json(await u.request('/garbage')))).code).toBe('UPSTREAM_BAD_RESPONSE');
    expect((await failure(u.bytes(await u.request('/huge'), 1024))).code).toBe('UPSTREAM_BAD_RESPONSE');
  });

  test('a refused connection is 503', async () => {
    const probe = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response() });
    const port = probe.port;
    probe.stop(true);
    const e = await failure(new Upstream(`http://127.0.0.1:${port}`, { timeoutMs: 1000 }).request('/ok'));
    expect(e.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(e.status).toBe(503);
  });

  test('slow headers are 504 after the timeout', async () => {
    const started = Date.now();
    const e = await failure(new Upstream(base, { timeoutMs: 300 }).request('/slow-headers'));
    expect(e.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(1400);
  });

  test('a body that stalls errors with 504 after the first bytes', async () => {
    const u = new Upstream(base, { timeoutMs: 300 });
    const reply = await u.request('/stall');
    expect(reply.status).toBe(200);
    const reader = reply.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('first');
    const e = await failure(reader.read());
    expect(e.code).toBe('UPSTREAM_TIMEOUT');
  });
});

describe('authentication', () => {
  test('a Bearer challenge: a token from the realm with the Basic credentials, kept per scope', async () => {
    tokenRequests.length = 0;
    authSeen.length = 0;
    const u = new Upstream(base, { timeoutMs: 1000, username: 'bob', password: 'secret' });
    expect((await u.request('/v2/library/a/manifests/latest')).status).toBe(200);
    expect((await u.request('/v2/library/a/manifests/v2')).status).toBe(200);
    expect(tokenRequests).toEqual([`?service=up&scope=repository%3Alibrary%2Fa%3Apull Basic ${btoa('bob:secret')}`]);
    // no credentials before the challenge; the second request went straight out with the cached token
    expect(authSeen).toEqual([null, 'Bearer tok-repository:library/a:pull', 'Bearer tok-repository:library/a:pull']);
  });

  test('anonymous Bearer tokens when there are no credentials', async () => {
    tokenRequests.length = 0;
    const u = new Upstream(base, { timeoutMs: 1000 });
    expect((await u.request('/v2/x/manifests/1')).status).toBe(200);
    expect(tokenRequests).toEqual(['?service=up&scope=repository%3Ax%3Apull -']);
  });

  test('credentials the token endpoint refuses are 502 UPSTREAM_DENIED', async () => {
    const e = await failure(new Upstream(base, { timeoutMs: 1000, username: 'bob', password: 'wrong' }).request('/v2/y/manifests/1'));
    expect(e.code).toBe('UPSTREAM_DENIED');
    expect(e.status).toBe(502);
  });

  test('Basic: sent once challenged, then on every request; without credentials a Basic challenge is UPSTREAM_DENIED', async () => {
    authSeen.length = 0;
    const u = new Upstream(base, { timeoutMs: 1000, username: 'bob', password: 'secret' });
    expect((await u.request('/basic-only')).status).toBe(200);
    expect((await u.request('/basic-only')).status).toBe(200);
    expect(authSeen).toEqual([null, `Basic ${btoa('bob:secret')}`, `Basic ${btoa('bob:secret')}`]);
    expect((await failure(new Upstream(base, { timeoutMs: 1000 }).request('/basic-only'))).code).toBe('UPSTREAM_DENIED');
    const wrong = await failure(new Upstream(base, { timeoutMs: 1000, username: 'bob', password: 'nope' }).request('/basic-only'));
    expect(wrong.code).toBe('UPSTREAM_DENIED');
  });

  test('a cached token the upstream refuses is replaced by a new one, once', async () => {
    tokenRequests.length = 0;
    authSeen.length = 0;
    const u = new Upstream(base, { timeoutMs: 1000, username: 'bob', password: 'secret' });
    expect((await u.request('/v2/rotated/manifests/1')).status).toBe(200);
    // the upstream now refuses that token (its key rotated): a fresh one is fetched and accepted
    rotated = true;
    try {
      expect((await u.request('/v2/rotated/manifests/2')).status).toBe(200);
    } finally {
      rotated = false;
    }
    expect(tokenRequests).toHaveLength(2);
    expect(authSeen.slice(-2)).toEqual(['Bearer tok-repository:rotated:pull', 'Bearer tok-repository:rotated:pull#2']);
  });

  test("V1 Token: a challenge asks the caller's v1Token, the request goes once more with it; a held token is sent from the start", async () => {
    const u = new Upstream(base, { timeoutMs: 1000, username: 'bob', password: 'secret' });
    authSeen.length = 0;
    let asked = 0;
    // the Hub's X-Docker-Token has no `Token ` prefix: it is added
    const v1Token = async () => (asked++, 'signature=abc,repository="a/b",access=read');
    expect((await u.request('/v1-token', { v1Token })).status).toBe(200);
    expect(asked).toBe(1);
    expect(authSeen).toEqual([null, 'Token signature=abc,repository="a/b",access=read']);
    authSeen.length = 0;
    expect((await u.request('/v1-token', { authorization: 'Token signature=abc,repository="a/b",access=read', v1Token })).status).toBe(200);
    expect(asked).toBe(1);
    expect(authSeen).toHaveLength(1);
    // no token to be had, or one refused: 502 UPSTREAM_DENIED
    expect((await failure(u.request('/v1-token', { v1Token: async () => null }))).code).toBe('UPSTREAM_DENIED');
    expect((await failure(u.request('/v1-token', { v1Token: async () => 'Token signature=bad' }))).code).toBe('UPSTREAM_DENIED');
    expect((await failure(u.request('/v1-token'))).code).toBe('UPSTREAM_DENIED');
    expect(v1Authorization('  token signature=x ')).toBe('token signature=x');
  });

  test('parseChallenge', () => {
    expect(parseChallenge('Bearer realm="https://a/t",service="reg",scope="repository:x:pull,push"')).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://a/t', service: 'reg', scope: 'repository:x:pull,push' },
    });
    expect(parseChallenge('Basic realm=r')).toEqual({ scheme: 'basic', params: { realm: 'r' } });
    expect(parseChallenge(null)).toBeNull();
  });
});
