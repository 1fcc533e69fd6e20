/**
 * The entry points servers (and route tests) call: the app's fetch handler behind the checks
 * every request gets before routing, and the routes Bun.serve dispatches natively.
 */
import type { Config } from '../config/schema.ts';
import { canonicalPath } from '../http/canonical-path.ts';
import { badEncodingReply, badTargetReply, decodablePath, requestUrl } from '../http/request-target.ts';
import { PING_PATHS, pingReply } from '../routes/v1/ping.ts';
import { REGISTRY_VERSION, type RegistryApp } from './app.ts';

/** Routes a request whose URL the caller has parsed already (null: it did not parse). */
export type AppRoute = (request: Request, url: URL | null) => Promise<Response>;

/**
 * Before routing: refuses requests whose target does not parse and paths whose percent-encoding
 * does not decode, and rewrites one-part repository names to `library/<name>`.
 */
export function createRoute(app: RegistryApp): AppRoute {
  return async (request, url) => {
    if (!url) return badTargetReply(request);
    if (!decodablePath(url.pathname)) return badEncodingReply(request);
    const path = canonicalPath(url.pathname);
    if (path === url.pathname) return app.handle(request);
    url.pathname = path;
    return app.handle(new Request(url.href, request));
  };
}

/**
 * Routes the server dispatches natively (Bun.serve `routes`, GET and HEAD), before any JavaScript
 * routing: `_ping`, which load balancers and clients call far more often than anything else.
 * Each answers exactly what the app's own route answers (the same function builds the reply);
 * other methods and spellings (a trailing slash, …) still reach the app.
 */
export function nativeRoutes(config: Config): Record<string, AppRoute> {
  const ping = pingReply({ standalone: config.standalone, debug: config.debug, version: REGISTRY_VERSION });
  const route: AppRoute = async (request, url) => (url ? ping() : badTargetReply(request));
  return Object.fromEntries(PING_PATHS.map((path) => [path, route]));
}

/** The fetch handler (see createRoute), parsing the URL itself. */
export function createFetch(app: RegistryApp): (request: Request) => Promise<Response> {
  const route = createRoute(app);
  return (request) => route(request, requestUrl(request));
}
