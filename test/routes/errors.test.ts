/**
 * Table-driven sweep of bad requests across every route: each must be answered with a 4xx
 * `{"error": "<string>"}` and `Content-Type: application/json` — never a 5xx, never HTML, never a
 * redirect. Bad ids, path traversal, control characters, invalid percent-encoding, overlong names,
 * and bodies that are invalid JSON, too large (> the 4 MiB JSON limit → 413), of the wrong JSON
 * type, or binary.
 */
import { describe, expect, test } from 'bun:test';
import { makeApp, randomHex, type TestApp } from '../helpers/app.ts';
import { expectClientError, newId, randomName, upload } from '../helpers/layers.ts';

interface Ctx {
  /** a complete image */
  id: string;
  /** an image whose json was PUT but not finished */
  pending: string;
  /** `ns/name` of a repository with tag `latest` → id */
  repo: string;
}

type Body = string | Uint8Array | ReadableStream | null | undefined;

interface Row {
  what: string;
  method: string;
  path: (c: Ctx) => string;
  body?: (c: Ctx) => Body;
  headers?: Record<string, string>;
  /** exact status expected (otherwise any 4xx) */
  status?: number;
  /** only "no 5xx; an error reply is JSON" (the request may legitimately succeed) */
  lenient?: boolean;
}

const MiB = 1024 * 1024;
const HUGE = 4 * MiB + 1024;
const hugeJson = (c: Ctx) => JSON.stringify({ id: c.id, pad: 'x'.repeat(HUGE) });
const hugeStream = (): ReadableStream<Uint8Array> => {
  let sent = 0;
  const chunk = new TextEncoder().encode('['.padEnd(64 * 1024, ' '));
  return new ReadableStream({
    pull(ctrl) {
      if (sent >= HUGE + chunk.byteLength) return ctrl.close();
      ctrl.enqueue(chunk);
      sent += chunk.byteLength;
    },
  });
};
const binary = () => crypto.getRandomValues(new Uint8Array(4096)).map((b) => (b === 0x5b ? 0x5c : b)); // no '['
const nonUtf8 = () => new Uint8Array([0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22]);

const badIds = [
  ['uppercase', () => randomHex(16).toUpperCase().replace(/^./, 'A')],
  ['15 chars', () => randomHex(16).slice(0, 15)],
  ['17 chars', () => `${randomHex(16)}a`],
  ['63 chars', () => randomHex(64).slice(0, 63)],
  ['65 chars', () => `${randomHex(64)}0`],
  ['%0a suffix', () => `${randomHex(16)}%0a`],
  ['%0d%0a suffix', () => `${randomHex(16)}%0d%0a`],
  ['%00 suffix', () => `${randomHex(16)}%00`],
  ['space suffix', () => `${randomHex(16)}%20`],
  ['non-hex', () => 'g'.repeat(16)],
  ['traversal', () => '..%2f..%2fetc'],
  ['dot-dot', () => '%2e%2e'],
  ['invalid utf-8', () => '%ff%fe'],
  ['bad escape', () => '%zz'],
  ['unicode', () => '%E2%98%83'.repeat(4)],
  ['300 chars', () => 'a'.repeat(300)],
] as const;

const imageRoutes = ['json', 'layer', 'ancestry', 'files', 'diff', 'checksum'] as const;

const rows: Row[] = [];

// --- bad image ids on every image route and method ---------------------------------------------
for (const [label, makeId] of badIds) {
  for (const route of imageRoutes) {
    const methods = route === 'checksum' ? ['PUT'] : route === 'json' || route === 'layer' ? ['GET', 'HEAD', 'PUT'] : ['GET', 'HEAD'];
    for (const method of methods) {
      if (method === 'HEAD') continue; // HEAD has no body to check; covered by the GET twin + test below
      rows.push({
        what: `${method} image ${route} with a bad id (${label})`,
        method,
        path: () => `/v1/images/${makeId()}/${route}`,
        body: method === 'PUT' && route === 'json' ? (c) => JSON.stringify({ id: c.id }) : method === 'PUT' ? () => 'layer' : undefined,
        headers: route === 'checksum' ? { 'x-docker-checksum-payload': 'sha256:00' } : undefined,
      });
    }
  }
}

