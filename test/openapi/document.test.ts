/**
 * The OpenAPI document served at /swagger/json: valid OpenAPI, identical to the committed
 * openapi.json (so every contract change is reviewed), complete (every route, with its
 * operationId, tag, parameters and error replies: V1Error for V1, V2Errors under /v2/), and the
 * Swagger UI page at /swagger served from local assets only.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { beforeAll, describe, expect, test } from 'bun:test';
import { SWAGGER_ASSETS } from '../../src/http/swagger-ui.ts';
import { OPENAPI_FILE, formatDocument, servedDocument, withDocumentApp } from '../../scripts/openapi.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];
const TAGS = ['images', 'repositories', 'index', 'search', 'ping', 'v2'];
/** Routes that cannot fail (no V1 error reply to document). */
const INFALLIBLE = new Set(['ping', 'pingV1', 'getRoot', 'getUsers', 'putUser']);
const OPERATION_IDS = [
  'getImageJson', 'putImageJson', 'getImageLayer', 'putImageLayer', 'putImageChecksum', 'getImageAncestry',
  'getImageFiles', 'getImageDiff', 'listTags', 'getTag', 'putTag', 'deleteTag', 'getTagJson', 'getRepositoryJson',
  'getRepositoryProperties', 'putRepositoryProperties', 'deleteRepository', 'deleteRepositoryTags', 'putRepository',
  'putRepositoryImages', 'getRepositoryImages', 'deleteRepositoryImages', 'putRepositoryAuth', 'getUsers', 'postUsers',
  'putUser', 'search', 'ping', 'pingV1', 'getRoot', 'getMetrics',
];
const V2_OPERATION_IDS = [
  'v2Base', 'v2Catalog', 'v2ListTags', 'v2Referrers', 'v2GetBlob', 'v2DeleteBlob', 'v2StartUpload', 'v2UploadStatus',
  'v2PatchUpload', 'v2PutUpload', 'v2CancelUpload', 'v2GetManifest', 'v2PutManifest', 'v2DeleteManifest',
];
/** The token endpoint (auth: token only): under /v2/, tagged v2, but it challenges for Basic credentials, not a Bearer token. */
const TOKEN_OPERATION_IDS = ['getToken', 'postToken'];
const V1_ERROR_REF = '#/components/schemas/V1Error';
const V2_ERRORS_REF = '#/components/schemas/V2Errors';
/** The error codes of the OCI Distribution Specification v1.1, and the generic ones http/errors.ts adds by status. */
const OCI_CODES = [
  'BLOB_UNKNOWN', 'BLOB_UPLOAD_INVALID', 'BLOB_UPLOAD_UNKNOWN', 'DIGEST_INVALID', 'MANIFEST_BLOB_UNKNOWN', 'MANIFEST_INVALID',
  'MANIFEST_UNKNOWN', 'NAME_INVALID', 'NAME_UNKNOWN', 'SIZE_INVALID', 'UNAUTHORIZED', 'DENIED', 'UNSUPPORTED', 'TOOMANYREQUESTS',
  'UNAVAILABLE', 'UNKNOWN',
];
const MANIFEST_MEDIA = {
  'application/vnd.oci.image.manifest.v1+json': 'ImageManifest',
  'application/vnd.oci.image.index.v1+json': 'ImageIndex',
  'application/vnd.docker.distribution.manifest.v2+json': 'ImageManifest',
  'application/vnd.docker.distribution.manifest.list.v2+json': 'ImageIndex',
};

let doc: Json;
const operations: { method: string; path: string; op: Json }[] = [];

beforeAll(async () => {
  doc = await servedDocument();
  for (const [path, item] of Object.entries(doc.paths as Json)) {
    for (const [method, op] of Object.entries(item as Json)) {
      if (METHODS.includes(method)) operations.push({ method, path, op: op as Json });
    }
  }
});

