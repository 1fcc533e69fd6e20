/** E20: GET /v1/search?q=&n=&page= */
import { Elysia } from 'elysia';
import { RegistryError } from '../../errors.ts';
import { withAuthorization } from '../../http/openapi.ts';
import { ROUTES } from '../../http/route-table.ts';
import { jsonReply } from '../../http/reply.ts';
import type { AuthService } from '../../services/auth.ts';
import type { SearchService } from '../../services/search.ts';
import { models } from '../models.ts';
import { searchDocs, searchQuery } from './search.model.ts';

/** Token mode: private repositories are listed only to their owner (Basic credentials) and admins. */
export function searchRoutes(search: SearchService, auth: AuthService | null = null) {
  const docs = searchDocs();
  return new Elysia({ name: 'routes.search' })
    .use(models)
    .get(ROUTES.search.path, async ({ query, request }) => {
      // SQLite's FTS5 reads a NUL as the end of the query string and fails: refuse it as bad input
      if (query.q?.includes('\0')) throw new RegistryError('INVALID_SEARCH', 'NUL in the query');
      const visible = auth ? auth.searchVisibility(await auth.basicPrincipal(request.headers.get('authorization'))) : 'all';
      return jsonReply(await search.search(query.q, query.n, query.page, visible));
    }, {
      headers: withAuthorization(),
      query: searchQuery,
      ...docs.search,
    });
}
