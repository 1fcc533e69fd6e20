/**
 * Hot routes, defined once and served two ways: registered into the Elysia app (the OpenAPI
 * document, and every request Bun's router does not hand us directly), and dispatched natively
 * from Bun.serve's `routes` table without Elysia's per-request routing. The native handler runs
 * the same parameter and header schemas (compiled once with TypeBox, the very objects the app
 * declares), the same guard, the same handler and the same error renderer. Anything it is not
 * sure to answer exactly as the app would — a path the one-part rewrite would change, an
 * undecodable path, input the schemas refuse, a request without Bun's params — goes to the app.
 */
import type { Static, TObject } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { canonicalPath } from './canonical-path.ts';
import { errorToResponse, type ErrorLogger } from './errors.ts';
import { badTargetReply, decodablePath } from './request-target.ts';
import type { RouteEntry } from './route-table.ts';

/** Routes a request whose URL the caller has parsed already (null: it did not parse). */
export type AppRoute = (request: Request, url: URL | null) => Promise<Response>;

/** A guard: throws the V1 error (401/403) when the caller may not use the route. */
export type RouteGuard = (request: Request, params: Record<string, string>) => Promise<void>;

export interface RouteDefinition<P extends TObject = TObject, H extends TObject = TObject> {
  /** a GET of the route table */
  route: RouteEntry & { method: 'GET' };
  params: P;
  headers: H;
  /** auth: token's check (null in open mode); the app runs it as a beforeHandle hook */
  guard: RouteGuard | null;
  handler: (context: { params: Static<P>; request: Request }) => Promise<Response>;
  /** the OpenAPI operation (`operation(...)` of http/openapi.ts) */
  detail: object;
}

export const defineRoute = <P extends TObject, H extends TObject>(definition: RouteDefinition<P, H>) => definition;

/** Any definition (its handler's parameter type is checked where it is defined). */
// biome-ignore lint: the handler's context type varies per definition
export type AnyRouteDefinition = RouteDefinition<any, any>;

/**
 * Registers a definition on an Elysia instance as a GET with its schemas and OpenAPI document.
 * Elysia's inferred types for these routes are not needed: the definition's own are checked.
 */
export function registerRoute<A extends object>(app: A, definition: AnyRouteDefinition): A {
  const hooks = { params: definition.params, headers: definition.headers, ...definition.detail };
  (app as unknown as { get(path: string, handler: unknown, hooks: unknown): unknown }).get(definition.route.path, definition.handler, hooks);
  return app;
}

/**
 * The native handler of a definition, for Bun.serve `routes` (GET, and HEAD through it).
 * `app` answers whatever this handler leaves alone.
 */
export function nativeHandler(definition: AnyRouteDefinition, app: AppRoute, log: ErrorLogger): AppRoute {
  const params = TypeCompiler.Compile(definition.params);
  const headers = TypeCompiler.Compile(definition.headers);
  const headerNames = Object.keys(definition.headers.properties);
  const { guard, handler } = definition;
  return async (request, url) => {
    if (!url) return badTargetReply(request);
    // Bun's router gives decoded params, as Elysia's does
    const matched = (request as Request & { params?: Record<string, string> }).params;
    if (!matched || !decodablePath(url.pathname) || canonicalPath(url.pathname) !== url.pathname) return app(request, url);
    const given: Record<string, string> = {};
    for (const name of headerNames) {
      const value = request.headers.get(name);
      if (value !== null) given[name] = value;
    }
    // the app's validation error is the reply: let it build it
    if (!params.Check(matched) || !headers.Check(given)) return app(request, url);
    let response: Response;
    try {
      await guard?.(request, matched);
      response = await handler({ params: matched, request });
    } catch (error) {
      // Elysia's code for a thrown error that is not its own
      response = errorToResponse('UNKNOWN', error, log);
    }
    return request.method === 'HEAD' ? headReply(response) : response;
  };
}

/**
 * What Elysia answers to a HEAD on a GET route: the GET reply without its body, with
 * Content-Length set to the body's length (0 for none).
 */
export async function headReply(response: Response): Promise<Response> {
  let length = 0;
  if (response.body && !response.bodyUsed) for await (const chunk of response.body) length += chunk.byteLength;
  response.headers.set('content-length', String(length));
  return new Response(null, { status: response.status, statusText: response.statusText, headers: response.headers });
}
