/**
 * E11–E19: tags, repository json, properties, deletion. Declared for `:namespace/:repository`;
 * one-part names reach them as `library/<name>` (src/http/canonical-path.ts).
 */
import { Elysia } from 'elysia';
import { guardPlugin, repositoryCheck } from '../../http/auth.ts';
import { defineRoute, registerRoute } from '../../http/native-route.ts';
import { ROUTES } from '../../http/route-table.ts';
import { readLimited } from '../../http/body.ts';
import { jsonBody, ok, operation, repoParams, tokenRequired, v1Error, withAuthorization } from '../../http/openapi.ts';
import { models } from './models.ts';
import { tagParams, userAgentHeaders } from './repositories.model.ts';
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

const badName = v1Error(['INVALID_REPOSITORY_NAME']);
const authHeaders = withAuthorization();
const deleteReplies = {
  200: ok('Repository and its tags deleted'),
  400: badName,
  401: tokenRequired,
  404: v1Error(['REPOSITORY_NOT_FOUND']),
};

/**
 * The hot GETs (tags, tag), defined once: the app registers them (repositoryRoutes) and the server
 * dispatches them natively (app/fetch.ts nativeRoutes).
 */
export function repositoryDefinitions(repos: RepositoryService, auth: AuthService | null = null) {
  const guard = repositoryCheck(auth);
  return {
    guard,
    listTags: defineRoute({
      route: ROUTES.listTags,
      params: repoParams,
      headers: authHeaders,
      guard,
      handler: async ({ params }) => jsonReply(await repos.tags(refOf(params))),
      detail: operation({
        operationId: 'listTags',
        tag: 'repositories',
        summary: 'List the tags of a repository',
        responses: {
          200: { description: 'Tag name -> image id', body: 'TagMap' },
          400: badName,
          401: tokenRequired,
          404: v1Error(['REPOSITORY_NOT_FOUND']),
        },
      }),
    }),
    getTag: defineRoute({
      route: ROUTES.getTag,
      params: tagParams,
      headers: authHeaders,
      guard,
      handler: async ({ params }) => jsonReply(await repos.tag(refOf(params), params.tag)),
      detail: operation({
        operationId: 'getTag',
        tag: 'repositories',
        summary: 'Get the image id a tag points at',
        responses: {
          200: { description: 'The image id, as a JSON string', body: 'ImageId' },
          400: badName,
          401: tokenRequired,
          404: v1Error(['TAG_NOT_FOUND']),
        },
      }),
    }),
  };
}

export type RepositoryDefinitions = ReturnType<typeof repositoryDefinitions>;

export function repositoryRoutes(repos: RepositoryService, opts: RepositoryRouteOptions, defs: RepositoryDefinitions) {
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
        ...operation({
          operationId: 'putTag',
          tag: 'repositories',
          summary: 'Point a tag at an image',
          description: 'Creates the repository if needed. The image must exist (it may still be uploading).',
          requestBody: jsonBody('ImageId', 'The image id, as a JSON string'),
          responses: {
            200: ok('Tag set'),
            400: v1Error(
              ['INVALID_REPOSITORY_NAME', 'INVALID_TAG', 'INVALID_DATA', 'UPLOAD_ABORTED'],
              'Invalid data: the body is not a non-empty JSON string',
            ),
            401: tokenRequired,
            404: v1Error(['IMAGE_NOT_FOUND']),
            413: v1Error(['BODY_TOO_LARGE'], 'beyond max_json_size'),
          },
        }),
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
        ...operation({
          operationId: 'deleteTag',
          tag: 'repositories',
          summary: 'Delete a tag',
          responses: { 200: ok('Tag deleted'), 400: badName, 401: tokenRequired, 404: v1Error(['TAG_NOT_FOUND']) },
        }),
      },
    )
    .get(ROUTES.getTagJson.path, async ({ params }) => jsonReply(await repos.tagJson(refOf(params), params.tag)), {
      params: tagParams,
      headers: authHeaders,
      ...operation({
        operationId: 'getTagJson',
        tag: 'repositories',
        summary: 'Get the metadata of a tag',
        description: 'An unknown tag gives the default metadata (amd64/linux, other fields null), not a 404.',
        responses: { 200: { description: 'The tag metadata', body: 'TagMetadata' }, 400: badName, 401: tokenRequired },
      }),
    })
    .get(ROUTES.getRepositoryJson.path, async ({ params }) => jsonReply(await repos.repositoryJson(refOf(params))), {
      params: repoParams,
      headers: authHeaders,
      ...operation({
        operationId: 'getRepositoryJson',
        tag: 'repositories',
        summary: 'Get the repository json (deprecated)',
        description: "The `latest` tag's metadata, or the defaults.",
        responses: { 200: { description: 'The repository json', body: 'RepositoryJson' }, 400: badName, 401: tokenRequired },
      }),
    })
    .get(ROUTES.getRepositoryProperties.path, async ({ params }) => jsonReply(await repos.properties(refOf(params))), {
      params: repoParams,
      headers: authHeaders,
      ...operation({
        operationId: 'getRepositoryProperties',
        tag: 'repositories',
        summary: 'Get repository properties',
        description: 'An unknown repository is public.',
        responses: { 200: { description: 'The properties', body: 'Properties' }, 400: badName, 401: tokenRequired },
      }),
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
        ...operation({
          operationId: 'putRepositoryProperties',
          tag: 'repositories',
          summary: 'Set repository properties (access: private | public)',
          description: 'Other `access` values are accepted and change nothing.',
          requestBody: jsonBody('Properties', 'The new properties'),
          responses: {
            200: ok('Properties set'),
            400: v1Error(
              ['INVALID_REPOSITORY_NAME', 'INVALID_DATA', 'UPLOAD_ABORTED'],
              'Invalid data: the body is not an object with `access`',
            ),
            401: tokenRequired,
            413: v1Error(['BODY_TOO_LARGE'], 'beyond max_json_size'),
          },
        }),
      },
    )
    .delete(ROUTES.deleteRepository.path, deleteRepository, {
      params: repoParams,
      headers: authHeaders,
      ...operation({
        operationId: 'deleteRepository',
        tag: 'repositories',
        summary: 'Delete a repository and its tags',
        description: 'Removes the repository with its tags, properties and index image list; images are kept (they may be shared).',
        responses: deleteReplies,
      }),
    })
    .delete(ROUTES.deleteRepositoryTags.path, deleteRepository, {
      params: repoParams,
      headers: authHeaders,
      ...operation({
        operationId: 'deleteRepositoryTags',
        tag: 'repositories',
        summary: 'Delete a repository and its tags (same as deleteRepository)',
        responses: deleteReplies,
      }),
    });
}
