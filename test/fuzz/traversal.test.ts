/**
 * Path traversal, explicitly (issue 5 point 6): image ids, repository names and tags spelt as
 * `../../etc/passwd`, `..%2f..%2f`, `%2e%2e/`, `....//`, backslashes, NUL, absolute paths, over
 * `app.handle` and over a real socket (raw HTTP via Bun.connect, so no client normalises the
 * target first). Canaries are planted beside STORAGE_PATH (`canary.txt`, `etc/passwd`, a
 * `storage-evil/` sibling): they must never be served, modified or deleted, and nothing may be
 * created outside STORAGE_PATH. Ids and tags are refused with a 4xx V1 error; repository names
 * never reach storage, so a strange but slash-free name may be accepted, yet still touches no file.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Server } from 'bun';
import { loadConfig } from '../../src/config/load.ts';
import { SqliteMetaStore } from '../../src/db/sqlite/store.ts';
import { createApp } from '../../src/app/app.ts';
import { createFetch } from '../../src/app/fetch.ts';
import { FsDriver } from '../../src/storage/fs.ts';
import { layerKey } from '../../src/storage/paths.ts';
import { makeApp, TEST_UA, type TestApp } from '../helpers/app.ts';
import { expectClientError, newId, upload } from '../helpers/layers.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { CANARY_TEXT, makeSandbox, STORAGE_LAYOUT, type Sandbox } from '../helpers/sandbox.ts';

/** Hostile spellings of one path segment, as they appear in the request target. */
const EVIL = [
  '..',
  '../..',
  '../../etc/passwd',
  '../../canary.txt',
  '..%2f..%2fetc%2fpasswd',
  '..%2F..%2Fcanary.txt',
  '%2e%2e',
  '%2e%2e%2f',
  '%2e%2e/%2e%2e/etc/passwd',
  '.%2e/.%2e/canary.txt',
  '....//....//etc/passwd',
  '....%2f%2f',
  '..\\..\\canary.txt',
  '..%5c..%5ccanary.txt',
  '%5c%5cetc%5cpasswd',
  '%00',
  '0123456789abcdef%00',
  '..%00',
  '%2fetc%2fpasswd',
  '%2f..%2f..%2fcanary.txt',
  '/etc/passwd',
  '%252e%252e%252fcanary.txt',
  '%c0%ae%c0%ae%c0%afcanary.txt',
  '..%c0%afcanary.txt',
  '%ef%bc%8e%ef%bc%8e%ef%bc%8fcanary.txt',
  '..%2fstorage-evil%2flayer',
  '~%2f..%2fcanary.txt',
] as const;

/** Where each spelling goes, and whether the route must refuse it (ids and tags always do). */
function targets(evil: string, id: string): { method: string; path: string; body?: string; mustRefuse: boolean }[] {
  const json = JSON.stringify({ id: evil });
  return [
    ...['json', 'layer', 'ancestry', 'files', 'diff'].map((r) => ({ method: 'GET', path: `/v1/images/${evil}/${r}`, mustRefuse: true })),
    { method: 'PUT', path: `/v1/images/${evil}/json`, body: json, mustRefuse: true },
    { method: 'PUT', path: `/v1/images/${evil}/layer`, body: 'layer bytes', mustRefuse: true },
    { method: 'PUT', path: `/v1/images/${evil}/checksum`, mustRefuse: true },
    { method: 'PUT', path: `/v1/images/${id}/json`, body: JSON.stringify({ id, parent: evil }), mustRefuse: true },
    { method: 'PUT', path: `/v1/repositories/trav/repo/tags/${evil}`, body: JSON.stringify(id), mustRefuse: true },
    { method: 'GET', path: `/v1/repositories/trav/repo/tags/${evil}`, mustRefuse: true },
    { method: 'DELETE', path: `/v1/repositories/trav/repo/tags/${evil}`, mustRefuse: true },
    { method: 'PUT', path: `/v1/repositories/trav/repo/tags/latest`, body: JSON.stringify(evil), mustRefuse: true },
    // names never reach storage: a slash-free odd name may be accepted
    { method: 'GET', path: `/v1/repositories/${evil}/tags`, mustRefuse: false },
    { method: 'PUT', path: `/v1/repositories/${evil}/repo/tags/latest`, body: JSON.stringify(id), mustRefuse: false },
    { method: 'PUT', path: `/v1/repositories/trav/${evil}/`, body: '[]', mustRefuse: false },
    { method: 'GET', path: `/v1/repositories/${evil}/${evil}/images`, mustRefuse: false },
    { method: 'DELETE', path: `/v1/repositories/trav/${evil}/`, mustRefuse: false },
  ];
}

function expectSandboxIntact(box: Sandbox, before: string[]): void {
  expect(box.outside()).toEqual(before);
  expect(box.storageFiles().filter((f) => !STORAGE_LAYOUT.test(f))).toEqual([]);
}

