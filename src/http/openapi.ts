/**
 * The OpenAPI contract's shared parts: the named models (components/schemas), the parameter
 * schemas, and `operation()`, which turns one route's description into both its Elysia hook
 * (`response` per status) and its OpenAPI `detail` (operationId, tag, responses with media types
 * and headers, request body).
 *
 * Request bodies are read raw (`parse: 'none'`: JSON whatever the Content-Type, layers streamed),
 * so they are documented through `detail.requestBody` and never validated by Elysia. Handlers
 * return `Response`s, which Elysia does not check against `response`; the declared statuses are
 * the contract the document shows. The document is OpenAPI 3.0.3 (the swagger plugin's version):
 * models avoid what 3.0 lacks (tuples, `const`, `null` types, `patternProperties`).
 */
import { Elysia, t, type DocumentDecoration, type TSchema } from 'elysia';
import { catalogue, type ErrorCode } from '../errors.ts';
import { IMAGE_ID_PATTERN } from '../domain/image-id.ts';

// --- models -------------------------------------------------------------------------------------

const imageIdText = '16 or 64 lower-case hexadecimal digits';

/** TypeBox's kind marker (a global symbol): tells Elysia's compiler what an `Unsafe` schema is. */
const KIND = Symbol.for('TypeBox.Kind');

/**
 * A plain JSON integer. Elysia's `t.Integer` also accepts numeric strings and its schema says so
 * (`anyOf` string/integer), which is noise in the document.
 */
const integer = (description?: string, nullable = false) =>
  t.Unsafe<number>({
    [KIND]: 'Integer',
    type: 'integer',
    ...(description ? { description } : {}),
    ...(nullable ? { nullable: true } : {}),
  });

/** A file row of E9 as the original sent it: a fixed-position array. */
const fileRow = (size: number, description: string) =>
  t.Array(t.Union([t.String(), t.Boolean(), integer()]), { minItems: size, maxItems: size, description });

/** Tag metadata: fields from the pushing client's User-Agent; the defaults carry nulls. */
const tagMetadata = (description: string) => {
  const text = (d: string) => t.Optional(t.String({ description: d, nullable: true }));
  return t.Object(
    {
      arch: text("Architecture from the pushing client's User-Agent (`arch/...`)"),
      docker_go_version: text('Go version from the User-Agent (`go/...`)'),
      docker_version: text('Docker version from the User-Agent (`docker/...`)'),
      kernel: text('Kernel from the User-Agent (`kernel/...`)'),
      last_update: t.Optional(integer('Unix time of the last tag update', true)),
      os: text('Operating system from the User-Agent (`os/...`)'),
    },
    { description },
  );
};