// --- path traversal and odd paths ----------------------------------------------------------------
const oddPaths: [string, string, number?][] = [
  ['GET', '/v1/images/..%2f..%2fetc/json', 404],
  ['GET', '/v1/images/..%2f..%2fetc%2fpasswd/layer', 404],
  ['GET', '/v1/images/%2e%2e/%2e%2e/json', 404],
  ['GET', '/v1/images//json', 404],
  ['GET', '/v1/images/json', 404],
  ['GET', '/v1/images', 404],
  ['GET', '/v1/images/', 404],
  ['GET', '/v1/repositories/%2e%2e/%2e%2e/tags'],
  ['GET', '/v1/repositories/%2e%2e/tags'],
  ['GET', '/v1/repositories/ns/..%2f..%2fetc/tags'],
  ['GET', '/v1/repositories/..%2f..%2f/tags'],
  ['GET', '/v1/repositories/ns/%2e%2e%2f%2e%2e%2fetc%2fpasswd/json'],
  ['DELETE', '/v1/repositories/%2e%2e/%2e%2e/'],
  ['DELETE', '/v1/repositories/%2e%2e/%2e%2e/tags/latest'],
  ['GET', '/v1/repositories/%2e%2e/%2e%2e/tags/latest'],
  ['GET', '/v1/repositories/ns//tags'],
  ['GET', '/v1/repositories//x/tags'],
  ['GET', '/v1/repositories/a/b/c/tags'],
  ['GET', '/v1/repositories/tags'],
  ['GET', '/v1/repositories', 404],
  ['GET', '/v1/repositories/', 404],
  ['GET', '/v1/repositories/ns', 404],
  ['GET', '/v1/', 404],
  ['GET', '/v3/', 404],
  ['GET', '/v1/foo', 404],
  ['GET', '/favicon.ico', 404],
  ['GET', '/../../etc/passwd', 404],
  ['GET', '/%2e%2e/%2e%2e/etc/passwd', 404],
  ['POST', '/v1/images/0123456789abcdef/json'],
  ['DELETE', '/v1/images/0123456789abcdef/layer'],
  ['POST', '/_ping'],
  ['PATCH', '/v1/repositories/ns/x/tags/latest'],
  ['POST', '/v1/repositories/ns/x/tags'],
  ['PUT', '/v1/search'],
];
for (const [method, path, status] of oddPaths) {
  rows.push({ what: `${method} ${path}`, method, path: () => path, status });
}

// --- bad repository names (control chars, overlong, invalid encodings) on every repo route -------
const badNames: [string, string][] = [
  ['NUL', 'a%00b'],
  ['newline', 'a%0ab'],
  ['CRLF', 'a%0d%0ab'],
  ['ESC', 'a%1bb'],
  ['DEL', 'a%7fb'],
  ['tab', 'a%09b'],
  ['300 chars', 'a'.repeat(300)],
  ['invalid utf-8', 'a%ffb'],
  ['bad escape', 'a%zzb'],
  ['encoded slash', 'a%2fb'],
];
const repoRoutes: [string, string, ((c: Ctx) => Body)?][] = [
  ['GET', 'tags'],
  ['GET', 'tags/latest'],
  ['GET', 'tags/latest/json'],
  ['PUT', 'tags/latest', (c) => JSON.stringify(c.id)],
  ['DELETE', 'tags/latest'],
  ['GET', 'json'],
  ['GET', 'properties'],
  ['PUT', 'properties', () => '{"access": "private"}'],
  ['DELETE', ''],
  ['DELETE', 'tags'],
  ['PUT', '', () => '[]'],
  ['PUT', 'images', () => '[]'],
  ['GET', 'images'],
  ['DELETE', 'images'],
  ['PUT', 'auth'],
];
for (const [label, name] of badNames) {
  for (const [method, route, body] of repoRoutes) {
    rows.push({
      what: `${method} ns/<${label}>/${route}`,
      method,
      path: () => `/v1/repositories/ns/${name}/${route}`,
      body,
    });
    rows.push({
      what: `${method} <${label}>/x/${route} (bad namespace)`,
      method,
      path: () => `/v1/repositories/${name}/x/${route}`,
      body,
    });
    if (label !== 'encoded slash') {
      rows.push({
        what: `${method} <${label}>/${route} (one-part)`,
        method,
        path: () => `/v1/repositories/${name}/${route}`,
        body,
      });
    }
  }
}

