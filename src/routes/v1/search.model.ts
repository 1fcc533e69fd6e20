/** The contract of the search route (search.ts): model, parameters and OpenAPI operation. */
import { t, type Static } from 'elysia';
import { basicRequired, integer, operation, v1Error } from '../../http/openapi.ts';

const SearchResults = t.Object(
  {
    num_results: integer('Matches in total'),
    num_pages: integer('Pages of `page_size` results (at least 1)'),
    page: integer('This page (from 1)'),
    page_size: integer('Results per page'),
    query: t.String({ description: 'The query as received' }),
    results: t.Array(
      t.Object({ name: t.String({ description: 'namespace/name' }), description: t.String() }),
      { description: 'The matching repositories of this page' },
    ),
  },
  { description: 'A page of search results' },
);

/** A page of search results, as services/search.ts builds it. */
export type SearchResults = Static<typeof SearchResults>;

export const searchModels = { SearchResults };

// strings on purpose: the service answers bad numbers with the V1 400, not a validation error
export const searchQuery = t.Object({
  q: t.Optional(t.String({ description: 'Words to find in repository names and descriptions (at most 256 characters)' })),
  n: t.Optional(t.String({ description: 'Results per page, 1 to 100 (default 25)' })),
  page: t.Optional(t.String({ description: 'Page number from 1 (default 1)' })),
});

// --- operations ---------------------------------------------------------------------------------

/** The routes' OpenAPI operations, built afresh for each app, as for the twin that documents it (app/documentation.ts). */
export function searchDocs() {
  return {
    search: operation({
      operationId: 'search',
      tag: 'search',
      summary: 'Search repositories by name and description',
      responses: {
        200: { description: 'A page of results', body: 'SearchResults' },
        400: v1Error(['INVALID_SEARCH'], 'q over 256 characters, n not 1 to 100, or page not a positive integer'),
        401: basicRequired(['BAD_CREDENTIALS']),
      },
    }),
  };
}