test('storage keys cannot be built from traversal ids', () => {
  for (const evil of ['..', '../../etc/passwd', '/etc/passwd', '0123456789abcdef/..', '0123456789abcdef\0']) {
    expect(() => layerKey(evil, '0123456789abcdef')).toThrow();
  }
  const fs = new FsDriver('/tmp/registry-never-created');
  for (const key of ['../x', 'images/../../x', '/etc/passwd', 'images/..', '.tmp/x', 'a\\..\\b', 'a\0b']) {
    expect(() => fs.pathOf(key)).toThrow();
  }
});

describe('path traversal over app.handle', () => {
  let box: Sandbox;
  let app: TestApp;
  let id: string;
  let before: string[];
  beforeAll(async () => {
    box = makeSandbox('traversal');
    app = makeApp({ storage: 'fs', storage_path: box.storagePath }, new FsDriver(box.storagePath));
    id = newId();
    await upload(app, id, null, 'layer bytes');
    before = box.outside();
  });
  afterAll(() => {
    app.close();
    box.remove();
  });

  for (const evil of EVIL) {
    test(`${evil}`, async () => {
      for (const t of targets(evil, newId())) {
        const headers: Record<string, string> = t.body === undefined ? {} : { 'content-type': 'application/json' };
        let res: Response;
        try {
          res = await app.req(t.method, t.path, { body: t.body, headers });
        } catch (e) {
          // not a URL at all (fetch refuses it before any server could see it)
          expect(String(e)).toMatch(/URL|Invalid/);
          continue;
        }
        const text = await res.clone().text();
        expect(text).not.toContain(CANARY_TEXT.trim());
        expect(res.status).toBeLessThan(500);
        if (t.mustRefuse) await expectClientError(res, `${t.method} ${t.path}`);
        else if (res.status >= 400) await expectClientError(res, `${t.method} ${t.path}`);
      }
      expectSandboxIntact(box, before);
      expect(await Bun.file(`${box.parent}/canary.txt`).text()).toBe(CANARY_TEXT);
    });
  }
});

describe('path traversal over a real socket (raw request targets)', () => {
  let box: Sandbox;
  let server: Server<undefined>;
  let meta: SqliteMetaStore;
  let id: string;
  let before: string[];
  const seen = new Map<string, number>();
  beforeAll(async () => {
    box = makeSandbox('traversal-socket');
    const config = loadConfig({ env: {}, overrides: { storage: 'fs', storage_path: box.storagePath } });
    meta = SqliteMetaStore.open(':memory:');
    const app = createApp({ config, meta, storage: new FsDriver(box.storagePath), log: () => {} });
    server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: createFetch(app), maxRequestBodySize: Number.MAX_SAFE_INTEGER });
    const client = makeApp();
    id = newId();
    // push through the socket so the layer lands in the sandbox's storage
    const base = `http://127.0.0.1:${server.port}`;
    const hdr = { 'user-agent': TEST_UA };
    const json = JSON.stringify({ id });
    expect((await fetch(`${base}/v1/images/${id}/json`, { method: 'PUT', body: json, headers: hdr })).status).toBe(200);
    expect((await fetch(`${base}/v1/images/${id}/layer`, { method: 'PUT', body: 'layer bytes', headers: hdr })).status).toBe(200);
    client.close();
    before = box.outside();
  });
  afterAll(() => {
    console.log(`traversal (socket): statuses ${JSON.stringify(Object.fromEntries(seen))}`);
    server.stop(true);
    meta.close();
    box.remove();
  });

  for (const evil of EVIL) {
    test(`${evil}`, async () => {
      for (const t of targets(evil, newId())) {
        const lines = [`${t.method} ${t.path} HTTP/1.1`, 'Host: 127.0.0.1', `User-Agent: ${TEST_UA}`];
        if (t.body !== undefined) lines.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(t.body)}`);
        const reply = await rawRequest(server.port!, lines, t.body ?? '');
        expect(reply).not.toBeNull();
        const { status, headers, body } = reply!;
        seen.set(String(status), (seen.get(String(status)) ?? 0) + 1);
        const text = new TextDecoder().decode(body);
        const what = `${t.method} ${t.path} → ${status} ${text.slice(0, 120)}`;
        expect(text).not.toContain(CANARY_TEXT.trim());
        expect(status < 500 ? what : `5xx: ${what}`).toBe(what);
        if (t.mustRefuse || status >= 400) {
          expect(status >= 400 && status < 500 ? what : `not 4xx: ${what}`).toBe(what);
          expect(headers['content-type']).toBe('application/json');
          expect(typeof (JSON.parse(text) as { error?: unknown }).error).toBe('string');
        }
      }
      expectSandboxIntact(box, before);
    });
  }

  test('the server still serves the real image afterwards', async () => {
    const r = await fetch(`http://127.0.0.1:${server.port}/_ping`);
    expect(r.status).toBe(200);
    const row = await meta.getImage(id);
    expect(row?.layerSize).toBe(11);
  });
});
