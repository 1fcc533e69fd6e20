/**
 * Metric labels for a request: the route template it was served by, never the raw path, so
 * that label cardinality stays bounded whatever clients send. Pure.
 *
 * The templates are the app's own route table (http/route-table.ts, which the route modules
 * register). One-part repository names are rewritten with the app's own `canonicalPath` first,
 * so `/v1/repositories/foo/tags` is `{namespace}/{repository}/tags`.
 */
import { canonicalPath } from '../http/canonical-path.ts';
import { ROUTE_LIST } from '../http/route-table.ts';

/** the label of requests that match no route (404s of unknown paths, unserved methods) */
export const OTHER = 'other';

/** A route path as a label: `{param}` for one path segment. */
export const routeTemplate = (path: string): string => path.replace(/:(\w+)/g, '{$1}');

/** method → route templates */
const ROUTES: Record<string, string[]> = {};
for (const { method, path } of ROUTE_LIST) (ROUTES[method] ??= []).push(routeTemplate(path));

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
