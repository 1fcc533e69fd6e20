/** The contract of the V2 token routes (token.ts): parameters, replies and OpenAPI operations. */
import { t, type Static } from 'elysia';
import { integer, operation, v2Error, type Reply } from '../../http/openapi.ts';

/**
 * A fresh schema per call: the serving app compiles the operation's response schema and Elysia
 * then adds `additionalProperties: false` to it, which must not reach the document's twin
 * (app/documentation.ts).
 */
const tokenReplySchema = () =>
  t.Object(
    {
      token: t.String({ description: 'A Bearer token (JWT, HS256) for `Authorization: Bearer <token>` on /v2/' }),
      access_token: t.String({ description: 'The same token, under its OAuth2 name' }),
      expires_in: integer('Seconds the token stays valid (token_ttl)'),
      issued_at: t.String({ description: 'When it was issued (RFC 3339, UTC)' }),
    },
    { description: 'A token granting, of the requested scopes, the actions the caller is allowed (possibly none)' },
  );

/** The reply of GET and POST /v2/token. */
export type TokenReply = Static<ReturnType<typeof tokenReplySchema>>;

// --- parameters ---------------------------------------------------------------------------------

// documentation only: the route reads the query itself (Elysia would split `pull,push` at the comma)
export const tokenQuery = t.Object({
  service: t.Optional(t.String({ description: 'The service of the challenge (token_service, or the registry host); a different one is 400 when token_service is set' })),
  scope: t.Optional(
    t.Array(t.String(), {
      description:
        'Repeatable: `repository:<name>:<actions>` (actions among pull, push, delete, `*`; a one-part name means ' +
        'library/<name>) or `registry:catalog:*`; several may be space-separated. Unknown types and actions are ignored.',
    }),
  ),
  account: t.Optional(t.String({ description: 'The account the client logs in as (informative; the credentials decide)' })),
  client_id: t.Optional(t.String({ description: 'Informative' })),
  offline_token: t.Optional(t.String({ description: 'Ignored: no refresh tokens are issued' })),
});

export const tokenHeaders = t.Object({
  authorization: t.Optional(t.String({ description: '`Basic <base64 user:password>`; none for an anonymous token (when anonymous_read is on)' })),
});

// --- replies ------------------------------------------------------------------------------------

const invalidRequest =
  'a scope outside the grammar (invalid_scope, RFC 6749 §5.2), a service this registry is not, or (POST) a bad form or grant';
const unauthorized: Reply = {
  ...v2Error(['V2_UNAUTHORIZED'], 'wrong credentials, or none while anonymous_read is off'),
  headers: { 'WWW-Authenticate': { description: '`Basic realm="registry"`' } },
};

// --- operations ---------------------------------------------------------------------------------

/** The routes' OpenAPI operations, built afresh for each app, as for the twin that documents it (app/documentation.ts). */
export function tokenDocs() {
  const tokenOk: Reply = { description: 'The token', body: tokenReplySchema() };
  return {
    getToken: operation({
      operationId: 'getToken',
      tag: 'v2',
      summary: 'V2 Bearer token (Docker token flow; auth: token only)',
      description:
        'The realm of the `WWW-Authenticate: Bearer` challenges of /v2/. Basic credentials or none (anonymous); ' +
        'the token carries, for each scope, the requested actions the V1 rules allow: pull = read (public repositories, ' +
        'private ones to their owner and admins), push and delete = the own namespace (admins anywhere), the catalog to admins.',
      responses: { 200: tokenOk, 400: v2Error(['V2_TOKEN_REQUEST_INVALID'], invalidRequest), 401: unauthorized },
    }),
    postToken: operation({
      operationId: 'postToken',
      tag: 'v2',
      summary: 'V2 Bearer token, OAuth2 password grant (auth: token only)',
      description:
        'Form `grant_type=password&username=&password=&service=&scope=` (scopes space-separated), as in ' +
        "distribution's oauth.md; the same grants and reply as GET. `refresh_token` grants are not supported (400).",
      requestBody: {
        required: true,
        content: {
          'application/x-www-form-urlencoded': {
            schema: {
              type: 'object',
              required: ['grant_type'],
              properties: {
                grant_type: { type: 'string', enum: ['password'] },
                username: { type: 'string' },
                password: { type: 'string' },
                service: { type: 'string' },
                scope: { type: 'string', description: 'Space-separated scopes' },
                client_id: { type: 'string' },
                access_type: { type: 'string', description: 'Ignored: no refresh tokens are issued' },
              },
            },
          },
        },
      },
      responses: { 200: tokenOk, 400: v2Error(['V2_TOKEN_REQUEST_INVALID', 'UPLOAD_ABORTED'], invalidRequest), 401: unauthorized, 413: v2Error(['BODY_TOO_LARGE']) },
    }),
  };
}