const byId = (id: string) => {
  const found = operations.find((o) => o.op.operationId === id);
  if (!found) throw new Error(`no operation ${id}`);
  return found;
};

describe('the served document', () => {
  test('is valid OpenAPI', async () => {
    const result = await new Validator().validate(doc);
    if (!result.valid) console.error(JSON.stringify(result.errors, null, 2));
    expect(result.valid).toBe(true);
  });

  test('equals the committed openapi.json (run `bun run openapi` and review the diff if not)', async () => {
    const file = Bun.file(OPENAPI_FILE);
    if (!(await file.exists())) throw new Error('openapi.json is missing: run `bun run openapi` and commit it');
    const text = await file.text();
    if (!Bun.deepEquals(JSON.parse(text), doc)) {
      const served = formatDocument(doc).split('\n');
      const committed = text.split('\n');
      const at = served.findIndex((line, i) => line !== committed[i]);
      throw new Error(
        'openapi.json differs from the document served at /swagger/json: run `bun run openapi`, review the diff, commit it' +
          `\nfirst difference at line ${at + 1}:\n  served:    ${served[at]}\n  committed: ${committed[at]}`,
      );
    }
    if (text !== formatDocument(doc)) {
      throw new Error('openapi.json is not formatted as `bun run openapi` writes it (key order, indentation): run `bun run openapi`');
    }
  });

  test('lists every route of the app, and nothing else', async () => {
    const routes = await withDocumentApp(async (app) =>
      app.routes
        .filter((r) => (r.hooks as Json | undefined)?.detail?.hide !== true)
        .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:([^/]+)/g, '{$1}')}`),
    );
    const documented = operations.map((o) => `${o.method} ${o.path}`);
    expect(routes.length).toBeGreaterThan(25);
    expect([...documented].sort()).toEqual([...routes].sort());
    for (const hidden of ['/swagger', '/swagger/json']) expect(Object.keys(doc.paths)).not.toContain(hidden);
  });

  test('operationIds are the stable, unique, camelCase names', () => {
    const ids = operations.map((o) => o.op.operationId as string);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[a-z][A-Za-z0-9]*$/);
    expect([...ids].sort()).toEqual([...OPERATION_IDS, ...V2_OPERATION_IDS, ...TOKEN_OPERATION_IDS].sort());
  });

  test('the V2 operations are exactly the /v2/ paths, all tagged v2', () => {
    const v2 = operations.filter((o) => o.path.startsWith('/v2/'));
    expect(v2.map((o) => o.op.operationId).sort()).toEqual([...V2_OPERATION_IDS, ...TOKEN_OPERATION_IDS].sort());
    for (const { op } of v2) expect(`${op.operationId}: ${op.tags}`).toBe(`${op.operationId}: v2`);
    for (const { op } of operations.filter((o) => !o.path.startsWith('/v2/'))) expect(op.tags).not.toContain('v2');
  });

  test('every operation has exactly one of the six tags, a summary, and the tags are declared', () => {
    expect((doc.tags as Json[]).map((t) => t.name)).toEqual(TAGS);
    for (const { op } of operations) {
      expect(`${op.operationId}: ${JSON.stringify(op.tags)}`).toMatch(/: \["[a-z][a-z0-9]*"\]$/);
      expect(TAGS).toContain(op.tags[0]);
      expect(typeof op.summary).toBe('string');
    }
    for (const tag of TAGS) expect(operations.some((o) => o.op.tags[0] === tag)).toBe(true);
  });

  test('every fallible operation documents its 4xx replies; every V1 error reply uses V1Error, every V2 one V2Errors', () => {
    for (const { path, op } of operations) {
      const responses = op.responses as Json;
      const errors = Object.entries(responses).filter(([status]) => /^[45]\d\d$/.test(status));
      const model = path.startsWith('/v2/') ? V2_ERRORS_REF : V1_ERROR_REF;
      if (!INFALLIBLE.has(op.operationId)) {
        expect(`${op.operationId}: ${errors.some(([s]) => s.startsWith('4'))}`).toBe(`${op.operationId}: true`);
      }
      for (const [status, reply] of errors) {
        expect(`${op.operationId} ${status}: ${reply.content?.['application/json']?.schema?.$ref}`).toBe(
          `${op.operationId} ${status}: ${model}`,
        );
        expect(Object.keys(reply.content)).toEqual(['application/json']);
      }
      for (const [status, reply] of Object.entries(responses)) {
        expect(`${op.operationId} ${status}: ${typeof (reply as Json).description}`).toBe(`${op.operationId} ${status}: string`);
      }
    }
  });

  test('every path parameter is declared and required', () => {
    for (const { path, op } of operations) {
      const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      const declared = ((op.parameters ?? []) as Json[]).filter((p) => p.in === 'path');
      expect(declared.map((p) => p.name).sort()).toEqual(names.sort());
      for (const p of declared) expect(p.required).toBe(true);
    }
  });

  test('X-Docker-* request headers are declared where they are read, optional', () => {
    const header = (id: string, name: string) =>
      ((byId(id).op.parameters ?? []) as Json[]).find((p) => p.in === 'header' && p.name === name);
    for (const name of ['x-docker-checksum-payload', 'x-docker-checksum']) {
      expect(header('putImageChecksum', name)?.required).toBe(false);
    }
    expect(header('putRepository', 'x-docker-token')?.required).toBe(false);
    expect(header('getImageLayer', 'range')?.required).toBe(false);
  });

  test('layer bodies are binary streams; JSON bodies reference models and accept any media type', () => {
    expect(byId('putImageLayer').op.requestBody.content).toEqual({
      'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
    });
    for (const status of ['200', '206']) {
      expect(byId('getImageLayer').op.responses[status].content).toEqual({
        'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
      });
    }
    const jsonBodies: Record<string, string> = {
      putImageJson: 'ImageJson',
      putTag: 'ImageId',
      putRepositoryProperties: 'Properties',
      putRepository: 'IndexImageList',
      putRepositoryImages: 'IndexImageList',
      postUsers: 'User',
    };
    for (const [id, model] of Object.entries(jsonBodies)) {
      const content = byId(id).op.requestBody.content as Json;
      expect(Object.keys(content)).toEqual(['application/json', '*/*']);
      for (const media of Object.values(content)) expect(media.schema).toEqual({ $ref: `#/components/schemas/${model}` });
    }
  });

  test('error examples are in their API\'s shape: `{error}` for V1, `{errors: [{code, message, detail}]}` with spec codes for V2', () => {
    let v2Examples = 0;
    for (const { path, op } of operations) {
      for (const [status, reply] of Object.entries(op.responses as Json)) {
        if (!/^[45]/.test(status)) continue;
        const examples = Object.values((reply as Json).content['application/json'].examples ?? {}) as Json[];
        expect(`${op.operationId} ${status}: ${examples.length > 0}`).toBe(`${op.operationId} ${status}: true`);
        for (const { value } of examples) {
          if (!path.startsWith('/v2/')) {
            expect(Object.keys(value)).toEqual(['error']);
            expect(typeof value.error).toBe('string');
            continue;
          }
          v2Examples++;
          expect(value.errors).toHaveLength(1);
          const [error] = value.errors;
          expect(Object.keys(error)).toEqual(['code', 'message', 'detail']);
          expect(`${op.operationId} ${status}: ${OCI_CODES.includes(error.code)}`).toBe(`${op.operationId} ${status}: true`);
          expect(typeof error.message).toBe('string');
          expect(error.detail).toBeNull();
        }
      }
    }
    expect(v2Examples).toBeGreaterThan(40);
  });

  test('every V2 route documents the 401 of token mode with its Bearer challenge, and the 403 where a scope is needed', () => {
    for (const id of V2_OPERATION_IDS) {
      const { responses } = byId(id).op;
      expect(`${id}: ${responses['401']?.headers?.['WWW-Authenticate']?.description}`).toMatch(new RegExp(`^${id}: \`Bearer realm=`));
      expect(responses['401'].content['application/json'].examples).toEqual({
        V2_UNAUTHORIZED: { value: { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required', detail: null }] } },
      });
      if (id === 'v2Base') {
        expect(responses['403']).toBeUndefined();
        continue;
      }
      expect(responses['401'].headers['WWW-Authenticate'].description).toContain(id === 'v2Catalog' ? 'scope="registry:catalog:*"' : 'scope="repository:<name>:');
      expect(Object.keys(responses['403'].content['application/json'].examples)).toEqual(['V2_DENIED']);
    }
  });

  test('the token endpoint documents its Basic challenge, its token reply and its V2 errors', () => {
    for (const id of TOKEN_OPERATION_IDS) {
      const { path, op } = byId(id);
      expect(`${id} ${path}`).toBe(`${id} /v2/token`);
      expect(op.responses['401'].headers['WWW-Authenticate'].description).toBe('`Basic realm="registry"`');
      expect(Object.keys(op.responses['401'].content['application/json'].examples)).toEqual(['V2_UNAUTHORIZED']);
      expect(Object.keys(op.responses['400'].content['application/json'].examples)).toContain('V2_TOKEN_REQUEST_INVALID');
      expect(op.responses['200'].content['application/json'].schema.required).toEqual(['token', 'access_token', 'expires_in', 'issued_at']);
    }
    expect(Object.keys(byId('postToken').op.requestBody.content)).toEqual(['application/x-www-form-urlencoded']);
  });

  test('V2 replies: the catalogue codes each route can produce, under their statuses', () => {
    const codes = (id: string, status: number) => Object.keys(byId(id).op.responses[status].content['application/json'].examples).sort();
    expect(codes('v2GetBlob', 404)).toEqual(['V2_BLOB_UNKNOWN']);
    expect(codes('v2GetBlob', 416)).toEqual(['RANGE_NOT_SATISFIABLE']);
    expect(codes('v2PatchUpload', 416)).toEqual(['V2_CHUNK_OUT_OF_ORDER']);
    expect(codes('v2PutUpload', 400)).toEqual(['UPLOAD_ABORTED', 'V2_BLOB_UPLOAD_INVALID', 'V2_DIGEST_INVALID', 'V2_NAME_INVALID', 'V2_SIZE_INVALID']);
    for (const id of ['v2UploadStatus', 'v2PatchUpload', 'v2PutUpload', 'v2CancelUpload']) expect(codes(id, 404)).toEqual(['V2_BLOB_UPLOAD_UNKNOWN']);
    expect(codes('v2GetManifest', 404)).toEqual(['V2_MANIFEST_UNKNOWN']);
    expect(codes('v2PutManifest', 400)).toEqual(['UPLOAD_ABORTED', 'V2_DIGEST_INVALID', 'V2_MANIFEST_INVALID', 'V2_NAME_INVALID', 'V2_TAG_INVALID']);
    expect(codes('v2PutManifest', 404)).toEqual(['V2_MANIFEST_BLOB_UNKNOWN']);
    expect(codes('v2PutManifest', 413)).toEqual(['BODY_TOO_LARGE', 'V2_MANIFEST_TOO_LARGE']);
    expect(codes('v2ListTags', 404)).toEqual(['V2_NAME_UNKNOWN']);
    // every route on /v2/<name>/ checks the name
    for (const { path, op } of operations.filter((o) => o.path.startsWith('/v2/{name}/'))) {
      expect(`${path}: ${codes(op.operationId, 400).includes('V2_NAME_INVALID')}`).toBe(`${path}: true`);
    }
  });

  test('V2 bodies: blobs are binary, manifests carry their media types, listings reference their models', () => {
    const BINARY = { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } };
    const blob = byId('v2GetBlob').op.responses;
    for (const status of ['200', '206']) {
      expect(blob[status].content).toEqual(BINARY);
      expect(Object.keys(blob[status].headers)).toEqual(expect.arrayContaining(['Docker-Content-Digest', 'Content-Length']));
    }
    expect(Object.keys(blob['206'].headers)).toContain('Content-Range');
    for (const id of ['v2StartUpload', 'v2PatchUpload', 'v2PutUpload']) expect(byId(id).op.requestBody.content).toEqual(BINARY);
    expect(byId('v2PatchUpload').op.requestBody.required).toBe(true);
    for (const id of ['v2StartUpload', 'v2PutUpload']) expect(byId(id).op.requestBody.required).toBe(false);
    const session = ['Location', 'Range', 'Docker-Upload-UUID'];
    expect(Object.keys(byId('v2StartUpload').op.responses['202'].headers)).toEqual(expect.arrayContaining(session));
    expect(Object.keys(byId('v2PatchUpload').op.responses['202'].headers)).toEqual(expect.arrayContaining(session));
    expect(Object.keys(byId('v2UploadStatus').op.responses['204'].headers)).toEqual(expect.arrayContaining(session));
    for (const id of ['v2StartUpload', 'v2PutUpload']) {
      expect(Object.keys(byId(id).op.responses['201'].headers)).toEqual(expect.arrayContaining(['Location', 'Docker-Content-Digest']));
    }

    const manifests = Object.fromEntries(Object.entries(MANIFEST_MEDIA).map(([type, model]) => [type, { schema: { $ref: `#/components/schemas/${model}` } }]));
    expect(byId('v2GetManifest').op.responses['200'].content).toEqual(manifests);
    expect(byId('v2PutManifest').op.requestBody.content).toEqual(manifests);
    expect(Object.keys(byId('v2PutManifest').op.responses['201'].headers)).toEqual(expect.arrayContaining(['Location', 'Docker-Content-Digest', 'OCI-Subject']));
    expect(byId('v2DeleteManifest').op.responses['202']).toBeDefined();

    expect(byId('v2Base').op.responses['200'].content['application/json'].schema).toMatchObject({ type: 'object', properties: {} });
    const listing = (id: string, media: string, model: string) =>
      expect(byId(id).op.responses['200'].content).toEqual({ [media]: { schema: { $ref: `#/components/schemas/${model}` } } });
    listing('v2Catalog', 'application/json', 'Catalog');
    listing('v2ListTags', 'application/json', 'TagList');
    listing('v2Referrers', 'application/vnd.oci.image.index.v1+json', 'ReferrersIndex');
    for (const id of ['v2Catalog', 'v2ListTags']) expect(Object.keys(byId(id).op.responses['200'].headers)).toContain('Link');
    expect(Object.keys(byId('v2Referrers').op.responses['200'].headers)).toContain('OCI-Filters-Applied');

    const schemas = doc.components.schemas as Json;
    expect(schemas.Catalog).toMatchObject({ required: ['repositories'], properties: { repositories: { type: 'array', items: { type: 'string' } } } });
    expect(schemas.TagList).toMatchObject({ required: ['name', 'tags'], properties: { name: { type: 'string' }, tags: { type: 'array' } } });
    expect(schemas.ReferrersIndex).toMatchObject({
      required: ['schemaVersion', 'mediaType', 'manifests'],
      properties: { manifests: { type: 'array', items: { $ref: '#/components/schemas/Descriptor' } } },
    });
    expect(schemas.Descriptor).toMatchObject({ required: ['mediaType', 'digest', 'size'] });
  });

  test('every $ref points at a component schema', () => {
    const schemas = doc.components.schemas as Json;
    const refs: string[] = [];
    const walk = (node: unknown) => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === 'object') {
        for (const [k, v] of Object.entries(node)) {
          if (k === '$ref') refs.push(v as string);
          else walk(v);
        }
      }
    };
    walk(doc);
    expect(refs.length).toBeGreaterThan(50);
    for (const ref of refs) {
      expect(ref).toStartWith('#/components/schemas/');
      expect(Object.keys(schemas)).toContain(ref.slice('#/components/schemas/'.length));
    }
    expect(schemas.V1Error).toMatchObject({ type: 'object', required: ['error'], properties: { error: { type: 'string' } } });
    expect(schemas.V2Errors).toMatchObject({
      type: 'object',
      required: ['errors'],
      properties: {
        errors: {
          type: 'array',
          items: {
            type: 'object',
            required: ['code', 'message', 'detail'],
            properties: { code: { type: 'string' }, message: { type: 'string' }, detail: { type: 'string', nullable: true } },
          },
        },
      },
    });
  });
});