export const models = {
  V1Error: t.Object(
    { error: t.String({ description: 'What went wrong (a fixed message, sometimes with a detail after `: `)' }) },
    { description: 'A V1 error reply', example: { error: 'Image not found' } },
  ),
  ImageId: t.String({
    pattern: IMAGE_ID_PATTERN.source,
    description: `An image id: ${imageIdText}`,
    example: 'a5b1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5061728394a5b6c7d8e9',
  }),
  ImageJson: t.Object(
    {
      id: t.String({ description: 'The image id; must equal the id in the path' }),
      parent: t.Optional(
        t.String({ nullable: true, description: 'The parent image id, which must exist (absent, null or empty for a base image)' }),
      ),
    },
    {
      additionalProperties: true,
      description: 'An image json: any JSON object with `id` (and `parent`); stored and served byte for byte',
    },
  ),
  Ancestry: t.Array(t.String({ description: 'An image id' }), {
    description: 'The image id, then its parent, grandparent, ... (newest first)',
  }),
  FileList: t.Array(
    fileRow(8, '[path, type letter, deleted, size, mtime, mode, uid, gid]'),
    { description: "The files of an image's layer, one row per tar member (union-fs whiteouts reported as deleted)" },
  ),
  LayerDiff: t.Object(
    {
      deleted: t.Object({}, { additionalProperties: fileRow(7, '[type letter, deleted, size, mtime, mode, uid, gid]') }),
      changed: t.Object({}, { additionalProperties: fileRow(7, '[type letter, deleted, size, mtime, mode, uid, gid]') }),
      created: t.Object({}, { additionalProperties: fileRow(7, '[type letter, deleted, size, mtime, mode, uid, gid]') }),
    },
    { description: "An image's files compared with its ancestors': path -> file info, per kind of change" },
  ),
  TagMap: t.Object({}, { additionalProperties: t.String({ description: 'An image id' }), description: 'Tag name -> image id' }),
  TagMetadata: tagMetadata('Metadata recorded when a tag was pushed (or defaults, with nulls, for an unknown tag)'),
  RepositoryJson: tagMetadata("The `latest` tag's metadata (or defaults, with nulls)"),
  Properties: t.Object(
    { access: t.String({ enum: ['private', 'public'], description: 'Repository visibility' }) },
    { description: 'Repository properties' },
  ),
  IndexImage: t.Object(
    {
      id: t.String({ description: 'An image id' }),
      checksum: t.Optional(t.String({ description: 'The image payload checksum, when known' })),
    },
    { additionalProperties: true, description: 'An entry of an index image list' },
  ),
  IndexImageList: t.Array(t.Ref('IndexImage'), {
    description: "A repository's image list: stored as first sent, later lists merged by id",
  }),
  SearchResults: t.Object(
    {
      num_results: integer('Matches in total'),
      num_pages: integer('Pages of `page_size` results (at least 1)'),
      page: integer('This page (from 1)'),
      page_size: integer('Results per page'),
      query: t.String({ description: 'The query as received' }),
      results: t.Array(
        t.Object({ name: t.String({ description: 'namespace/name' }), description: t.String() }),
        { description: 'The matching repositories of this page' },
      ),
    },
    { description: 'A page of search results' },
  ),
  Ping: t.Object(
    {
      host: t.Optional(t.Array(t.String(), { description: 'OS type, host name, release, architecture (debug only)' })),
      launch: t.Optional(t.Array(t.String(), { description: 'Command line (debug only)' })),
      versions: t.Optional(
        t.Object({ bun: t.String(), registry: t.String() }, { description: 'Runtime and registry versions (debug only)' }),
      ),
    },
    { description: 'Empty object, or details when the registry runs with debug on' },
  ),
  User: t.Object(
    {
      username: t.Optional(t.String()),
      password: t.Optional(t.String()),
      email: t.Optional(t.String()),
    },
    { additionalProperties: true, description: 'An account as the Docker client sends it (not stored in open mode)' },
  ),
} satisfies Record<string, TSchema>;

export type ModelName = keyof typeof models;

/**
 * The models as written, taken before Elysia sees them: compiling a response validator mutates
 * the schema objects in place (it adds `additionalProperties: false`), which would make the
 * document depend on whether an app has already answered a request in this process.
 */
const pristineModels = JSON.parse(JSON.stringify(models)) as Record<ModelName, unknown>;

/** Registers the models; every route module that names one `.use()`s this (Elysia resolves names per instance). */
export const openapiModels = new Elysia({ name: 'http.openapi.models' }).model(models);

type JsonSchema = Record<string, unknown>;

/**
 * The models as OpenAPI schemas: without the `$id` Elysia stamps on them and with references
 * between models pointed at components/schemas.
 */
export function componentSchemas(): Record<string, JsonSchema> {
  const fix = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(fix);
    if (typeof node !== 'object' || node === null) return node;
    const out: JsonSchema = {};
    for (const [k, v] of Object.entries(node)) {
      if (k === '$id') continue;
      out[k] = k === '$ref' && typeof v === 'string' && !v.startsWith('#/') ? `#/components/schemas/${v}` : fix(v);
    }
    return out;
  };
  return Object.fromEntries(
    Object.entries(pristineModels).map(([name, schema]) => [name, fix(schema) as JsonSchema]),
  );
}

