/**
 * GET and POST /v2/token (auth: token only): the token endpoint of Docker's token flow, the
 * `realm` of the Bearer challenges the /v2/ routes answer (services/bearer.ts decides what a
 * token grants). GET takes Basic credentials or none (token.md "Requesting a Token"); POST takes
 * the OAuth2 password grant form (oauth.md "Getting a token"), which containerd tries first.
 */
import { Elysia } from 'elysia';
import { RegistryError } from '../../errors.ts';
import { readLimited } from '../../http/body.ts';
import { jsonReply } from '../../http/reply.ts';
import { ROUTES } from '../../http/route-table.ts';
import type { BearerService, IssuedToken } from '../../services/bearer.ts';
import { models } from '../models.ts';
import { tokenDocs, tokenHeaders, tokenQuery, type TokenReply } from './token.model.ts';

/** A token form is a few hundred bytes; this leaves room for long scope lists. */
const MAX_FORM_SIZE = 64 * 1024;

/** RFC 6749 §5.1: token replies must not be cached. */
function tokenReply(issued: IssuedToken): Response {
  const body: TokenReply = { token: issued.token, access_token: issued.token, expires_in: issued.expiresIn, issued_at: issued.issuedAt };
  return jsonReply(body, 200, { 'cache-control': 'no-store' });
}

const invalid = (detail: string) => new RegistryError('V2_TOKEN_REQUEST_INVALID', detail);

export function tokenRoutes(bearer: BearerService) {
  const docs = tokenDocs();
  return new Elysia({ name: 'routes.v2.token' })
    .use(models)
    .get(
      ROUTES.getToken.path,
      async ({ request }) => {
        // read from the URL, not `query`: Elysia would split a `scope=repository:a/b:pull,push` at the comma
        const url = new URL(request.url);
        const issued = await bearer.issue(request.headers.get('authorization'), {
          service: url.searchParams.get('service'),
          scopes: url.searchParams.getAll('scope'),
          origin: url.origin,
        });
        return tokenReply(issued);
      },
      {
        query: tokenQuery,
        headers: tokenHeaders,
        ...docs.getToken,
      },
    )
    .post(
      ROUTES.postToken.path,
      async ({ request }) => {
        const form = new URLSearchParams(new TextDecoder().decode(await readLimited(request, MAX_FORM_SIZE)));
        const grant = form.get('grant_type');
        if (grant === 'refresh_token') throw invalid('unsupported_grant_type: no refresh tokens are issued; use grant_type=password');
        if (grant !== 'password') throw invalid('unsupported_grant_type: expected grant_type=password');
        const username = form.get('username');
        const password = form.get('password');
        if (username === null || password === null) throw invalid('invalid_request: username and password are required');
        const tokenRequest = { service: form.get('service'), scopes: form.getAll('scope'), origin: new URL(request.url).origin };
        return tokenReply(await bearer.issueForPassword(username, password, tokenRequest));
      },
      {
        parse: 'none',
        ...docs.postToken,
      },
    );
}
