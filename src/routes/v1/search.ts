/** E20: GET /v1/search?q=&n=&page= */
import { Elysia, t } from 'elysia';
import { jsonReply } from '../../http/reply.ts';
import type { SearchService } from '../../services/search.ts';

export function searchRoutes(search: SearchService) {
  return new Elysia({ name: 'routes.search' }).get(
    '/v1/search',
    async ({ query }) => jsonReply(await search.search(query.q, query.n, query.page)),
    {
      query: t.Object({ q: t.Optional(t.String()), n: t.Optional(t.String()), page: t.Optional(t.String()) }),
      detail: { tags: ['search'], summary: 'Search repositories by name and description' },
    },
  );
}
