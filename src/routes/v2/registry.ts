/** V2: the API root, the catalog, tag listing and the referrers API. */
import { Elysia, t } from 'elysia';
import { RegistryError } from '../../errors.ts';
import { ROUTES } from '../../http/route-table.ts';
import type { ManifestService } from '../../services/manifests.ts';
import { API_VERSION, check, pageOf, repositoryOf, v2Operation, type V2Guard } from './common.ts';

const auth = { 401: 'auth: token: a Bearer token with the needed scope is required', 403: 'auth: token: the scope is not granted' };
const pageQuery = t.Object({
  n: t.Optional(t.String({ description: 'At most this many entries' })),
  last: t.Optional(t.String({ description: 'Only entries after this one (byte order)' })),
});

function registryDocs() {
  return {
    base: v2Operation('v2Base', 'The V2 API version check', { 200: '`{}`: the registry speaks V2', 401: 'auth: token: log in (WWW-Authenticate names the token realm)' }),
    catalog: v2Operation('v2Catalog', 'List repositories, paged', { 200: '`{"repositories": [...]}`; `Link` to the next page', 400: 'n is not a number', ...auth }),
    tags: v2Operation('v2ListTags', 'List the tags of a repository, paged', {
      200: '`{"name", "tags": [...]}`; `Link` to the next page',
      400: 'NAME_INVALID; n is not a number',
      404: 'NAME_UNKNOWN',
      ...auth,
    }),
    referrers: v2Operation('v2Referrers', 'List the manifests whose subject is a digest (`?artifactType=` filters)', {
      200: 'An OCI image index of their descriptors; `OCI-Filters-Applied: artifactType` when filtered',
      400: 'DIGEST_INVALID',
      ...auth,
    }),
  };
}

/** A JSON reply with the V2 headers, and a `Link` to the next page when this one is full. */
function pagedReply(body: unknown, next: string | null): Response {
  const headers: Record<string, string> = { ...API_VERSION, 'content-type': 'application/json' };
  if (next) headers.link = `<${next}>; rel="next"`;
  return new Response(JSON.stringify(body), { status: 200, headers });
}

function page(query: { n?: string; last?: string }) {
  const p = pageOf(query);
  if (p.n !== undefined && Number.isNaN(p.n)) throw new RegistryError('BAD_REQUEST', 'n must be a non-negative integer');
  return p;
}

/** The next page's URL when this page is full. */
function nextPage(path: string, items: string[], n: number | undefined): string | null {
  if (n === undefined || n === 0 || items.length < n) return null;
  return `${path}?n=${n}&last=${encodeURIComponent(items[items.length - 1]!)}`;
}

/** GET of a repository's tag list, for the app's route and native dispatch (native.ts). */
export function tagsGet(manifests: ManifestService, guard: V2Guard | null) {
  return async (request: Request, name: string, query: { n?: string; last?: string }): Promise<Response> => {
    const ref = repositoryOf({ name });
    await check(guard, request, ref, ['pull']);
    const p = page(query);
    const tags = await manifests.tags(ref, p);
    return pagedReply({ name, tags }, nextPage(`/v2/${name}/tags/list`, tags, p.n));
  };
}

export function registryRoutes(manifests: ManifestService, guard: V2Guard | null) {
  const docs = registryDocs();
  const tags = tagsGet(manifests, guard);
  return new Elysia({ name: 'routes.v2.registry' })
    .get(
      ROUTES.v2Base.path,
      async ({ request }) => {
        await check(guard, request, 'base', []);
        return new Response('{}', { status: 200, headers: { ...API_VERSION, 'content-type': 'application/json' } });
      },
      docs.base,
    )
    .get(
      ROUTES.v2Catalog.path,
      async ({ request, query }) => {
        await check(guard, request, 'catalog', []);
        const p = page(query);
        const repositories = p.n === 0 ? [] : await manifests.catalog(p);
        return pagedReply({ repositories }, nextPage('/v2/_catalog', repositories, p.n));
      },
      { query: pageQuery, ...docs.catalog },
    )
    .get(ROUTES.v2ListTags.path, ({ params, request, query }) => tags(request, params.name, query), {
      params: t.Object({ name: t.String() }),
      query: pageQuery,
      ...docs.tags,
    })
    .get(
      ROUTES.v2Referrers.path,
      async ({ params, request, query }) => {
        const ref = repositoryOf(params);
        await check(guard, request, ref, ['pull']);
        const index = await manifests.referrers(ref, params.digest, query.artifactType || null);
        const headers: Record<string, string> = { ...API_VERSION, 'content-type': 'application/vnd.oci.image.index.v1+json' };
        if (index.filtered) headers['oci-filters-applied'] = 'artifactType';
        return new Response(index.body, { status: 200, headers });
      },
      {
        params: t.Object({ name: t.String(), digest: t.String() }),
        query: t.Object({ artifactType: t.Optional(t.String({ description: 'Only referrers of this artifact type' })) }),
        ...docs.referrers,
      },
    );
}
