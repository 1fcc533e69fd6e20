/**
 * The entry points servers (and route tests) call: the app's fetch handler behind the checks
 * every request gets before routing, and the routes Bun.serve dispatches natively.
 */
import { canonicalPath } from '../http/canonical-path.ts';
import { nativeHandler, type AppRoute } from '../http/native-route.ts';
import { badEncodingReply, badTargetReply, decodablePath, requestUrl } from '../http/request-target.ts';
import { PING_PATHS, pingReply } from '../routes/v1/ping.ts';
import { v2NativeRoute } from '../routes/v2/native.ts';
import { hotRoutesOf, REGISTRY_VERSION, type RegistryApp } from './app.ts';

export type { AppRoute };

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
 * routing: `_ping`, which load balancers and clients call far more often than anything else,
 * the hot V1 GETs (tags, tag, image json, ancestry) from their one definition
 * (http/native-route.ts), and the hot V2 GETs (manifests, tag lists: routes/v2/native.ts).
 * Each answers exactly what the app's own route answers; other methods and spellings (a trailing
 * slash, a one-part name, …) still reach the app.
 */
export function nativeRoutes(app: RegistryApp): Record<string, AppRoute> {
  const { config, log, definitions, v2 } = hotRoutesOf(app);
  const ping = pingReply({ standalone: config.standalone, mirror: config['mirroring.source'] !== '', debug: config.debug, version: REGISTRY_VERSION });
  const pingRoute: AppRoute = async (request, url) => (url ? ping() : badTargetReply(request));
  const fallback = createRoute(app);
  return Object.fromEntries([
    ...PING_PATHS.map((path) => [path, pingRoute] as const),
    ...definitions.map((definition) => [definition.route.path, nativeHandler(definition, fallback, log)] as const),
    ['/v2/*', v2NativeRoute(v2, fallback, log)] as const,
  ]);
}

/** The fetch handler (see createRoute), parsing the URL itself. */
export function createFetch(app: RegistryApp): (request: Request) => Promise<Response> {
  const route = createRoute(app);
  return (request) => route(request, requestUrl(request));
}
