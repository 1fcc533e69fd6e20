/** What the contracts of the V2 route modules share: the `{name}` parameter, the replies of token mode, the API version header. */
import { t } from 'elysia';
import { v2Error, type HeaderDoc, type Reply } from '../../http/openapi.ts';

/** `{name}`: checked by the services against the spec's grammar (NAME_INVALID), so any string here. */
export const nameParams = t.Object({
  name: t.String({ description: 'Repository name (`a/b/c`; one-part names mean `library/<name>`)' }),
});

/** Every V2 reply says which API it speaks. */
export const apiVersionHeader: Record<string, HeaderDoc> = {
  'Docker-Distribution-API-Version': { description: '`registry/2.0`' },
};

const challenge = (scope: string): Record<string, HeaderDoc> => ({
  'WWW-Authenticate': {
    description:
      `\`Bearer realm="<token endpoint>",service="<service>"${scope}\` (plus \`error="invalid_token"\` or ` +
      '`error="insufficient_scope"` when a token was sent): fetch a token there (GET /v2/token) and retry',
  },
});

/** The 401 of the API root in token mode: no valid token or Basic credentials at all. */
export const loginRequired: Reply = {
  ...v2Error(['V2_UNAUTHORIZED'], 'auth: token: no valid Bearer token or Basic credentials'),
  headers: challenge(''),
};

/** The 401 and 403 of a repository (or catalog) route in token mode. */
export const accessReplies = (scope: string): Record<401 | 403, Reply> => ({
  401: {
    ...v2Error(['V2_UNAUTHORIZED'], 'auth: token: no token, or one without the needed scope: the challenge names it'),
    headers: challenge(`,scope="${scope}"`),
  },
  403: v2Error(['V2_DENIED'], 'auth: token: the caller is known and the rules refuse the access'),
});

/** The replies of a route on `/v2/<name>/...` in token mode, for the actions it needs. */
export const repositoryAccess = (actions: string) => accessReplies(`repository:<name>:${actions}`);