// --- bad tag names ------------------------------------------------------------------------------
for (const tag of ['%00', 'a%0ab', '%ff', '%zz', '.x', '-x', 'a'.repeat(129), '%24%3Cinvalid%3E', 'a%2fb', '%E2%98%83']) {
  rows.push({ what: `PUT tag ${tag}`, method: 'PUT', path: (c) => `/v1/repositories/${c.repo}/tags/${tag}`, body: (c) => JSON.stringify(c.id), status: 400 });
  // tags are not validated on GET/DELETE (E14, E16): unknown ones are 404, but a path that does not
  // percent-decode is refused before routing with 400
  const readStatus = tag === '%ff' || tag === '%zz' ? 400 : 404;
  rows.push({ what: `GET tag ${tag}`, method: 'GET', path: (c) => `/v1/repositories/${c.repo}/tags/${tag}`, status: readStatus });
  rows.push({ what: `DELETE tag ${tag}`, method: 'DELETE', path: (c) => `/v1/repositories/${c.repo}/tags/${tag}`, status: readStatus });
}

// --- bodies -------------------------------------------------------------------------------------
const jsonRoutes: { label: string; method: string; path: (c: Ctx) => string; wrongTypes: string[]; invalid: number; codes?: string[] }[] = [
  {
    label: 'PUT image json',
    method: 'PUT',
    path: () => `/v1/images/${newId()}/json`,
    wrongTypes: ['[]', '"x"', '42', 'null', 'true', '{}', '{"id": 42}', '{"id": ["x"]}', '{"id": null}'],
    invalid: 400,
  },
  {
    label: 'PUT image json (parent of the wrong type)',
    method: 'PUT',
    path: (c) => `/v1/images/${c.pending}/json`,
    wrongTypes: [],
    invalid: 400,
  },
  {
    label: 'PUT tag',
    method: 'PUT',
    path: (c) => `/v1/repositories/${c.repo}/tags/v${randomName(4)}`,
    wrongTypes: ['[]', '{}', '42', 'null', 'true', '""', '["x"]', '{"id": "x"}'],
    invalid: 400,
  },
  {
    label: 'PUT properties',
    method: 'PUT',
    path: (c) => `/v1/repositories/${c.repo}/properties`,
    wrongTypes: ['[]', '"private"', '42', 'null', 'true', '{}', '{"x": 1}'],
    invalid: 400,
  },
  {
    label: 'PUT repository (index)',
    method: 'PUT',
    path: () => `/v1/repositories/ns/${randomName()}/`,
    wrongTypes: ['{}', '"x"', '42', 'null', 'true', '[1]', '["x"]', '[{}]', '[{"id": 1}]', '[{"id": null}]', '[{"id": "a", "checksum": 5}]', '[null]'],
    invalid: 400,
  },
  {
    label: 'PUT repository images (index)',
    method: 'PUT',
    path: () => `/v1/repositories/ns/${randomName()}/images`,
    wrongTypes: ['{}', '"x"', '42', 'null', '[1]', '[{"checksum": "x"}]', '[[]]'],
    invalid: 400,
  },
  {
    label: 'POST users',
    method: 'POST',
    path: () => '/v1/users/',
    wrongTypes: [],
    invalid: 400,
  },
];
for (const r of jsonRoutes) {
  for (const [kind, body] of [
    ['invalid JSON', () => '{"id": '],
    ['invalid JSON (trailing garbage)', () => '[] []'],
    ['empty body', () => ''],
    ['binary', binary],
    ['non-UTF-8 bytes', nonUtf8],
  ] as const) {
    rows.push({ what: `${r.label}: ${kind}`, method: r.method, path: r.path, body, status: r.invalid });
  }
  // a UTF-8 BOM before the JSON may be accepted or refused (RFC 8259 §8.1), but never a 5xx
  rows.push({ what: `${r.label}: a UTF-8 BOM then JSON (lenient)`, method: r.method, path: r.path, body: () => new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), lenient: true });
  rows.push({ what: `${r.label}: huge body (> 4 MiB)`, method: r.method, path: r.path, body: hugeJson, status: 413 });
  rows.push({ what: `${r.label}: huge streamed body (> 4 MiB, no Content-Length)`, method: r.method, path: r.path, body: hugeStream, status: 413 });
  for (const w of r.wrongTypes) {
    rows.push({ what: `${r.label}: wrong JSON type ${w}`, method: r.method, path: r.path, body: () => w, status: 400 });
  }
}
rows.push({
  what: 'PUT image json: parent is a number',
  method: 'PUT',
  path: (c) => `/v1/images/${c.pending}/json`,
  body: (c) => JSON.stringify({ id: c.pending, parent: 42 }),
  status: 400,
});
rows.push({
  what: 'PUT image json: parent is an object',
  method: 'PUT',
  path: (c) => `/v1/images/${c.pending}/json`,
  body: (c) => JSON.stringify({ id: c.pending, parent: { id: c.id } }),
  status: 400,
});
rows.push({
  what: 'PUT image json: the image is its own parent',
  method: 'PUT',
  path: (c) => `/v1/images/${c.pending}/json`,
  body: (c) => JSON.stringify({ id: c.pending, parent: c.pending }),
  status: 400,
});
rows.push({
  what: 'PUT image json: deeply nested JSON',
  method: 'PUT',
  path: (c) => `/v1/images/${c.pending}/json`,
  body: () => '['.repeat(200_000) + ']'.repeat(200_000),
  status: 400,
});