describe('Swagger UI page', () => {
  test('/swagger references local assets only, each served with its content type', async () => {
    await withDocumentApp(async (_app, fetch) => {
      const res = await fetch(new Request('http://localhost/swagger'));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toStartWith('text/html');
      const html = await res.text();
      expect(html).not.toMatch(/https?:\/\//);
      const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
      expect(urls.length).toBeGreaterThan(3);
      for (const url of urls) expect(url).toStartWith('/swagger/assets/');
      const expected: Record<string, RegExp> = {
        '.css': /^text\/css/,
        '.js': /^text\/javascript/,
        '.png': /^image\/png$/,
      };
      const served = new Set<string>();
      for (const name of SWAGGER_ASSETS) {
        const asset = await fetch(new Request(`http://localhost/swagger/assets/${name}`));
        const type = expected[name.slice(name.lastIndexOf('.'))]!;
        expect(`${name}: ${asset.status}`).toBe(`${name}: 200`);
        expect(asset.headers.get('content-type') ?? '').toMatch(type);
        expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(100);
        served.add(`/swagger/assets/${name}`);
      }
      for (const url of urls) expect(served).toContain(url);
      const init = await (await fetch(new Request('http://localhost/swagger/assets/swagger-initializer.js'))).text();
      expect(init).toContain('"url":"/swagger/json"');
      expect(init).not.toMatch(/https?:\/\//);
    });
  });

  test('an unknown asset is a V1 404', async () => {
    await withDocumentApp(async (_app, fetch) => {
      for (const name of ['nope.js', 'constructor', '..%2Fpackage.json', 'swagger-ui.js.map']) {
        const res = await fetch(new Request(`http://localhost/swagger/assets/${name}`));
        expect(`${name}: ${res.status}`).toBe(`${name}: 404`);
        expect(await res.json()).toEqual({ error: 'Not found' });
      }
    });
  });
});

test('the document does not change once apps have answered requests (Elysia mutates schemas it compiles)', async () => {
  const before = await servedDocument();
  await withDocumentApp(async (_app, fetch) => {
    for (const [method, path, body] of [
      ['GET', '/v1/images/0123456789abcdef/json', null],
      ['PUT', '/v1/images/0123456789abcdef/json', '{"id":"0123456789abcdef"}'],
      ['GET', '/v1/repositories/ns/name/tags', null],
      ['GET', '/v1/search?q=x', null],
      ['PUT', '/v1/repositories/ns/name/', '[{"id":"0123456789abcdef"}]'],
      // the token endpoint (the document's app is in token mode): an anonymous token and a refused grant
      ['GET', '/v2/token?service=localhost&scope=repository:ns/name:pull', null],
      ['POST', '/v2/token', 'grant_type=password&username=nobody&password=x'],
    ] as const) {
      const headers = method === 'POST' && path === '/v2/token' ? { 'content-type': 'application/x-www-form-urlencoded' } : undefined;
      await (await fetch(new Request(`http://localhost${path}`, { method, body, headers }))).text();
    }
  });
  expect(Bun.deepEquals(await servedDocument(), before)).toBe(true);
});
