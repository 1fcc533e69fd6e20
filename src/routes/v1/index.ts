/**
 * E21–E26: the standalone index (users, repository image lists, auth), as the original emulated
 * it: every account call succeeds and tokens are issued but never checked (auth: open).
 */
import { Elysia } from 'elysia';
import { RegistryError } from '../../errors.ts';
import { readLimited } from '../../http/body.ts';
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

const TOKEN_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function randomSignature(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => TOKEN_ALPHABET[b % TOKEN_ALPHABET.length]).join('');
}

export function indexRoutes(repos: RepositoryService, opts: IndexRouteOptions) {
  const detail = (summary: string) => ({ detail: { tags: ['index'], summary } });
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
    .get('/v1/users', () => jsonReply('OK'), detail('Login check (always OK in open mode)'))
    .post(
      '/v1/users',
      async ({ request }) => {
        const body = decodeJson(await readLimited(request, opts.maxJsonSize));
        if (!body.ok) throw new RegistryError('DECODE_JSON');
        return jsonReply('User Created', 201);
      },
      { parse: 'none', ...detail('Sign up (accepted without an account store in open mode)') },
    )
    .put('/v1/users/:username', () => new Response(null, { status: 204 }), {
      parse: 'none',
      ...detail('Update a user (accepted in open mode)'),
    })
    .group('/v1/repositories/:namespace/:repository', (app) =>
      app
        .put(
          '/',
          async ({ params, request }) => {
            await putImages(params, request);
            return jsonReply('', 200, indexHeaders(request, params, 'write'));
          },
          { parse: 'none', ...detail('Create or update a repository with its image list') },
        )
        .put(
          '/images',
          async ({ params, request }) => {
            await putImages(params, request);
            return new Response(null, { status: 204, headers: indexHeaders(request, params, 'write') });
          },
          { parse: 'none', ...detail("Update a repository's image list") },
        )
        .get(
          '/images',
          async ({ params, request }) =>
            rawJsonReply(
              await repos.indexImages(repoRef(params.namespace, params.repository)),
              200,
              indexHeaders(request, params, 'read'),
            ),
          detail("Get a repository's image list"),
        )
        .delete(
          '/images',
          ({ params, request }) => {
            repoRef(params.namespace, params.repository);
            return new Response(null, { status: 204, headers: indexHeaders(request, params, 'delete') });
          },
          detail('Delete an image list (no effect, as in the original)'),
        )
        .put(
          '/auth',
          ({ params }) => {
            repoRef(params.namespace, params.repository);
            return jsonReply('OK');
          },
          { parse: 'none', ...detail('Repository auth check (always OK in open mode)') },
        ),
    );
}
