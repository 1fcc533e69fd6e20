/**
 * E11–E19: tags, repository json, properties, deletion. Declared for `:namespace/:repository`;
 * one-part names reach them as `library/<name>` (src/http/canonical-path.ts).
 */
import { Elysia } from 'elysia';
import { guardPlugin, repositoryCheck } from '../../http/auth.ts';
import { defineRoute, registerRoute } from '../../http/native-route.ts';
import { ROUTES } from '../../http/route-table.ts';
import { readLimited } from '../../http/body.ts';
import { repoParams, withAuthorization } from '../../http/openapi.ts';
import { models } from '../models.ts';
import { repositoryDocs, tagParams, userAgentHeaders } from './repositories.model.ts';
import { decodeJson } from '../../services/json.ts';
import { jsonReply } from '../../http/reply.ts';
import { repoRef } from '../../services/names.ts';
import type { AuthService } from '../../services/auth.ts';
import type { RepositoryService } from '../../services/repositories.ts';

export interface RepositoryRouteOptions {
  maxJsonSize: number;
}

type RepoParams = { namespace: string; repository: string };
const refOf = (p: RepoParams) => repoRef(p.namespace, p.repository);

const authHeaders = withAuthorization();

/**
 * The hot GETs (tags, tag), defined once: the app registers them (repositoryRoutes) and the server
 * dispatches them natively (app/fetch.ts nativeRoutes).
 */
export function repositoryDefinitions(repos: RepositoryService, auth: AuthService | null = null) {
  const guard = repositoryCheck(auth);
  const docs = repositoryDocs();
  return {
    guard,
    listTags: defineRoute({
      route: ROUTES.listTags,
      params: repoParams,
      headers: authHeaders,
      guard,
      handler: async ({ params }) => jsonReply(await repos.tags(refOf(params))),
      detail: docs.listTags,
    }),
    getTag: defineRoute({
      route: ROUTES.getTag,
      params: tagParams,
      headers: authHeaders,
      guard,
      handler: async ({ params }) => jsonReply(await repos.tag(refOf(params), params.tag)),
      detail: docs.getTag,
    }),
  };
}

export type RepositoryDefinitions = ReturnType<typeof repositoryDefinitions>;

export function repositoryRoutes(repos: RepositoryService, opts: RepositoryRouteOptions, defs: RepositoryDefinitions) {
  const docs = repositoryDocs();
  const deleteRepository = async ({ params }: { params: RepoParams }) => {
    await repos.deleteRepository(refOf(params));
    return jsonReply();
  };

  const plugin = new Elysia({ name: 'routes.repositories' }).use(models).use(guardPlugin(defs.guard));
  registerRoute(plugin, defs.listTags);
  registerRoute(plugin, defs.getTag);
  return plugin
    .put(
      ROUTES.putTag.path,
      async ({ params, request }) => {
        const ref = refOf(params);
        const body = decodeJson(await readLimited(request, opts.maxJsonSize));
        await repos.putTag(ref, params.tag, body.ok ? body.value : undefined, request.headers.get('user-agent') ?? '');
        return jsonReply();
      },
      {
        parse: 'none',
        params: tagParams,
        headers: withAuthorization(userAgentHeaders('its docker/go/kernel/os/arch tokens become the tag metadata')),
        ...docs.putTag,
      },
    )
    .delete(
      ROUTES.deleteTag.path,
      async ({ params }) => {
        await repos.deleteTag(refOf(params), params.tag);
        return jsonReply();
      },
      {
        params: tagParams,
        headers: authHeaders,
        ...docs.deleteTag,
      },
    )
    .get(ROUTES.getTagJson.path, async ({ params }) => jsonReply(await repos.tagJson(refOf(params), params.tag)), {
      params: tagParams,
      headers: authHeaders,
      ...docs.getTagJson,
    })
    .get(ROUTES.getRepositoryJson.path, async ({ params }) => jsonReply(await repos.repositoryJson(refOf(params))), {
      params: repoParams,
      headers: authHeaders,
      ...docs.getRepositoryJson,
    })
    .get(ROUTES.getRepositoryProperties.path, async ({ params }) => jsonReply(await repos.properties(refOf(params))), {
      params: repoParams,
      headers: authHeaders,
      ...docs.getRepositoryProperties,
    })
    .put(
      ROUTES.putRepositoryProperties.path,
      async ({ params, request }) => {
        const ref = refOf(params);
        const body = decodeJson(await readLimited(request, opts.maxJsonSize));
        await repos.setProperties(ref, body.ok ? body.value : undefined);
        return jsonReply();
      },
      {
        parse: 'none',
        params: repoParams,
        headers: authHeaders,
        ...docs.putRepositoryProperties,
      },
    )
    .delete(ROUTES.deleteRepository.path, deleteRepository, {
      params: repoParams,
      headers: authHeaders,
      ...docs.deleteRepository,
    })
    .delete(ROUTES.deleteRepositoryTags.path, deleteRepository, {
      params: repoParams,
      headers: authHeaders,
      ...docs.deleteRepositoryTags,
    });
}
