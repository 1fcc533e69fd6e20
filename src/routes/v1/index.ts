/**
 * E21–E26: the standalone index (users, repository image lists, auth). With `auth: open` as the
 * original emulated it: every account call succeeds and tokens are issued but never checked.
 * With `auth: token` accounts are real (Basic credentials) and the tokens come signed from the
 * AuthService, which also decides who may read or write a repository.
 */
import { Elysia } from 'elysia';
import { RegistryError } from '../../errors.ts';
import { ROUTES } from '../../http/route-table.ts';
import { readLimited } from '../../http/body.ts';
import { repoParams, withAuthorization } from '../../http/openapi.ts';
import { indexDocs, indexTokenHeaders, userParams } from './index.model.ts';
import { models } from '../models.ts';
import { decodeJson } from '../../services/json.ts';
import { jsonReply, rawJsonReply } from '../../http/reply.ts';
import { encodedRepoName, repoRef } from '../../services/names.ts';
import type { AuthService } from '../../services/auth.ts';
import type { RepositoryService } from '../../services/repositories.ts';

export interface IndexRouteOptions {
  maxJsonSize: number;
  /** X-Docker-Endpoints; empty means the request's Host header */
  endpoints: string;
  /** auth: token; null (open mode) keeps the original's behaviour */
  auth?: AuthService | null;
}

type Access = 'read' | 'write' | 'delete';
type RepoParams = { namespace: string; repository: string };

const loginHeaders = withAuthorization(indexTokenHeaders);

const TOKEN_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function randomSignature(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => TOKEN_ALPHABET[b % TOKEN_ALPHABET.length]).join('');
}

export function indexRoutes(repos: RepositoryService, opts: IndexRouteOptions) {
  const auth = opts.auth ?? null;
  const docs = indexDocs();
  /** Checks the caller (token mode) and builds generate_headers(access). */
  const indexHeaders = async (request: Request, p: RepoParams, access: Access): Promise<Record<string, string>> => {
    const ref = repoRef(p.namespace, p.repository);
    const token = auth
      ? await auth.indexToken(request.headers.get('authorization'), ref, access)
      : `Token signature=${randomSignature()},repository="${encodedRepoName(ref)}",access=${access}`;
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
    .use(models)
    .get(
      ROUTES.getUsers.path,
      async ({ request }) => {
        if (auth) await auth.requireUser(request.headers.get('authorization'));
        return jsonReply('OK');
      },
      {
        headers: withAuthorization(),
        ...docs.getUsers,
      },
    )
    .post(
      ROUTES.postUsers.path,
      async ({ request }) => {
        const body = decodeJson(await readLimited(request, opts.maxJsonSize));
        if (!body.ok) throw new RegistryError('DECODE_JSON');
        // a taken name answers the bare JSON string docker login expects (the catalogue marks it)
        if (auth) await auth.signUp(body.value);
        return jsonReply('User Created', 201);
      },
      {
        parse: 'none',
        ...docs.postUsers,
      },
    )
    .put(
      ROUTES.putUser.path,
      async ({ params, request }) => {
        if (auth) {
          const caller = await auth.requireUser(request.headers.get('authorization'));
          const body = decodeJson(await readLimited(request, opts.maxJsonSize));
          if (!body.ok) throw new RegistryError('DECODE_JSON');
          await auth.updateAccount(caller, params.username, body.value);
        }
        return new Response(null, { status: 204 });
      },
      {
        parse: 'none',
        params: userParams,
        headers: withAuthorization(),
        ...docs.putUser,
      },
    )
    .put(
      ROUTES.putRepository.path,
      async ({ params, request }) => {
        // token mode checks the caller before reading the body; open mode keeps the original order
        const checked = auth ? await indexHeaders(request, params, 'write') : null;
        await putImages(params, request);
        return jsonReply('', 200, checked ?? (await indexHeaders(request, params, 'write')));
      },
      {
        parse: 'none',
        params: repoParams,
        headers: loginHeaders,
        ...docs.putRepository,
      },
    )
    .put(
      ROUTES.putRepositoryImages.path,
      async ({ params, request }) => {
        const checked = auth ? await indexHeaders(request, params, 'write') : null;
        await putImages(params, request);
        return new Response(null, { status: 204, headers: checked ?? (await indexHeaders(request, params, 'write')) });
      },
      {
        parse: 'none',
        params: repoParams,
        headers: loginHeaders,
        ...docs.putRepositoryImages,
      },
    )
    .get(
      ROUTES.getRepositoryImages.path,
      async ({ params, request }) => {
        const headers = await indexHeaders(request, params, 'read');
        return rawJsonReply(await repos.indexImages(repoRef(params.namespace, params.repository)), 200, headers);
      },
      {
        params: repoParams,
        headers: loginHeaders,
        ...docs.getRepositoryImages,
      },
    )
    .delete(
      ROUTES.deleteRepositoryImages.path,
      async ({ params, request }) =>
        new Response(null, { status: 204, headers: await indexHeaders(request, params, 'delete') }),
      {
        params: repoParams,
        headers: loginHeaders,
        ...docs.deleteRepositoryImages,
      },
    )
    .put(
      ROUTES.putRepositoryAuth.path,
      ({ params }) => {
        repoRef(params.namespace, params.repository);
        return jsonReply('OK');
      },
      {
        parse: 'none',
        params: repoParams,
        ...docs.putRepositoryAuth,
      },
    );
}
