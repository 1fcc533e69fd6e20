/**
 * The HTTP side of `auth: token`: guards the registry route modules `.use()` before their routes.
 * Each is a plugin with one `beforeHandle` hook (scoped: it covers the routes of the module that
 * uses it, registered after the `.use`), which hands the Authorization header, the method and
 * the path parameters to the AuthService. With `auth: open` (no service) the plugins are empty.
 */
import { Elysia } from 'elysia';
import type { AuthService } from '../services/auth.ts';
import { repoRef } from '../services/names.ts';

const authorization = (request: Request) => request.headers.get('authorization');

/** `/v1/repositories/:namespace/:repository/...` registry routes. */
export function repositoryGuard(auth: AuthService | null) {
  const plugin = new Elysia();
  if (!auth) return plugin;
  return plugin.onBeforeHandle({ as: 'scoped' }, async ({ request, params }) => {
    const p = params as Record<string, string | undefined>;
    await auth.authorizeRepository(authorization(request), request.method, repoRef(p.namespace ?? '', p.repository ?? ''));
  });
}

/** `/v1/images/:id/...` routes; PUT json gets the image-list membership error. */
export function imageGuard(auth: AuthService | null) {
  const plugin = new Elysia();
  if (!auth) return plugin;
  return plugin.onBeforeHandle({ as: 'scoped' }, async ({ request, params }) => {
    const id = (params as Record<string, string | undefined>).id ?? '';
    const putJson = request.method === 'PUT' && new URL(request.url).pathname.endsWith('/json');
    await auth.authorizeImage(authorization(request), request.method, id, putJson);
  });
}
