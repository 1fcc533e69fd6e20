/**
 * Metric labels for a request: the route template it was served by, never the raw path, so
 * that label cardinality stays bounded whatever clients send. Pure.
 *
 * The table mirrors the routes the app declares (src/routes/v1/*, the API documentation);
 * test/metrics/route-label.test.ts checks it against the app's own route list, so a new route
 * without a line here fails a test. One-part repository names are rewritten with the app's own
 * `canonicalPath` first, so `/v1/repositories/foo/tags` is `{namespace}/{repository}/tags`.
 */
import { canonicalPath } from '../http/canonical-path.ts';

/** the label of requests that match no route (404s of unknown paths, unserved methods) */
export const OTHER = 'other';

/** method → route templates, as the app declares them (`{param}` for one path segment) */
const ROUTES: Record<string, readonly string[]> = {
  GET: [
    '/',
    '/_ping',
    '/v1/_ping',
    '/metrics',
    // the API documentation (src/http/app.ts, src/http/swagger-ui.ts)
    '/swagger',
    '/swagger/json',
    '/swagger/cdn',
    '/swagger/assets/{file}',
    '/v1/images/{id}/layer',
    '/v1/images/{id}/json',
    '/v1/images/{id}/ancestry',
    '/v1/images/{id}/files',
    '/v1/images/{id}/diff',
    '/v1/repositories/{namespace}/{repository}/tags',
    '/v1/repositories/{namespace}/{repository}/tags/{tag}',
    '/v1/repositories/{namespace}/{repository}/tags/{tag}/json',
    '/v1/repositories/{namespace}/{repository}/json',
    '/v1/repositories/{namespace}/{repository}/properties',
    '/v1/repositories/{namespace}/{repository}/images',
    '/v1/users',
    '/v1/search',
  ],
  PUT: [
    '/v1/images/{id}/layer',
    '/v1/images/{id}/checksum',
    '/v1/images/{id}/json',
    '/v1/repositories/{namespace}/{repository}/tags/{tag}',
    '/v1/repositories/{namespace}/{repository}/properties',
    '/v1/repositories/{namespace}/{repository}/',
    '/v1/repositories/{namespace}/{repository}/images',
    '/v1/repositories/{namespace}/{repository}/auth',
    '/v1/users/{username}',
  ],
  POST: ['/v1/users'],
  DELETE: [
    '/v1/repositories/{namespace}/{repository}/tags/{tag}',
    '/v1/repositories/{namespace}/{repository}/',
    '/v1/repositories/{namespace}/{repository}/tags',
    '/v1/repositories/{namespace}/{repository}/images',
  ],
};

/** the methods that keep their name as a label; anything else is `other` */
const METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS']);

interface Compiled {
  template: string;
  /** path segments; null marks a parameter */
  segments: (string | null)[];
}

/** Path segments without the leading slash and one trailing slash (the router ignores it). */
function split(path: string): string[] {
  const trimmed = path.replace(/^\//, '').replace(/\/$/, '');
  return trimmed === '' ? [] : trimmed.split('/');
}

const COMPILED: Record<string, Compiled[]> = Object.fromEntries(
  Object.entries(ROUTES).map(([method, templates]) => [
    method,
    templates.map((template) => ({
      template,
      segments: split(template).map((s) => (s.startsWith('{') ? null : s)),
    })),
  ]),
);

/** The `method` label: the request method, or `other` for an unusual one. */
export function methodLabel(method: string): string {
  return METHODS.has(method) ? method : OTHER;
}

/**
 * The `route` label: the template of the route that serves `method` on `pathname` (HEAD is
 * served by GET routes, as in the app), or `other`. A query string is ignored.
 */
export function routeLabel(method: string, pathname: string): string {
  const query = pathname.indexOf('?');
  const path = canonicalPath(query === -1 ? pathname : pathname.slice(0, query));
  const routes = COMPILED[method === 'HEAD' ? 'GET' : method];
  if (!routes) return OTHER;
  const segments = split(path);
  // an empty segment (`//`) matches no literal and no parameter
  if (segments.includes('')) return OTHER;
  for (const route of routes) {
    if (route.segments.length !== segments.length) continue;
    if (route.segments.every((s, i) => s === null || s === segments[i])) return route.template;
  }
  return OTHER;
}
