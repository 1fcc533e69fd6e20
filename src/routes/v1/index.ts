/**
 * E21–E26: the standalone index (users, repository image lists, auth), as the original emulated
 * it: every account call succeeds and tokens are issued but never checked (auth: open).
 */
import { Elysia, t } from 'elysia';
import { RegistryError } from '../../errors.ts';
import { readLimited } from '../../http/body.ts';
import {
  indexTokenHeaders,
  jsonBody,
  openapiModels,
  operation,
  repoParams,
  tokenHeaders,
  userParams,
  v1Error,
} from '../../http/openapi.ts';
import { decodeJson } from '../../services/json.ts';
import { jsonReply, rawJsonReply } from '../../http/reply.ts';
import { encodedRepoName, repoRef } from '../../services/names.ts';
import type { RepositoryService } from '../../services/repositories.ts';

export interface IndexRouteOptions {
  maxJsonSize: number;
  /** X-Docker-Endpoints; empty means the request's Host header */
  endpoints: string;
}

type Access = 'read' | 'write' | 'delete';
type RepoParams = { namespace: string; repository: string };

const badName = v1Error(['INVALID_REPOSITORY_NAME']);
const badList = v1Error(
  ['INVALID_REPOSITORY_NAME', 'DECODE_JSON', 'INVALID_DATA', 'UPLOAD_ABORTED'],
  'Invalid data: not a list of objects with a string `id`',
);
const tooLarge = v1Error(['BODY_TOO_LARGE'], 'beyond max_json_size');
const text = (description: string) => t.String({ description });

const TOKEN_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function randomSignature(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => TOKEN_ALPHABET[b % TOKEN_ALPHABET.length]).join('');
}

export function indexRoutes(repos: RepositoryService, opts: IndexRouteOptions) {
  const indexHeaders = (request: Request, p: RepoParams, access: Access): Record<string, string> => {
    const repository = encodedRepoName(repoRef(p.namespace, p.repository));
    const token = `Token signature=${randomSignature()},repository="${repository}",access=${access}`;
    return {
      'x-docker-endpoints': opts.endpoints || request.headers.get('host') || 'localhost',
      'x-docker-token': token,
      'www-authenticate': token,
    };
  };
  const putImages = async (params: RepoParams, request: Request) => {
    const body = decodeJson(await readLimited(request, opts.maxJsonSize));
    if (!body.ok) throw new RegistryError('DECODE_JSON');
    await repos.putIndexImages(repoRef(params.namespace, params.repository), body.text, body.value);
  };

  return new Elysia({ name: 'routes.index' })
    .use(openapiModels)
    .get('/v1/users', () => jsonReply('OK'), {
      ...operation({
        operationId: 'getUsers',
        tag: 'index',
        summary: 'Login check (always OK in open mode)',
        responses: { 200: { description: 'The JSON string "OK"', body: text('"OK"') } },
      }),
    })
    .post(
      '/v1/users',
      async ({ request }) => {
        const body = decodeJson(await readLimited(request, opts.maxJsonSize));
        if (!body.ok) throw new RegistryError('DECODE_JSON');
        return jsonReply('User Created', 201);
      },
      {
        parse: 'none',
        ...operation({
          operationId: 'postUsers',
          tag: 'index',
          summary: 'Sign up (accepted without an account store in open mode)',
          requestBody: jsonBody('User', 'The account (any JSON document is accepted)'),
          responses: {
            201: { description: 'The JSON string "User Created"', body: text('"User Created"') },
            400: v1Error(['DECODE_JSON', 'UPLOAD_ABORTED']),
            413: tooLarge,
          },
        }),
      },
    )
    .put('/v1/users/:username', () => new Response(null, { status: 204 }), {
      parse: 'none',
      params: userParams,
      ...operation({
        operationId: 'putUser',
        tag: 'index',
        summary: 'Update a user (accepted in open mode)',
        description: 'The body (an account update) is not read.',
        responses: { 204: { description: 'Accepted (empty body)' } },
      }),
    })
    .group('/v1/repositories/:namespace/:repository', (app) =>
      app
        .put(
          '/',
          async ({ params, request }) => {
            await putImages(params, request);
            return jsonReply('', 200, indexHeaders(request, params, 'write'));
          },
          {
            parse: 'none',
            params: repoParams,
            headers: indexTokenHeaders,
            ...operation({
              operationId: 'putRepository',
              tag: 'index',
              summary: 'Create or update a repository with its image list',
              description: 'The first list is stored as sent; later ones are merged by id. Issues a write token.',
              requestBody: jsonBody('IndexImageList', 'The image list'),
              responses: {
                200: { description: 'The empty JSON string ""', body: text('""'), headers: tokenHeaders },
                400: badList,
                413: tooLarge,
              },
            }),
          },
        )
        .put(
          '/images',
          async ({ params, request }) => {
            await putImages(params, request);
            return new Response(null, { status: 204, headers: indexHeaders(request, params, 'write') });
          },
          {
            parse: 'none',
            params: repoParams,
            headers: indexTokenHeaders,
            ...operation({
              operationId: 'putRepositoryImages',
              tag: 'index',
              summary: "Update a repository's image list",
              description: 'Merged by id with the stored list (an entry with a checksum wins). Issues a write token.',
              requestBody: jsonBody('IndexImageList', 'The image list'),
              responses: {
                204: { description: 'Updated (empty body)', headers: tokenHeaders },
                400: badList,
                413: tooLarge,
              },
            }),
          },
        )
        .get(
          '/images',
          async ({ params, request }) =>
            rawJsonReply(
              await repos.indexImages(repoRef(params.namespace, params.repository)),
              200,
              indexHeaders(request, params, 'read'),
            ),
          {
            params: repoParams,
            headers: indexTokenHeaders,
            ...operation({
              operationId: 'getRepositoryImages',
              tag: 'index',
              summary: "Get a repository's image list",
              description: 'Issues a read token.',
              responses: {
                200: { description: 'The stored image list', body: 'IndexImageList', headers: tokenHeaders },
                400: badName,
                404: v1Error(['INDEX_IMAGES_NOT_FOUND'], 'no list was ever PUT'),
              },
            }),
          },
        )
        .delete(
          '/images',
          ({ params, request }) => {
            repoRef(params.namespace, params.repository);
            return new Response(null, { status: 204, headers: indexHeaders(request, params, 'delete') });
          },
          {
            params: repoParams,
            headers: indexTokenHeaders,
            ...operation({
              operationId: 'deleteRepositoryImages',
              tag: 'index',
              summary: 'Delete an image list (no effect, as in the original)',
              description: 'Issues a delete token; the client then deletes the repository on the registry.',
              responses: { 204: { description: 'Accepted (empty body)', headers: tokenHeaders }, 400: badName },
            }),
          },
        )
        .put(
          '/auth',
          ({ params }) => {
            repoRef(params.namespace, params.repository);
            return jsonReply('OK');
          },
          {
            parse: 'none',
            params: repoParams,
            ...operation({
              operationId: 'putRepositoryAuth',
              tag: 'index',
              summary: 'Repository auth check (always OK in open mode)',
              responses: { 200: { description: 'The JSON string "OK"', body: text('"OK"') }, 400: badName },
            }),
          },
        ),
    );
}
