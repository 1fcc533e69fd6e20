/**
 * The OpenAPI document's fixed parts: info (the API description), the tags, and the named models
 * as components/schemas. The paths come from the routes themselves (app/documentation.ts).
 */
import type { TSchema } from 'elysia';
import type { Tag } from './openapi.ts';

const TAGS: readonly { name: Tag; description: string }[] = [
  { name: 'images', description: 'Image json, layers, checksums, ancestry, files and diffs' },
  { name: 'repositories', description: 'Tags, repository json, properties and deletion' },
  { name: 'index', description: 'Standalone index emulation: users, image lists and tokens (checked accounts in token mode)' },
  { name: 'search', description: 'Repository search' },
  { name: 'ping', description: 'Liveness, mode and banner' },
  { name: 'v2', description: 'OCI Distribution Specification v1.1 (the V2 API): blobs, uploads, manifests, tags, referrers, catalog' },
];

const API_DESCRIPTION = [
  'The Docker Registry V1 API (registry and standalone index) and the OCI Distribution API (V2, under `/v2/`), ' +
    'as served by this registry, on one store: a V1 push can be pulled through V2 and a V2 push through V1 (see the README).',
  '',
  '- V2 repository names may have several parts (`a/b/c`); they are listed as one `{name}` parameter (sent as is or ' +
    'with its slashes as `%2F`). V2 errors are `{"errors": [{"code", "message", "detail"}]}` with the spec\'s codes ' +
    '(model `V2Errors`).',
  '- One-part repository names mean `library/<name>`: a request for `/v1/repositories/<name>/...` is rewritten to ' +
    '`/v1/repositories/library/<name>/...` before routing, so only the two-part paths `{namespace}/{repository}` are listed.',
  '- JSON request bodies are read as JSON whatever their Content-Type; layer bodies are streamed raw.',
  '- Every V1 error reply is a JSON object `{"error": "<message>"}` (model `V1Error`).',
  '- Authentication: with `auth: open` (the default) index tokens are issued but never checked. With `auth: token` ' +
    'the index and account routes take Basic credentials and hand out signed, expiring repository tokens ' +
    '(`X-Docker-Token`), which the registry routes require (`Authorization: Token ...`): a user pushes only to ' +
    '`<username>/*` (admins anywhere); public repositories are readable anonymously when `anonymous_read` is on; ' +
    'private ones only with their own read token. Under `/v2/` the same rules are carried by Bearer tokens from ' +
    '`/v2/token` (Docker\'s token flow): a request without the needed scope gets a 401 whose ' +
    '`WWW-Authenticate: Bearer realm=...,service=...,scope=...` names it, a known caller the rules refuse a 403.',
].join('\n');

type JsonSchema = Record<string, unknown>;

/**
 * A copy of the models as written, to be taken before any app is built: compiling a response
 * validator mutates the schema objects in place (it adds `additionalProperties: false`), which
 * would make the document depend on whether an app has already answered a request in this process.
 */
export const pristine = <M extends Record<string, TSchema>>(models: M): Record<keyof M, unknown> =>
  JSON.parse(JSON.stringify(models)) as Record<keyof M, unknown>;

/**
 * The models as OpenAPI schemas: without the `$id` Elysia stamps on them and with references
 * between models pointed at components/schemas.
 */
function componentSchemas(models: Record<string, unknown>): Record<string, JsonSchema> {
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
  return Object.fromEntries(Object.entries(models).map(([name, schema]) => [name, fix(schema) as JsonSchema]));
}

/** The document's fixed parts, given the `pristine` copy of the models. */
export function openapiDocumentation(version: string, models: Record<string, unknown>) {
  return {
    info: { title: 'Docker Registry V1 and OCI Distribution', description: API_DESCRIPTION, version },
    tags: TAGS.map((tag) => ({ ...tag })),
    components: { schemas: componentSchemas(models) },
  };
}
