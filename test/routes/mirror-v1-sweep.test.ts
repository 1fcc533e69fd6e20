/**
 * Every V1 GET and HEAD route of the OpenAPI document, with the mirror on and an upstream that is
 * down or hostile (refused port, 500s, garbage, JSON of the wrong shape, a body that breaks off):
 * never a 500, every error a JSON `{"error": string}`, upstream failures 502/503/504 only.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { join } from 'node:path';
import { hex } from '../../dev/ids.ts';
import { freePort } from '../../dev/ports.ts';
import { makeApp } from '../helpers/app.ts';

const paths = Object.entries((await Bun.file(join(import.meta.dir, '..', '..', 'openapi.json')).json()).paths as Record<string, Record<string, unknown>>)
  .filter(([path, methods]) => path.startsWith('/v1/') && 'get' in methods)
  .map(([path]) => path);

/** Each path with its parameters filled in several ways (valid ids and names, odd ones). */
function targets(): string[] {
  const out: string[] = [];
  for (const path of paths) {
    for (const id of [hex(16), hex(64), 'not-an-id']) {
      for (const [ns, repo, tag] of [['library', `r${hex(6)}`, 'latest'], ['some-ns', 'a.b_c', '_t'], ['x', '%25odd', '.bad']] as const) {
        out.push(
          path
            .replace('{id}', id)
            .replace('{namespace}', ns)
            .replace('{repository}', repo)
            .replace('{tag}', tag)
            .replace('{username}', 'someone'),
        );
      }
    }
  }
  return [...new Set(out), '/v1/search?q=x'];
}

type Mode = (req: Request) => Response | Promise<Response>;
const modes: Record<string, Mode> = {
  '500': () => new Response('boom', { status: 500 }),
  garbage: () => new Response('<html>\u0000\u00ff', { headers: { 'x-docker-size': 'lots', 'x-docker-checksum-payload': 'nope' } }),
  'wrong-shape json': (req) => (new URL(req.url).pathname.endsWith('/tags') ? Response.json([1, 2]) : Response.json({ id: 42, parent: {} })),
  'empty 200': () => new Response(''),
  '429': () => new Response('slow down', { status: 429 }),
  'breaks off': () =>
    new Response(
      new ReadableStream({
        pull: (c) => {
          c.enqueue(new TextEncoder().encode('{"id": "'));
          c.error(new Error('gone'));
        },
      }),
    ),
};

let server: ReturnType<typeof Bun.serve>;
let mode: Mode = modes['500']!;
beforeAll(() => {
  server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: (req) => mode(req) });
});
afterAll(() => server.stop(true));

async function sweep(source: string): Promise<Map<number, number>> {
  const app = makeApp({ 'mirroring.source': source, 'mirroring.timeout': 1 });
  const statuses = new Map<number, number>();
  try {
    for (const target of targets()) {
      for (const method of ['GET', 'HEAD']) {
        const r = await app.req(method, target);
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        const what = `${method} ${target} → ${r.status}`;
        expect(r.status === 500 || r.status > 504 ? `NOT ${what}` : what).toBe(what);
        if (method === 'GET' && r.status >= 400) {
          const body = (await r.json().catch(() => null)) as { error?: unknown } | null;
          expect(typeof body?.error === 'string' ? what : `no JSON error: ${what}`).toBe(what);
        } else {
          await r.arrayBuffer().catch(() => {});
        }
      }
    }
  } finally {
    app.close();
  }
  return statuses;
}

for (const [name, m] of Object.entries(modes)) {
  test(`an upstream answering ${name}`, async () => {
    mode = m;
    const statuses = await sweep(`http://127.0.0.1:${server.port}`);
    // the upstream was asked, and its failure shown as a gateway error
    expect([...statuses.keys()].some((s) => s === 502 || s === 503)).toBe(true);
  });
}

test('an upstream that is down', async () => {
  const statuses = await sweep(`http://127.0.0.1:${await freePort()}`);
  expect(statuses.get(503)).toBeGreaterThan(0);
});