// --- parameters ---------------------------------------------------------------------------------

/**
 * Path and header parameters. Their values are checked by the services (which answer with the
 * V1 errors), so the schemas accept any string: a `pattern` here would turn a V1 404 into a 400.
 */
export const imageParams = t.Object({
  id: t.String({ description: `Image id (${imageIdText}; anything else answers 404 Invalid image ID)` }),
});

export const repoParams = t.Object({
  namespace: t.String({ description: 'Namespace (`library` for one-part names)' }),
  repository: t.String({ description: 'Repository name' }),
});

export const tagParams = t.Object({
  namespace: repoParams.properties.namespace,
  repository: repoParams.properties.repository,
  tag: t.String({ description: 'Tag name (a PUT requires ^[\\w][\\w.-]{0,127}$)' }),
});

export const userParams = t.Object({ username: t.String({ description: 'Account name' }) });

export const cacheableGetHeaders = t.Object({
  'if-modified-since': t.Optional(t.String({ description: 'HTTP date: 304 when the image has not changed since' })),
});

export const layerGetHeaders = t.Object({
  'if-modified-since': cacheableGetHeaders.properties['if-modified-since'],
  range: t.Optional(t.String({ description: 'One byte range (`bytes=a-b`, `bytes=a-`, `bytes=-n`) for a 206; others get the whole layer' })),
});

const userAgent = (why: string) => t.Optional(t.String({ description: `Client User-Agent: ${why}` }));

export const userAgentHeaders = (why: string) => t.Object({ 'user-agent': userAgent(why) });

export const layerPutHeaders = t.Object({
  'user-agent': userAgent('Docker daemons older than 0.10 get 412'),
  'content-length': t.Optional(t.String({ description: 'Layer size; the body must match it (400) and stay within the size limit (413)' })),
});

export const checksumHeaders = t.Object({
  'x-docker-checksum-payload': t.Optional(
    t.String({ description: 'sha256 payload checksum (`sha256:<hex>`) of the json and layer; required unless a tarsum is given (412)' }),
  ),
  'x-docker-checksum': t.Optional(
    t.String({ description: 'Legacy `tarsum+sha256:<hex>` checksum, used by clients that send no payload checksum' }),
  ),
});

export const indexTokenHeaders = t.Object({
  'x-docker-token': t.Optional(t.String({ description: '`true` to ask for a token; a token is always issued in open mode' })),
});

const authorizationHeader = t.Optional(
  t.String({
    description:
      'auth: token only (ignored in open mode). `Token signature=...,repository="ns/name",access=...,expires=...` as issued ' +
      'by the index routes; or, for reads, `Basic <base64 user:password>`; none for anonymous reads of public repositories.',
  }),
);

/** A route's header parameters with the (optional) Authorization header of token mode added. */
export function withAuthorization<P extends Record<string, TSchema>>(headers?: { properties: P }) {
  return t.Object({ ...(headers?.properties ?? ({} as P)), authorization: authorizationHeader });
}

/** The 401 of a registry route in token mode. */
export const tokenRequired: Reply = {
  ...v1Error(['REQUIRES_AUTHORIZATION'], 'auth: token: missing, forged, expired or mismatched token'),
  headers: { 'WWW-Authenticate': { description: '`Token`' } },
};

/** A 401 of the index and account routes in token mode (Basic credentials). */
export const basicRequired = (codes: readonly ['LOGIN_REQUIRED' | 'BAD_CREDENTIALS', ...('LOGIN_REQUIRED' | 'BAD_CREDENTIALS')[]]): Reply => ({
  ...v1Error(codes, 'auth: token: Basic credentials missing or wrong'),
  headers: { 'WWW-Authenticate': { description: '`Basic realm="registry"`' } },
});

// --- operations ---------------------------------------------------------------------------------

export type Tag = 'images' | 'repositories' | 'index' | 'search' | 'ping';

