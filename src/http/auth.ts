/**
 * The HTTP side of `auth: token`: guards the registry route modules `.use()` before their routes.
 * Each check hands the Authorization header, the method and the path parameters to the
 * AuthService; the plugins run it as one `beforeHandle` hook (scoped: it covers the routes of the
 * module that uses it, registered after the `.use`), and natively dispatched routes call the same
 * check (http/native-route.ts). With `auth: open` (no service) there is no check.
 */
import { Elysia } from 'elysia';
import type { AuthService } from '../services/auth.ts';
import { repoRef } from '../services/names.ts';
import type { RouteGuard } from './native-route.ts';

const authorization = (request: Request) => request.headers.get('authorization');

/** `/v1/repositories/:namespace/:repository/...` registry routes. */
export function repositoryCheck(auth: AuthService | null): RouteGuard | null {
  if (!auth) return null;
  return (request, p) => auth.authorizeRepository(authorization(request), request.method, repoRef(p.namespace ?? '', p.repository ?? ''));
}

/** `/v1/images/:id/...` routes; PUT json gets the image-list membership error. */
export function imageCheck(auth: AuthService | null): RouteGuard | null {
  if (!auth) return null;
  return (request, p) => {
    const putJson = request.method === 'PUT' && new URL(request.url).pathname.endsWith('/json');
    return auth.authorizeImage(authorization(request), request.method, p.id ?? '', putJson);
  };
}

/** The plugin running a check before every route registered after it in the using module. */
export function guardPlugin(check: RouteGuard | null) {
  const plugin = new Elysia();
  if (!check) return plugin;
  return plugin.onBeforeHandle({ as: 'scoped' }, async ({ request, params }) => {
    await check(request, params as Record<string, string>);
  });
}
