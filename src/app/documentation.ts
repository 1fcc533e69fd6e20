/**
 * `/swagger/json`: the OpenAPI document, built by `@elysiajs/openapi`'s `toOpenAPISchema` from the
 * app's own routes, but only when first asked for — the plugin adds memory to every worker and
 * almost no request wants the document. It is built from a twin of the app, created for that
 * first request: Elysia adds `additionalProperties: false` to the schemas it compiles for
 * validation, so the serving app's schemas change as requests go through it; the twin has served
 * none. The document is then kept (the routes never change while a worker runs).
 *
 * Every route declares its full contract through `operation()` (http/openapi.ts): responses per
 * status with media types and headers, and the request body, in `detail`. The plugin rebuilds
 * `responses` from the Elysia `response` schemas alone (losing media types, headers and error
 * examples), so each operation's `detail` is laid over what the plugin generated. Parameters come
 * from the plugin (the routes' params/query/headers schemas), each schema's description lifted to
 * the parameter, where OpenAPI tools show it.
 */
import { Elysia, type AnyElysia } from 'elysia';
import { ROUTES } from '../http/route-table.ts';

type Json = Record<string, unknown>;

interface Parameter {
  in: 'path' | 'query' | 'header' | 'cookie';
  name: string;
  required?: boolean;
  schema?: Json;
}

/** The document's fixed parts: info, tags and the named models (components). */
export interface DocumentBase {
  info: Json;
  tags: Json[];
  components: { schemas: Json };
}

/** Header, then path, then query parameters, each group in declaration order. */
const PARAMETER_ORDER = ['header', 'path', 'query', 'cookie'] as const;

function shapeParameters(parameters: Parameter[]): Json[] {
  return PARAMETER_ORDER.flatMap((place) =>
    parameters
      .filter((p) => p.in === place)
      .map(({ schema = {}, in: where, name, required }) => {
        const { description, ...rest } = schema as { description?: string };
        return { description, schema: rest, in: where, name, required };
      }),
  );
}

async function buildDocument(app: AnyElysia, base: DocumentBase): Promise<Json> {
  const { toOpenAPISchema } = await import('@elysiajs/openapi');
  const generated = toOpenAPISchema(app, undefined, undefined, undefined, '3.0.3').paths as unknown as Record<string, Record<string, Json>>;
  const paths: Record<string, Record<string, Json>> = {};
  for (const route of app.routes) {
    const detail = route.hooks?.detail as Json | undefined;
    if (!detail || detail.hide) continue;
    const path = route.path.replace(/:([^/]+)/g, '{$1}');
    const method = route.method.toLowerCase();
    const op = generated[path]?.[method];
    if (!op) continue;
    const parameters = op.parameters as Parameter[] | undefined;
    (paths[path] ??= {})[method] = {
      ...(parameters ? { parameters: shapeParameters(parameters) } : {}),
      ...(op.responses ? { responses: op.responses } : {}),
      operationId: op.operationId,
      ...detail,
    };
  }
  return { openapi: '3.0.3', info: base.info, tags: base.tags, components: base.components, paths };
}

/** The route serving the document of `twin()`, built on the first request. */
export function lazyDocumentation(twin: () => AnyElysia, base: () => DocumentBase): AnyElysia {
  let document: Promise<string> | null = null;
  const generate = async (): Promise<string> => JSON.stringify(await buildDocument(twin(), base()));
  return new Elysia({ name: 'documentation.lazy' }).get(
    ROUTES.swaggerJson.path,
    async (): Promise<Response> => {
      document ??= generate().catch((e: unknown) => {
        document = null;
        throw e;
      });
      return new Response(await document, { headers: { 'content-type': 'application/json' } });
    },
    { detail: { hide: true } },
  );
}
