/**
 * E21–E26: the standalone index (users, repository image lists, auth). With `auth: open` as the
 * original emulated it: every account call succeeds and tokens are issued but never checked.
 * With `auth: token` accounts are real (Basic credentials) and the tokens come signed from the
 * AuthService, which also decides who may read or write a repository.
 */
import { Elysia, t } from 'elysia';
import { catalogue, RegistryError } from '../../errors.ts';
import { ROUTES } from '../../http/route-table.ts';
import { readLimited } from '../../http/body.ts';
import { basicRequired, jsonBody, operation, repoParams, v1Error, withAuthorization } from '../../http/openapi.ts';
import { indexTokenHeaders, tokenHeaders, userParams } from './index.model.ts';
import { models } from './models.ts';
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

const badName = v1Error(['INVALID_REPOSITORY_NAME']);
const badList = v1Error(
  ['INVALID_REPOSITORY_NAME', 'DECODE_JSON', 'INVALID_DATA', 'UPLOAD_ABORTED'],
  'Invalid data: not a list of objects with a string `id`',
);
const tooLarge = v1Error(['BODY_TOO_LARGE'], 'beyond max_json_size');
const text = (description: string) => t.String({ description });
const forbidden = v1Error(['FORBIDDEN'], 'auth: token: the login may not use this repository');
const loginHeaders = withAuthorization(indexTokenHeaders);
const signUpRefused = v1Error(
  ['DECODE_JSON', 'UPLOAD_ABORTED', 'INVALID_USER'],
  `token mode: ${catalogue.INVALID_USER.message} with a detail; a taken name is instead the bare JSON string ` +
    `"${catalogue.USERNAME_TAKEN.message}", which \`docker login\` expects before it logs in with Basic credentials`,
);

const TOKEN_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function randomSignature(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => TOKEN_ALPHABET[b % TOKEN_ALPHABET.length]).join('');
}

export function indexRoutes(repos: RepositoryService, opts: IndexRouteOptions) {
  const auth = opts.auth ?? null;
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
        ...operation({
          operationId: 'getUsers',
          tag: 'index',
          summary: 'Login check (always OK in open mode; Basic credentials checked in token mode)',
          responses: {
            200: { description: 'The JSON string "OK"', body: text('"OK"') },
            401: basicRequired(['LOGIN_REQUIRED', 'BAD_CREDENTIALS']),
          },
        }),
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
        ...operation({
          operationId: 'postUsers',
          tag: 'index',
          summary: 'Sign up (accepted without an account store in open mode)',
          description:
            'Open mode: any JSON document is accepted and nothing is stored. Token mode: `{username, password, email}` ' +
            'creates an account (username ^[a-z0-9_]{4,30}$, password 1 to 1024 characters, email with @, at most 254).',
          requestBody: jsonBody('User', 'The account'),
          responses: {
            201: { description: 'The JSON string "User Created"', body: text('"User Created"') },
            400: signUpRefused,
            413: tooLarge,
          },
        }),
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
        ...operation({
          operationId: 'putUser',
          tag: 'index',
          summary: 'Update a user (accepted in open mode; your own email/password in token mode)',
          description:
            'Open mode: the body is not read. Token mode: Basic credentials of that same user, body `{email?, password?}`.',
          requestBody: jsonBody('User', 'The changes (token mode): email and/or password'),
          responses: {
            204: { description: 'Accepted (empty body)' },
            400: v1Error(['DECODE_JSON', 'INVALID_USER', 'UPLOAD_ABORTED'], 'token mode'),
            401: basicRequired(['LOGIN_REQUIRED', 'BAD_CREDENTIALS']),
            403: v1Error(['FORBIDDEN'], 'token mode: another user'),
            413: tooLarge,
          },
        }),
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
        ...operation({
          operationId: 'putRepository',
          tag: 'index',
          summary: 'Create or update a repository with its image list',
          description:
            'The first list is stored as sent; later ones are merged by id. Issues a write token (token mode: Basic ' +
            'credentials of the namespace owner or an admin).',
          requestBody: jsonBody('IndexImageList', 'The image list'),
          responses: {
            200: { description: 'The empty JSON string ""', body: text('""'), headers: tokenHeaders },
            400: badList,
            401: basicRequired(['LOGIN_REQUIRED', 'BAD_CREDENTIALS']),
            403: forbidden,
            413: tooLarge,
          },
        }),
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
        ...operation({
          operationId: 'putRepositoryImages',
          tag: 'index',
          summary: "Update a repository's image list",
          description: 'Merged by id with the stored list (an entry with a checksum wins). Issues a write token.',
          requestBody: jsonBody('IndexImageList', 'The image list'),
          responses: {
            204: { description: 'Updated (empty body)', headers: tokenHeaders },
            400: badList,
            401: basicRequired(['LOGIN_REQUIRED', 'BAD_CREDENTIALS']),
            403: forbidden,
            413: tooLarge,
          },
        }),
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
        ...operation({
          operationId: 'getRepositoryImages',
          tag: 'index',
          summary: "Get a repository's image list",
          description:
            'Issues a read token (token mode: Basic credentials, or none for a public repository when anonymous reads are on; ' +
            'a private repository only for its owner and admins).',
          responses: {
            200: { description: 'The stored image list', body: 'IndexImageList', headers: tokenHeaders },
            400: badName,
            401: basicRequired(['LOGIN_REQUIRED', 'BAD_CREDENTIALS']),
            403: forbidden,
            404: v1Error(['INDEX_IMAGES_NOT_FOUND'], 'no list was ever PUT'),
          },
        }),
      },
    )
    .delete(
      ROUTES.deleteRepositoryImages.path,
      async ({ params, request }) =>
        new Response(null, { status: 204, headers: await indexHeaders(request, params, 'delete') }),
      {
        params: repoParams,
        headers: loginHeaders,
        ...operation({
          operationId: 'deleteRepositoryImages',
          tag: 'index',
          summary: 'Delete an image list (no effect, as in the original)',
          description: 'Issues a delete token; the client then deletes the repository on the registry.',
          responses: {
            204: { description: 'Accepted (empty body)', headers: tokenHeaders },
            400: badName,
            401: basicRequired(['LOGIN_REQUIRED', 'BAD_CREDENTIALS']),
            403: forbidden,
          },
        }),
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
        ...operation({
          operationId: 'putRepositoryAuth',
          tag: 'index',
          summary: 'Repository auth check (always OK in open mode)',
          responses: { 200: { description: 'The JSON string "OK"', body: text('"OK"') }, 400: badName },
        }),
      },
    );
}
