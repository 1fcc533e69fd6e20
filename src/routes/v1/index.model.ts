/** The models, parameters and shared replies of the standalone index routes (index.ts). */
import { t, type Static } from 'elysia';
import type { HeaderDoc } from '../../http/openapi.ts';

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
export const tokenHeaders: Record<string, HeaderDoc> = {
  'X-Docker-Endpoints': { description: 'Registry endpoints for the client (configured, or the request Host)' },
  'X-Docker-Token': {
    description:
      'Token signature=...,repository="ns/name",access=read|write|delete: in open mode a random signature, never checked; ' +
      'in token mode an HMAC-SHA256 signature with an extra `expires=<unix time>`, required by the registry routes',
  },
  'WWW-Authenticate': { description: 'The same token' },
};