export const TAGS: readonly { name: Tag; description: string }[] = [
  { name: 'images', description: 'Image json, layers, checksums, ancestry, files and diffs' },
  { name: 'repositories', description: 'Tags, repository json, properties and deletion' },
  { name: 'index', description: 'Standalone index emulation: users, image lists and tokens (checked accounts in token mode)' },
  { name: 'search', description: 'Repository search' },
  { name: 'ping', description: 'Liveness, mode and banner' },
];

interface HeaderDoc {
  description: string;
  schema?: JsonSchema;
}

export interface Reply {
  description: string;
  /** a named model, an inline schema, `binary` (octet-stream), or nothing for an empty body */
  body?: ModelName | TSchema | 'binary';
  /** the body's media type when it is not JSON (binary bodies default to application/octet-stream) */
  mediaType?: string;
  headers?: Record<string, HeaderDoc>;
  /** for a V1 error reply: the catalogue entries it stands for (shown as examples) */
  errors?: readonly ErrorCode[];
}

type Responses = NonNullable<DocumentDecoration['responses']>;
type RequestBody = NonNullable<DocumentDecoration['requestBody']>;

export interface OperationSpec {
  operationId: string;
  tag: Tag;
  summary: string;
  description?: string;
  requestBody?: RequestBody;
  responses: Record<number, Reply>;
}

const BINARY: JsonSchema = { type: 'string', format: 'binary' };

const isModel = (body: Reply['body']): body is ModelName => typeof body === 'string' && body !== 'binary';

/** An inline t.* schema as plain JSON (TypeBox's symbol keys dropped). */
const plain = (schema: TSchema): JsonSchema => JSON.parse(JSON.stringify(schema)) as JsonSchema;

const ref = (name: ModelName) => ({ $ref: `#/components/schemas/${name}` });

function responseObject(reply: Reply): Responses[string] {
  const body = reply.body;
  const schema = body === undefined ? undefined : body === 'binary' ? BINARY : isModel(body) ? ref(body) : plain(body);
  const examples = reply.errors?.length
    ? Object.fromEntries(reply.errors.map((code) => [code, { value: { error: catalogue[code].message } }]))
    : undefined;
  return {
    description: reply.description,
    ...(reply.headers
      ? {
          headers: Object.fromEntries(
            Object.entries(reply.headers).map(([name, h]) => [name, { description: h.description, schema: h.schema ?? { type: 'string' } }]),
          ),
        }
      : {}),
    ...(schema
      ? {
          content: {
            [reply.mediaType ?? (body === 'binary' ? 'application/octet-stream' : 'application/json')]: {
              schema,
              ...(examples ? { examples } : {}),
            },
          },
        }
      : {}),
  };
}

/** The Elysia-side schema of a reply: the model name, the schema, binary, or no body. */
function responseSchema(reply: Reply): ModelName | TSchema {
  if (reply.body === undefined) return t.Void({ description: reply.description });
  if (reply.body === 'binary') return t.Unknown({ description: reply.description });
  return reply.body;
}

/**
 * One route's hook fields: `response` (status -> schema or model name) for Elysia, `detail` for
 * the document. `detail.responses` replaces the plugin's own rendering of `response` so each
 * status gets its real media type (the plugin would list multipart and text/plain for all).
 */
export function operation(spec: OperationSpec) {
  const statuses = Object.entries(spec.responses);
  for (const [status, reply] of statuses) {
    for (const code of reply.errors ?? []) {
      if (String(catalogue[code].status) !== status) {
        throw new Error(`${spec.operationId}: ${code} is a ${catalogue[code].status}, documented under ${status}`);
      }
    }
  }
  return {
    response: Object.fromEntries(statuses.map(([status, reply]) => [status, responseSchema(reply)])) as Record<
      number,
      ModelName | TSchema
    >,
    detail: {
      operationId: spec.operationId,
      tags: [spec.tag],
      summary: spec.summary,
      ...(spec.description ? { description: spec.description } : {}),
      ...(spec.requestBody ? { requestBody: spec.requestBody } : {}),
      responses: Object.fromEntries(statuses.map(([status, reply]) => [status, responseObject(reply)])) as Responses,
    } satisfies DocumentDecoration,
  };
}

