/**
 * Builds the HTTP application from its dependencies: error handling first (so it covers every
 * route registered after it), then the OpenAPI document (`/swagger/json`) and Swagger UI
 * (`/swagger`), then the route modules.
 */
import { swagger } from '@elysiajs/swagger';
import { Elysia } from 'elysia';
import type { Config } from '../config/schema.ts';
import type { MetaStore } from '../db/meta.ts';
import { AuthService } from '../services/auth.ts';
import { ImageService } from '../services/images.ts';
import { RepositoryService } from '../services/repositories.ts';
import { SearchService } from '../services/search.ts';
import { tokenSecret } from '../services/token-secret.ts';
import type { StorageDriver } from '../storage/driver.ts';
import { imageRoutes } from '../routes/v1/images.ts';
import { indexRoutes } from '../routes/v1/index.ts';
import { PING_PATHS, pingReply, pingRoutes } from '../routes/v1/ping.ts';
import { repositoryRoutes } from '../routes/v1/repositories.ts';
import { searchRoutes } from '../routes/v1/search.ts';
import { canonicalPath } from './canonical-path.ts';
import { catalogue } from '../errors.ts';
import { errorToResponse, type ErrorLogger } from './errors.ts';
import { openapiDocumentation } from './openapi.ts';
import { errorReply } from './reply.ts';
import { swaggerUi } from './swagger-ui.ts';

export const REGISTRY_VERSION = '0.1.0';
/** Where the OpenAPI document is served (the committed openapi.json is a copy of it). */
export const SPEC_PATH = '/swagger/json';
/** The swagger-ui-dist version installed (the one /swagger serves). */
const SWAGGER_UI_VERSION = '5.35.0';

export interface AppDeps {
  config: Config;
  meta: MetaStore;
  storage: StorageDriver;
  log?: ErrorLogger;
  /** GET /metrics: the Prometheus text over all workers (a worker process provides it) */
  metrics?: () => Promise<Response>;
}

export function createApp({ config, meta, storage, log, metrics }: AppDeps) {
  const logError: ErrorLogger = log ?? ((message, fields) => console.error(message, fields));
  const images = new ImageService(meta, storage, {
    redirect: config.storage_redirect,
    maxLayerSize: config.max_body_size,
  });
  const repos = new RepositoryService(meta, (id) => images.exists(id));
  const limits = { maxJsonSize: config.max_json_size };
  // auth: token — null leaves every route exactly as in open mode
  const auth =
    config.auth === 'token'
      ? new AuthService(meta, {
          secret: tokenSecret(config.token_secret, config.storage_path),
          ttl: config.token_ttl,
          anonymousRead: config.anonymous_read,
        })
      : null;

  const app = new Elysia({ name: 'registry' })
    .onError({ as: 'global' }, ({ code, error }) => errorToResponse(code, error, logError))
    .use(
      swagger({
        // The plugin's own page loads Swagger UI from unpkg.com, unreachable offline: it is moved
        // aside (it cannot be turned off) and `/swagger` is served locally by swaggerUi() below.
        provider: 'swagger-ui',
        version: SWAGGER_UI_VERSION,
        path: '/swagger/cdn',
        specPath: SPEC_PATH,
        documentation: openapiDocumentation(REGISTRY_VERSION),
      }),
    )
    .use(swaggerUi({ title: 'Docker Registry V1', specUrl: SPEC_PATH }))
    .use(
      pingRoutes({ standalone: config.standalone, debug: config.debug, issue: config.issue, version: REGISTRY_VERSION, metrics }),
    )
    .use(imageRoutes(images, limits, auth))
    .use(repositoryRoutes(repos, limits, auth));
  // Elysia's `use` registers on the instance itself; the optional modules need no reassignment
  if (config.standalone) app.use(indexRoutes(repos, { ...limits, endpoints: config.registry_endpoints, auth }));
  if (config.search) app.use(searchRoutes(new SearchService(meta), auth));
  return app;
}

export type RegistryApp = ReturnType<typeof createApp>;

/** True when every `%XX` escape in the path decodes to valid UTF-8. */
function decodablePath(pathname: string): boolean {
  if (!pathname.includes('%')) return true;
  try {
    decodeURIComponent(pathname);
    return true;
  } catch {
    return false;
  }
}

/** A V1 error reply to a request that cannot be routed (no body for HEAD). */
function refuse(request: Request, message: string): Response {
  const reply = errorReply(400, message);
  return request.method === 'HEAD' ? new Response(null, reply) : reply;
}

/**
 * The request's URL, or null when Bun could not build an absolute one: with an invalid `Host`
 * header (`a b`, `[::1`, `x:99999`…) `request.url` is relative or unparsable, and RFC 9112 §3.2
 * wants a 400 for it. Every entry point checks this first.
 */
export function requestUrl(request: Request): URL | null {
  try {
    return new URL(request.url);
  } catch {
    return null;
  }
}

export const badTargetReply = (request: Request): Response => refuse(request, catalogue.BAD_REQUEST_TARGET.message);

/** Routes a request whose URL the caller has parsed already (null: it did not parse). */
export type AppRoute = (request: Request, url: URL | null) => Promise<Response>;

/**
 * The entry point servers (and route tests, through createFetch) use. Before routing it refuses
 * requests whose target does not parse and paths whose percent-encoding does not decode (the
 * router would otherwise hand handlers a null parameter), and rewrites one-part repository names
 * to `library/<name>`.
 */
export function createRoute(app: RegistryApp): AppRoute {
  return async (request, url) => {
    if (!url) return badTargetReply(request);
    if (!decodablePath(url.pathname)) return refuse(request, catalogue.BAD_PATH_ENCODING.message);
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