// --- layer / checksum oddities ------------------------------------------------------------------
rows.push({ what: 'PUT layer of a complete image', method: 'PUT', path: (c) => `/v1/images/${c.id}/layer`, body: binary, status: 409 });
rows.push({ what: 'PUT layer with no json', method: 'PUT', path: () => `/v1/images/${newId()}/layer`, body: binary, status: 404 });
rows.push({ what: 'PUT checksum before the layer', method: 'PUT', path: (c) => `/v1/images/${c.pending}/checksum`, headers: { 'x-docker-checksum-payload': 'sha256:00' }, status: 400 });
rows.push({ what: 'PUT checksum with a huge header', method: 'PUT', path: (c) => `/v1/images/${c.pending}/checksum`, headers: { 'x-docker-checksum-payload': `sha256:${'a'.repeat(8000)}` }, status: 400 });
rows.push({ what: 'PUT checksum with a bogus tarsum', method: 'PUT', path: (c) => `/v1/images/${c.pending}/checksum`, headers: { 'x-docker-checksum': 'tarsum+sha256:zz' }, status: 400 });
rows.push({ what: 'PUT checksum, no header', method: 'PUT', path: (c) => `/v1/images/${c.pending}/checksum`, status: 412 });
rows.push({ what: 'GET layer in progress with a Range', method: 'GET', path: (c) => `/v1/images/${c.pending}/layer`, headers: { range: 'bytes=0-1' }, status: 400 });
rows.push({ what: 'GET layer missing with a Range', method: 'GET', path: () => `/v1/images/${newId()}/layer`, headers: { range: 'bytes=0-1' }, status: 404 });
rows.push({ what: 'GET layer with an unsatisfiable Range', method: 'GET', path: (c) => `/v1/images/${c.id}/layer`, headers: { range: 'bytes=99999-' }, status: 416 });
rows.push({ what: 'GET json missing with If-Modified-Since garbage', method: 'GET', path: () => `/v1/images/${newId()}/json`, headers: { 'if-modified-since': '\u00ff garbage' }, status: 404 });
rows.push({ what: 'GET files of a non-tar layer', method: 'GET', path: (c) => `/v1/images/${c.id}/files`, status: 400 });
rows.push({ what: 'GET diff of a non-tar layer', method: 'GET', path: (c) => `/v1/images/${c.id}/diff`, status: 400 });
rows.push({ what: 'PUT tag → missing image', method: 'PUT', path: (c) => `/v1/repositories/${c.repo}/tags/x`, body: () => JSON.stringify(newId()), status: 404 });
rows.push({ what: 'PUT tag → traversal image id', method: 'PUT', path: (c) => `/v1/repositories/${c.repo}/tags/x`, body: () => '"../../etc/passwd"', status: 404 });