// --- request bodies and common replies -------------------------------------------------------------

/**
 * A JSON request body: documented as `application/json`, and as any media type, since the
 * registry reads the body as JSON whatever its Content-Type (Docker clients vary).
 */
export function jsonBody(model: ModelName, description: string): RequestBody {
  const media = { schema: ref(model) };
  return {
    required: true,
    description: `${description}. Read as JSON whatever the Content-Type; at most the JSON size limit (413 beyond).`,
    content: { 'application/json': media, '*/*': media },
  };
}

/** The layer upload: raw bytes, streamed to storage. */
export function binaryBody(description: string): RequestBody {
  return { required: true, description, content: { 'application/octet-stream': { schema: BINARY } } };
}

/**
 * A V1 error reply (`{"error": ...}`) standing for the catalogue entries given (all of one status;
 * `operation()` checks): their messages make the description, each is an example.
 */
export function v1Error(codes: readonly [ErrorCode, ...ErrorCode[]], note?: string): Reply {
  const messages = [...new Set(codes.map((code) => catalogue[code].message))].join('; ');
  return { description: note ? `${messages} (${note})` : messages, body: 'V1Error', errors: codes };
}

/** `true`: the V1 success reply of most writes. */
export const ok = (description = 'Done: the JSON value `true`'): Reply => ({
  description,
  body: t.Boolean({ description: 'Always true' }),
});

export const notModifiedDoc: Reply = {
  description: 'Not modified since If-Modified-Since (empty body)',
  headers: {
    'Last-Modified': { description: 'When the image was completed' },
    'Cache-Control': { description: 'public, max-age=31536000' },
  },
};

/** Headers of a cacheable reply for an immutable image. */
export const cacheHeaderDocs: Record<string, HeaderDoc> = {
  'Last-Modified': { description: 'When the image was completed' },
  'Cache-Control': { description: 'public, max-age=31536000 (complete images never change)' },
  Expires: { description: 'One year from now' },
};

/** The token headers of the index routes. */
export const tokenHeaders: Record<string, HeaderDoc> = {
  'X-Docker-Endpoints': { description: 'Registry endpoints for the client (configured, or the request Host)' },
  'X-Docker-Token': {
    description:
      'Token signature=...,repository="ns/name",access=read|write|delete: in open mode a random signature, never checked; ' +
      'in token mode an HMAC-SHA256 signature with an extra `expires=<unix time>`, required by the registry routes',
  },
  'WWW-Authenticate': { description: 'The same token' },
};

// --- the document --------------------------------------------------------------------------------

export const API_DESCRIPTION = [
  'The Docker Registry V1 API (registry and standalone index), as served by this registry.',
  '',
  '- One-part repository names mean `library/<name>`: a request for `/v1/repositories/<name>/...` is rewritten to ' +
    '`/v1/repositories/library/<name>/...` before routing, so only the two-part paths `{namespace}/{repository}` are listed.',
  '- JSON request bodies are read as JSON whatever their Content-Type; layer bodies are streamed raw.',
  '- Every error reply is a JSON object `{"error": "<message>"}` (model `V1Error`).',
  '- Authentication: with `auth: open` (the default) index tokens are issued but never checked. With `auth: token` ' +
    'the index and account routes take Basic credentials and hand out signed, expiring repository tokens ' +
    '(`X-Docker-Token`), which the registry routes require (`Authorization: Token ...`): a user pushes only to ' +
    '`<username>/*` (admins anywhere); public repositories are readable anonymously when `anonymous_read` is on; ' +
    'private ones only with their own read token.',
].join('\n');

/** The `documentation` option of the swagger plugin. */
export function openapiDocumentation(version: string) {
  return {
    info: { title: 'Docker Registry V1', description: API_DESCRIPTION, version },
    tags: TAGS.map((tag) => ({ ...tag })),
    components: { schemas: componentSchemas() },
  };
}
