/**
 * dev/round-robin-proxy.ts, which the two-node conformance run (oci-conformance.test.ts (c)) puts
 * in front of the nodes: requests alternate between targets; method, path, query, headers (Host
 * included) and bodies reach the target unchanged, with their Content-Length; a HEAD keeps the
 * target's Content-Length; a Location naming a target is rewritten to the proxy; an unreachable
 * target is a 502.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { freePort } from '../../dev/ports.ts';
import { startRoundRobinProxy, type RoundRobinProxy } from '../../dev/round-robin-proxy.ts';

const MiB = 1024 * 1024;

interface Seen {
  node: string;
  method: string;
  path: string;
  host: string | null;
  length: string | null;
  bytes: number;
  sha: string;
}

function node(name: string) {
  const seen: Seen[] = [];
  // the node's own port, for a Location naming the node itself
  const own = { port: 0 };
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    maxRequestBodySize: 1024 * MiB,
    async fetch(req): Promise<Response> {
      const body = new Uint8Array(await req.arrayBuffer());
      const url = new URL(req.url);
      seen.push({
        node: name,
        method: req.method,
        path: url.pathname + url.search,
        host: req.headers.get('host'),
        length: req.headers.get('content-length'),
        bytes: body.length,
        sha: new Bun.CryptoHasher('sha256').update(body).digest('hex'),
      });
      if (url.pathname === '/redirect') return new Response(null, { status: 202, headers: { location: `http://127.0.0.1:${own.port}/next?x=1` } });
      if (url.pathname === '/blob') {
        const size = Number(url.searchParams.get('size'));
        const bytes = new Uint8Array(size).fill(7);
        return new Response(req.method === 'HEAD' ? null : bytes, { headers: { 'content-length': String(size), 'docker-content-digest': 'sha256:x' } });
      }
      return Response.json({ node: name });
    },
  });
  own.port = server.port!;
  return { server, seen, url: `http://127.0.0.1:${own.port}` };
}

let a: ReturnType<typeof node>;
let b: ReturnType<typeof node>;
let proxy: RoundRobinProxy;

beforeAll(() => {
  a = node('a');
  b = node('b');
  proxy = startRoundRobinProxy([a.url, b.url]);
});
afterAll(async () => {
  await proxy.stop();
  a.server.stop(true);
  b.server.stop(true);
});

test('consecutive requests alternate between the targets, path, query and Host kept', async () => {
  const names: string[] = [];
  for (let i = 0; i < 6; i++) names.push(((await (await fetch(`${proxy.url}/v2/x/tags/list?n=${i}`)).json()) as { node: string }).node);
  expect(names).toEqual(['a', 'b', 'a', 'b', 'a', 'b']);
  const all = [...a.seen, ...b.seen];
  expect(all.map((s) => s.path).sort()).toEqual([0, 1, 2, 3, 4, 5].map((i) => `/v2/x/tags/list?n=${i}`));
  expect(all.every((s) => s.host === `127.0.0.1:${proxy.port}`)).toBe(true);
});

test('a 20 MiB request body and a 20 MiB response body stream through, bytes and Content-Length intact', async () => {
  const body = crypto.getRandomValues(new Uint8Array(64 * 1024));
  const big = new Uint8Array(20 * MiB);
  for (let i = 0; i < big.length; i += body.length) big.set(body, i);
  const r = await fetch(`${proxy.url}/upload?digest=sha256:abc`, { method: 'PATCH', body: big, headers: { 'content-length': String(big.length) } });
  expect(r.status).toBe(200);
  const got = [...a.seen, ...b.seen].find((s) => s.method === 'PATCH')!;
  expect(got.bytes).toBe(big.length);
  expect(got.length).toBe(String(big.length));
  expect(got.sha).toBe(new Bun.CryptoHasher('sha256').update(big).digest('hex'));
  const down = await fetch(`${proxy.url}/blob?size=${20 * MiB}`);
  expect(down.headers.get('docker-content-digest')).toBe('sha256:x');
  expect((await down.arrayBuffer()).byteLength).toBe(20 * MiB);
});

test('HEAD keeps the target Content-Length; a Location naming a target points at the proxy', async () => {
  const head = await fetch(`${proxy.url}/blob?size=12345`, { method: 'HEAD' });
  expect(head.status).toBe(200);
  expect(head.headers.get('content-length')).toBe('12345');
  const r = await fetch(`${proxy.url}/redirect`, { method: 'POST', redirect: 'manual' });
  expect(r.status).toBe(202);
  expect(r.headers.get('location')).toBe(`${proxy.url}/next?x=1`);
});

test('an unreachable target answers 502', async () => {
  const dead = startRoundRobinProxy([`http://127.0.0.1:${await freePort()}`]);
  try {
    const r = await fetch(`${dead.url}/v2/`);
    expect(r.status).toBe(502);
    expect(await r.text()).toContain('round-robin proxy');
  } finally {
    await dead.stop();
  }
});
