/** E20: GET /v1/search?q=&n=&page= */
import { Elysia, t } from 'elysia';
import { openapiModels, operation, v1Error } from '../../http/openapi.ts';
import { jsonReply } from '../../http/reply.ts';
import type { SearchService } from '../../services/search.ts';

export function searchRoutes(search: SearchService) {
  return new Elysia({ name: 'routes.search' })
    .use(openapiModels)
    .get('/v1/search', async ({ query }) => jsonReply(await search.search(query.q, query.n, query.page)), {
      // strings on purpose: the service answers bad numbers with the V1 400, not a validation error
      query: t.Object({
        q: t.Optional(t.String({ description: 'Words to find in repository names and descriptions (at most 256 characters)' })),
        n: t.Optional(t.String({ description: 'Results per page, 1 to 100 (default 25)' })),
        page: t.Optional(t.String({ description: 'Page number from 1 (default 1)' })),
      }),
      ...operation({
        operationId: 'search',
        tag: 'search',
        summary: 'Search repositories by name and description',
        responses: {
          200: { description: 'A page of results', body: 'SearchResults' },
          400: v1Error(['INVALID_SEARCH'], 'q over 256 characters, n not 1 to 100, or page not a positive integer'),
        },
      }),
    });
}