// --- search -------------------------------------------------------------------------------------
for (const qs of ['?n=0', '?n=abc', '?n=101', '?page=0', '?page=x', `?q=${'a'.repeat(300)}`, '?n=1e3', '?n=%00']) {
  rows.push({ what: `search ${qs.slice(0, 40)}`, method: 'GET', path: () => `/v1/search${qs}`, status: 400 });
}
for (const qs of ['?q=%zz', '?q=%ff', '?q=%00', '?q=a&q=b', '?n=1&n=2', '?q[]=x', '?q=%E2%98%83']) {
  rows.push({ what: `search ${qs} (lenient)`, method: 'GET', path: () => `/v1/search${qs}`, lenient: true });
}

// --- lenient: may succeed, but never 5xx -----------------------------------------------------------
for (const [method, path, body] of [
  ['PUT', '/v1/users/%ff', undefined],
  ['PUT', '/v1/users/a%00b/', undefined],
  ['PUT', `/v1/repositories/ns/${'%E2%98%83'}/`, '[]'],
  ['PUT', '/v1/repositories/ns/a%22b/', '[]'],
  ['PUT', '/v1/repositories/ns/a%2Cb%3D/images', '[]'],
  ['GET', '/v1/repositories/ns/%E2%98%83/images', undefined],
  ['DELETE', '/v1/repositories/ns/%E2%98%83/images', undefined],
  ['PUT', '/v1/repositories/%C3%A9/', '[]'],
] as const) {
  rows.push({ what: `${method} ${path} (lenient)`, method, path: () => path, body: body === undefined ? undefined : () => body, lenient: true });
}

// -------------------------------------------------------------------------------------------------

async function setup(app: TestApp): Promise<Ctx> {
  const id = newId();
  await upload(app, id, null, 'not a tar file at all, just text '.repeat(30));
  const pending = newId();
  const r = await app.req('PUT', `/v1/images/${pending}/json`, { body: JSON.stringify({ id: pending }) });
  if (r.status !== 200) throw new Error(`setup PUT json ${r.status}`);
  const repo = `ns/${randomName()}`;
  const t = await app.req('PUT', `/v1/repositories/${repo}/tags/latest`, { body: JSON.stringify(id) });
  if (t.status !== 200) throw new Error(`setup PUT tag ${t.status}`);
  return { id, pending, repo };
}

describe('error sweep: every bad request is a 4xx JSON error', () => {
  for (const row of rows) {
    test(row.what, async () => {
      const app = makeApp();
      try {
        const ctx = await setup(app);
        const path = row.path(ctx);
        const res = await app.req(row.method, path, { body: row.body?.(ctx) ?? null, headers: row.headers });
        const what = `${row.method} ${path.slice(0, 120)}`;
        expect(res.headers.get('location')).toBeNull();
        if (row.lenient) {
          const text = await res.text();
          expect(`${what} → ${res.status}`).not.toMatch(/→ 5\d\d$/);
          if (res.status >= 400) {
            expect(res.headers.get('content-type')).toBe('application/json');
            expect(typeof (JSON.parse(text) as { error?: unknown }).error).toBe('string');
          }
          return;
        }
        if (row.status !== undefined) expect(`${what} → ${res.status}`).toBe(`${what} → ${row.status}`);
        await expectClientError(res, what);
        // the app still works afterwards
        const ping = await app.req('GET', `/v1/images/${ctx.id}/json`);
        expect(ping.status).toBe(200);
      } finally {
        app.close();
      }
    });
  }
});

describe('HEAD on bad requests', () => {
  test('same 4xx status as GET, JSON content-type, empty body', async () => {
    const app = makeApp();
    try {
      for (const path of [
        '/v1/images/NOTANID/json',
        '/v1/images/..%2f..%2fetc/layer',
        `/v1/images/${newId()}/ancestry`,
        `/v1/repositories/ns/${randomName()}/tags`,
        '/v1/repositories/ns/a%00b/tags',
        '/v1/search?n=0',
        '/v1/repositories/ns/a%ffb/tags',
      ]) {
        const g = await app.req('GET', path);
        await g.text();
        const h = await app.req('HEAD', path);
        expect(`${path}: ${h.status}`).toBe(`${path}: ${g.status}`);
        expect(h.status).toBeGreaterThanOrEqual(400);
        expect(h.status).toBeLessThan(500);
        expect(h.headers.get('content-type')).toBe('application/json');
        expect(await h.text()).toBe('');
      }
    } finally {
      app.close();
    }
  });

  test('unknown paths: HEAD gets the same 404 JSON status as GET', async () => {
    const app = makeApp();
    try {
      for (const path of ['/v1/nope', '/v1/repositories/%2e%2e/%2e%2e/tags', '/nope']) {
        const g = await app.req('GET', path);
        await g.text();
        const h = await app.req('HEAD', path);
        expect(`${path}: ${h.status}`).toBe(`${path}: ${g.status}`);
        expect(h.status).toBe(404);
        expect(h.headers.get('content-type')).toBe('application/json');
        await h.text(); // (through app.handle the body is not stripped; Bun.serve drops it for HEAD)
      }
    } finally {
      app.close();
    }
  });
});

