/**
 * The OpenAPI contract's shared parts: the error models every route module names (`V1Error`, and
 * `V2Errors` under /v2/), the schema helpers and parameters more than one module uses, and
 * `operation()`, which turns one route's description into both its Elysia hook (`response` per
 * status) and its OpenAPI `detail` (operationId, tag, responses with media types and headers,
 * request body). Each route module's own models, parameters and replies are in its
 * `<module>.model.ts` (src/routes/v1/, src/routes/v2/); the document's fixed parts are in
 * http/openapi-document.ts.
 *
 * Request bodies are read raw (`parse: 'none'`: JSON whatever the Content-Type, layers streamed),
 * so they are documented through `detail.requestBody` and never validated by Elysia. Handlers
 * return `Response`s, which Elysia does not check against `response`; the declared statuses are
 * the contract the document shows. The document is OpenAPI 3.0.3 (the swagger plugin's version):
 * models avoid what 3.0 lacks (tuples, `const`, `null` types, `patternProperties`).
 */
import { t, type DocumentDecoration, type TSchema } from 'elysia';
import { catalogue, type ErrorCode } from '../errors.ts';
import { ociCodeOf } from './errors.ts';

// --- shared models and schema helpers -----------------------------------------------------------

export const imageIdText = '16 or 64 lower-case hexadecimal digits';

/** TypeBox's kind marker (a global symbol): tells Elysia's compiler what an `Unsafe` schema is. */
const KIND = Symbol.for('TypeBox.Kind');

/**
 * A plain JSON integer. Elysia's `t.Integer` also accepts numeric strings and its schema says so
 * (`anyOf` string/integer), which is noise in the document.
 */
export const integer = (description?: string, nullable = false) =>
  t.Unsafe<number>({
    [KIND]: 'Integer',
    type: 'integer',
    ...(description ? { description } : {}),
    ...(nullable ? { nullable: true } : {}),
  });

export const V1Error = t.Object(
  { error: t.String({ description: 'What went wrong (a fixed message, sometimes with a detail after `: `)' }) },
  { description: 'A V1 error reply', example: { error: 'Image not found' } },
);

/** The OCI Distribution error body, which every error under /v2/ has (http/errors.ts renders it). */
export const V2Errors = t.Object(
  {
    errors: t.Array(
      t.Object({
        code: t.String({ description: 'The spec\'s error code (`BLOB_UNKNOWN`, `MANIFEST_INVALID`, `UNAUTHORIZED`, ...)' }),
        message: t.String({ description: 'The fixed message of the error' }),
        detail: t.String({ nullable: true, description: 'What went wrong in this case, or null' }),
      }),
      { description: 'The errors (always one)' },
    ),
  },
  {
    description: 'A V2 error reply (OCI Distribution Specification, "Error Codes")',
    example: { errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry', detail: null }] },
  },
);

/**
 * The named models (components/schemas) by name. Declares `V1Error` and `V2Errors`;
 * src/routes/models.ts, which registers every route module's models, adds theirs by declaration
 * merging, so `Reply` accepts exactly the registered names without this layer importing the routes.
 * @public (exported for that augmentation, which knip does not see as a use)
 */
export interface Models {
  V1Error: typeof V1Error;
  V2Errors: typeof V2Errors;
}

export type ModelName = keyof Models;

/**
 * Path parameters of the repository routes (registry and index). Their values are checked by the
 * services (which answer with the V1 errors), so the schemas accept any string: a `pattern` here
 * would turn a V1 404 into a 400. The same holds for every parameter schema of the route modules.
 */
export const repoParams = t.Object({
  namespace: t.String({ description: 'Namespace (`library` for one-part names)' }),
  repository: t.String({ description: 'Repository name' }),
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

export type Tag = 'images' | 'repositories' | 'index' | 'search' | 'ping' | 'v2';

type JsonSchema = Record<string, unknown>;

export interface HeaderDoc {
  description: string;
  schema?: JsonSchema;
}

export interface Reply {
  description: string;
  /** a named model, an inline schema, `binary` (octet-stream), or nothing for an empty body */
  body?: ModelName | TSchema | 'binary';
  /** the body's media type when it is not JSON (binary bodies default to application/octet-stream) */
  mediaType?: string;
  /** instead of `body`: a body of several media types, each with its model */
  media?: Record<string, ModelName>;
  headers?: Record<string, HeaderDoc>;
  /** for an error reply: the catalogue entries it stands for (shown as examples, V1 or V2 by the body) */
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
    ? Object.fromEntries(reply.errors.map((code) => [code, { value: body === 'V2Errors' ? v2ErrorBody(code) : { error: catalogue[code].message } }]))
    : undefined;
  const content = reply.media
    ? Object.fromEntries(Object.entries(reply.media).map(([type, model]) => [type, { schema: ref(model) }]))
    : schema
      ? {
          [reply.mediaType ?? (body === 'binary' ? 'application/octet-stream' : 'application/json')]: {
            schema,
            ...(examples ? { examples } : {}),
          },
        }
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
    ...(content ? { content } : {}),
  };
}

/** The Elysia-side schema of a reply: the model name, the schema, binary, or no body. */
function responseSchema(reply: Reply): ModelName | TSchema {
  if (reply.media || reply.body === 'binary') return t.Unknown({ description: reply.description });
  if (reply.body === undefined) return t.Void({ description: reply.description });
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

/** The layer or blob upload: raw bytes, streamed to storage. */
export function binaryBody(description: string, required = true): RequestBody {
  return { required, description, content: { 'application/octet-stream': { schema: BINARY } } };
}

/** A body of several media types, each with its model (V2 manifests: read as sent, whatever the type). */
export function mediaBody(description: string, media: Record<string, ModelName>): RequestBody {
  return {
    required: true,
    description,
    content: Object.fromEntries(Object.entries(media).map(([type, model]) => [type, { schema: ref(model) }])),
  };
}

/**
 * A V1 error reply (`{"error": ...}`) standing for the catalogue entries given (all of one status;
 * `operation()` checks): their messages make the description, each is an example.
 */
export function v1Error(codes: readonly [ErrorCode, ...ErrorCode[]], note?: string): Reply {
  const messages = [...new Set(codes.map((code) => catalogue[code].message))].join('; ');
  return { description: note ? `${messages} (${note})` : messages, body: 'V1Error', errors: codes };
}

/** The body http/errors.ts sends for `code` under /v2/ (without a detail). */
const v2ErrorBody = (code: ErrorCode) => {
  const entry = catalogue[code];
  return { errors: [{ code: ociCodeOf(entry, entry.status), message: entry.message, detail: null }] };
};

/**
 * A V2 error reply (`{"errors": [{"code", "message", "detail"}]}`) standing for the catalogue
 * entries given (all of one status; `operation()` checks): their spec codes and messages make
 * the description, each is an example.
 */
export function v2Error(codes: readonly [ErrorCode, ...ErrorCode[]], note?: string): Reply {
  const texts = [...new Set(codes.map((code) => `${ociCodeOf(catalogue[code], catalogue[code].status)}: ${catalogue[code].message}`))].join('; ');
  return { description: note ? `${texts} (${note})` : texts, body: 'V2Errors', errors: codes };
}

/** `true`: the V1 success reply of most writes. */
export const ok = (description = 'Done: the JSON value `true`'): Reply => ({
  description,
  body: t.Boolean({ description: 'Always true' }),
});
