/** The contract of the standalone index routes (index.ts): models, parameters, replies and OpenAPI operations. */
import { t, type Static } from 'elysia';
import { catalogue } from '../../errors.ts';
import { basicRequired, jsonBody, operation, v1Error, type HeaderDoc } from '../../http/openapi.ts';

const IndexImage = t.Object(
  {
    id: t.String({ description: 'An image id' }),
    checksum: t.Optional(t.String({ description: 'The image payload checksum, when known' })),
  },
  { additionalProperties: true, description: 'An entry of an index image list' },
);

/** An entry of an index image list (services/repositories.ts validates and merges them). */
export type IndexImage = Static<typeof IndexImage>;

export const indexModels = {
  IndexImage,
  IndexImageList: t.Array(t.Ref('IndexImage'), {
    description: "A repository's image list: stored as first sent, later lists merged by id",
  }),
  User: t.Object(
    {
      username: t.Optional(t.String()),
      password: t.Optional(t.String()),
      email: t.Optional(t.String()),
    },
    { additionalProperties: true, description: 'An account as the Docker client sends it (not stored in open mode)' },
  ),
};

// --- parameters ---------------------------------------------------------------------------------

export const userParams = t.Object({ username: t.String({ description: 'Account name' }) });

export const indexTokenHeaders = t.Object({
  'x-docker-token': t.Optional(t.String({ description: '`true` to ask for a token; a token is always issued in open mode' })),
});

// --- replies ------------------------------------------------------------------------------------

/** The token headers of the index routes. */
const tokenHeaders: Record<string, HeaderDoc> = {
  'X-Docker-Endpoints': { description: 'Registry endpoints for the client (configured, or the request Host)' },
  'X-Docker-Token': {
    description:
      'Token signature=...,repository="ns/name",access=read|write|delete: in open mode a random signature, never checked; ' +
      'in token mode an HMAC-SHA256 signature with an extra `expires=<unix time>`, required by the registry routes',
  },
  'WWW-Authenticate': { description: 'The same token' },
};

const badName = v1Error(['INVALID_REPOSITORY_NAME']);
const badList = v1Error(
  ['INVALID_REPOSITORY_NAME', 'DECODE_JSON', 'INVALID_DATA', 'UPLOAD_ABORTED'],
  'Invalid data: not a list of objects with a string `id`',
);
const tooLarge = v1Error(['BODY_TOO_LARGE'], 'beyond max_json_size');
const text = (description: string) => t.String({ description });
const forbidden = v1Error(['FORBIDDEN'], 'auth: token: the login may not use this repository');
const signUpRefused = v1Error(
  ['DECODE_JSON', 'UPLOAD_ABORTED', 'INVALID_USER'],
  `token mode: ${catalogue.INVALID_USER.message} with a detail; a taken name is instead the bare JSON string ` +
    `"${catalogue.USERNAME_TAKEN.message}", which \`docker login\` expects before it logs in with Basic credentials`,
);

// --- operations ---------------------------------------------------------------------------------

/** The routes' OpenAPI operations, built afresh for each app, as for the twin that documents it (app/documentation.ts). */
export function indexDocs() {
  return {
    getUsers: operation({
      operationId: 'getUsers',
      tag: 'index',
      summary: 'Login check (always OK in open mode; Basic credentials checked in token mode)',
      responses: {
        200: { description: 'The JSON string "OK"', body: text('"OK"') },
        401: basicRequired(['LOGIN_REQUIRED', 'BAD_CREDENTIALS']),
      },
    }),
    postUsers: operation({
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
    putUser: operation({
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
    putRepository: operation({
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
    putRepositoryImages: operation({
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
    getRepositoryImages: operation({
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
    deleteRepositoryImages: operation({
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
    putRepositoryAuth: operation({
      operationId: 'putRepositoryAuth',
      tag: 'index',
      summary: 'Repository auth check (always OK in open mode)',
      responses: { 200: { description: 'The JSON string "OK"', body: text('"OK"') }, 400: badName },
    }),
  };
}