describe('specific messages', () => {
  test('unknown paths → 404 {"error": "Not found"}', async () => {
    const app = makeApp();
    try {
      for (const path of ['/nope', '/v1/nope', '/v1/images', '/v1/repositories/ns']) {
        const r = await app.req('GET', path);
        expect(r.status).toBe(404);
        expect(r.headers.get('content-type')).toBe('application/json');
        expect(await r.json()).toEqual({ error: 'Not found' });
      }
    } finally {
      app.close();
    }
  });

  test('control characters and overlong repository names → 400 Invalid repository name', async () => {
    const app = makeApp();
    try {
      for (const name of ['a%00b', 'a%0ab', 'a%7fb', 'a'.repeat(256)]) {
        const r = await app.req('GET', `/v1/repositories/ns/${name}/tags`);
        expect(r.status).toBe(400);
        expect(await r.json()).toEqual({ error: 'Invalid repository name' });
      }
      // 255 characters is still a name
      const ok = await app.req('GET', `/v1/repositories/ns/${'a'.repeat(255)}/tags`);
      expect(ok.status).toBe(404);
      expect(await ok.json()).toEqual({ error: 'Repository not found' });
    } finally {
      app.close();
    }
  });

  test('undecodable percent-encoding in a namespace, name or tag → 400, and nothing is written elsewhere', async () => {
    const app = makeApp();
    try {
      const id = newId();
      await upload(app, id, null, 'x');
      const name = randomName();
      for (const path of [
        `/v1/repositories/a%ffb/${name}/tags/latest`,
        `/v1/repositories/a%zzb/${name}/tags/latest`,
        `/v1/repositories/ns/${name}%ff/tags/latest`,
        `/v1/repositories/ns/${name}/tags/%ff`,
        `/v1/repositories/ns/${name}/tags/%zz`,
      ]) {
        const r = await app.req('PUT', path, { body: JSON.stringify(id) });
        const text = await r.text();
        expect(`${path} → ${r.status}`).toBe(`${path} → 400`);
        expect(typeof (JSON.parse(text) as { error?: unknown }).error).toBe('string');
      }
      // the undecodable namespace must not fall back to library/<name>
      const lib = await app.req('GET', `/v1/repositories/library/${name}/tags`);
      expect(`${lib.status} ${await lib.text()}`).toBe('404 {"error": "Repository not found"}');
      // nor may an undecodable tag become a tag named "null"
      const ns = await app.req('GET', `/v1/repositories/ns/${name}/tags`);
      expect(`${ns.status} ${await ns.text()}`).toBe('404 {"error": "Repository not found"}');
    } finally {
      app.close();
    }
  });

  test('bad image ids → 404 Invalid image ID on every image route', async () => {
    const app = makeApp();
    try {
      for (const [label, makeId] of badIds) {
        // traversal / dot-dot ids do not reach an image route (URL normalisation, %2f): plain 404
        if (label === 'traversal' || label === 'dot-dot') continue;
        // a path that does not percent-decode is refused before routing
        const want =
          label === 'invalid utf-8' || label === 'bad escape'
            ? '400 {"error": "Invalid percent-encoding in the request path"}'
            : '404 {"error": "Invalid image ID"}';
        for (const route of ['json', 'layer', 'ancestry', 'files', 'diff']) {
          const r = await app.req('GET', `/v1/images/${makeId()}/${route}`);
          const text = await r.text();
          expect(`${route} ${r.status} ${text}`).toBe(`${route} ${want}`);
        }
      }
    } finally {
      app.close();
    }
  });
});
