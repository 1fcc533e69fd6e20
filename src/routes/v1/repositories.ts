/**
 * E11–E19: tags, repository json, properties, deletion. Declared for `:namespace/:repository`;
 * one-part names reach them as `library/<name>` (src/http/canonical-path.ts).
 */
import { Elysia } from 'elysia';
import { readLimited } from '../../http/body.ts';
import { decodeJson } from '../../services/json.ts';
import { jsonReply } from '../../http/reply.ts';
import { repoRef } from '../../services/names.ts';
import type { RepositoryService } from '../../services/repositories.ts';

export interface RepositoryRouteOptions {
  maxJsonSize: number;
}

type RepoParams = { namespace: string; repository: string };
const refOf = (p: RepoParams) => repoRef(p.namespace, p.repository);

export function repositoryRoutes(repos: RepositoryService, opts: RepositoryRouteOptions) {
  const detail = (summary: string) => ({ detail: { tags: ['repositories'], summary } });
  const deleteRepository = async ({ params }: { params: RepoParams }) => {
    await repos.deleteRepository(refOf(params));
    return jsonReply();
  };

  return new Elysia({ name: 'routes.repositories', prefix: '/v1/repositories/:namespace/:repository' })
    .get('/tags', async ({ params }) => jsonReply(await repos.tags(refOf(params))), detail('List the tags of a repository'))
    .get(
      '/tags/:tag',
      async ({ params }) => jsonReply(await repos.tag(refOf(params), params.tag)),
      detail('Get the image id a tag points at'),
    )
    .put(
      '/tags/:tag',
      async ({ params, request }) => {
        const ref = refOf(params);
        const body = decodeJson(await readLimited(request, opts.maxJsonSize));
        await repos.putTag(ref, params.tag, body.ok ? body.value : undefined, request.headers.get('user-agent') ?? '');
        return jsonReply();
      },
      { parse: 'none', ...detail('Point a tag at an image') },
    )
    .delete(
      '/tags/:tag',
      async ({ params }) => {
        await repos.deleteTag(refOf(params), params.tag);
        return jsonReply();
      },
      detail('Delete a tag'),
    )
    .get(
      '/tags/:tag/json',
      async ({ params }) => jsonReply(await repos.tagJson(refOf(params), params.tag)),
      detail('Get the metadata of a tag'),
    )
    .get('/json', async ({ params }) => jsonReply(await repos.repositoryJson(refOf(params))), detail('Get the repository json (deprecated)'))
    .get('/properties', async ({ params }) => jsonReply(await repos.properties(refOf(params))), detail('Get repository properties'))
    .put(
      '/properties',
      async ({ params, request }) => {
        const ref = refOf(params);
        const body = decodeJson(await readLimited(request, opts.maxJsonSize));
        await repos.setProperties(ref, body.ok ? body.value : undefined);
        return jsonReply();
      },
      { parse: 'none', ...detail('Set repository properties (access: private | public)') },
    )
    .delete('/', deleteRepository, detail('Delete a repository and its tags'))
    .delete('/tags', deleteRepository, detail('Delete a repository and its tags'));
}
