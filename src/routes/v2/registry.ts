/** V2: the API root, the catalog, tag listing and the referrers API. */
import { Elysia } from 'elysia';
import { RegistryError } from '../../errors.ts';
import { ROUTES } from '../../http/route-table.ts';
import type { ManifestService } from '../../services/manifests.ts';
import { models } from '../models.ts';
import { API_VERSION, check, pageOf, repositoryOf, type V2Guard } from './common.ts';
import { nameParams } from './common.model.ts';
import { pageQuery, referrersParams, referrersQuery, registryDocs } from './registry.model.ts';

const JSON_HEADERS = new Headers({ ...API_VERSION, 'content-type': 'application/json' });

/** A JSON reply with the V2 headers, and a `Link` to the next page when this one is full. */
function pagedReply(body: string, next: string | null): Response {
  if (!next) return new Response(body, { status: 200, headers: JSON_HEADERS });
  const headers = new Headers(JSON_HEADERS);
  headers.set('link', `<${next}>; rel="next"`);
  return new Response(body, { status: 200, headers });
}

/**
 * A tag list's JSON, kept with the list while the store hands out the same frozen list (the
 * SQLite store does until anything commits), so an unchanged list is serialized once.
 */
const tagListBodies = new WeakMap<readonly string[], { name: string; body: string }>();

function tagListBody(name: string, tags: readonly string[]): string {
  // the same list under another spelling of the name (`busybox`, `library/busybox`) is serialized anew
  const kept = tagListBodies.get(tags);
  if (kept?.name === name) return kept.body;
  const body = JSON.stringify({ name, tags });
  if (Object.isFrozen(tags)) tagListBodies.set(tags, { name, body });
  return body;
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
    // not through check(): no promise to wait for in open mode (a hot path)
    if (guard) await guard(request, ref, ['pull']);
    const p = page(query);
    const tags = await manifests.tags(ref, p);
    return pagedReply(tagListBody(name, tags), nextPage(`/v2/${name}/tags/list`, tags, p.n));
  };
}

export function registryRoutes(manifests: ManifestService, guard: V2Guard | null) {
  const docs = registryDocs();
  const tags = tagsGet(manifests, guard);
  return new Elysia({ name: 'routes.v2.registry' })
    .use(models)
    .get(
      ROUTES.v2Base.path,
      async ({ request }) => {
        await check(guard, request, 'base', []);
        return pagedReply('{}', null);
      },
      docs.base,
    )
    .get(
      ROUTES.v2Catalog.path,
      async ({ request, query }) => {
        await check(guard, request, 'catalog', []);
        const p = page(query);
        const repositories = p.n === 0 ? [] : await manifests.catalog(p);
        return pagedReply(JSON.stringify({ repositories }), nextPage('/v2/_catalog', repositories, p.n));
      },
      { query: pageQuery, ...docs.catalog },
    )
    .get(ROUTES.v2ListTags.path, ({ params, request, query }) => tags(request, params.name, query), {
      params: nameParams,
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
        params: referrersParams,
        query: referrersQuery,
        ...docs.referrers,
      },
    );
}
