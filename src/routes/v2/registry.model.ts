/** The contract of the V2 registry routes (registry.ts): models, parameters, replies and OpenAPI operations. */
import { t } from 'elysia';
import { OCI_INDEX } from '../../domain/manifest.ts';
import { integer, operation, v2Error, type HeaderDoc } from '../../http/openapi.ts';
import { accessReplies, apiVersionHeader, loginRequired, nameParams, repositoryAccess } from './common.model.ts';

export const registryModels = {
  Catalog: t.Object(
    { repositories: t.Array(t.String(), { description: 'Repository names, in byte order' }) },
    { description: 'One page of the repositories of the registry', example: { repositories: ['library/alpine', 'team/app'] } },
  ),
  TagList: t.Object(
    {
      name: t.String({ description: 'The repository name, as requested' }),
      tags: t.Array(t.String(), { description: 'Tag names, in byte order' }),
    },
    { description: 'One page of the tags of a repository', example: { name: 'team/app', tags: ['1.0', 'latest'] } },
  ),
  ReferrersIndex: t.Object(
    {
      schemaVersion: integer('Always 2'),
      mediaType: t.String({ description: `\`${OCI_INDEX}\`` }),
      manifests: t.Array(t.Ref('Descriptor'), {
        description: 'A descriptor of each referrer: its media type, digest, size, `artifactType` and annotations',
      }),
    },
    { description: 'The manifests whose subject is the digest, as an OCI image index' },
  ),
};

// --- parameters ---------------------------------------------------------------------------------

export const pageQuery = t.Object({
  n: t.Optional(t.String({ description: 'At most this many entries (a non-negative integer)' })),
  last: t.Optional(t.String({ description: 'Only entries after this one (byte order): the last entry of the previous page' })),
});

export const referrersParams = t.Object({
  name: nameParams.properties.name,
  digest: t.String({ description: 'The subject: `sha256:<64 hex>` or `sha512:<128 hex>`' }),
});

export const referrersQuery = t.Object({
  artifactType: t.Optional(t.String({ description: 'Only referrers of this artifact type' })),
});

// --- replies ------------------------------------------------------------------------------------

const linkHeader: Record<string, HeaderDoc> = {
  ...apiVersionHeader,
  Link: { description: 'When the page is full (`n` entries): `</v2/...?n=<n>&last=<last entry>>; rel="next"`' },
};

const badPage = 'n is not a non-negative integer';

// --- operations ---------------------------------------------------------------------------------

/** The routes' OpenAPI operations, built afresh for each app, as for the twin that documents it (app/documentation.ts). */
export function registryDocs() {
  return {
    base: operation({
      operationId: 'v2Base',
      tag: 'v2',
      summary: 'The V2 API version check',
      description: 'Docker checks it (and its `Docker-Distribution-API-Version` header) before a push or pull, and `docker login` logs in here.',
      responses: {
        200: { description: '`{}`: the registry speaks V2', body: t.Object({}, { description: 'An empty object' }), headers: apiVersionHeader },
        401: loginRequired,
      },
    }),
    catalog: operation({
      operationId: 'v2Catalog',
      tag: 'v2',
      summary: 'List repositories, paged',
      description: 'Every repository of the registry (V1 and V2 pushes share them). In token mode only admins may list it.',
      responses: {
        200: { description: 'One page of repositories', body: 'Catalog', headers: linkHeader },
        400: v2Error(['BAD_REQUEST'], badPage),
        ...accessReplies('registry:catalog:*'),
      },
    }),
    tags: operation({
      operationId: 'v2ListTags',
      tag: 'v2',
      summary: 'List the tags of a repository, paged',
      responses: {
        200: { description: 'One page of tags', body: 'TagList', headers: linkHeader },
        400: v2Error(['V2_NAME_INVALID', 'BAD_REQUEST'], `a malformed name; ${badPage}`),
        ...repositoryAccess('pull'),
        404: v2Error(['V2_NAME_UNKNOWN'], 'no such repository'),
      },
    }),
    referrers: operation({
      operationId: 'v2Referrers',
      tag: 'v2',
      summary: 'List the manifests whose subject is a digest (`?artifactType=` filters)',
      description: 'An unknown digest has no referrers: an empty index, not a 404.',
      responses: {
        200: {
          description: 'An OCI image index of their descriptors',
          body: 'ReferrersIndex',
          mediaType: OCI_INDEX,
          headers: { ...apiVersionHeader, 'OCI-Filters-Applied': { description: '`artifactType` when the list was filtered by it' } },
        },
        400: v2Error(['V2_NAME_INVALID', 'V2_DIGEST_INVALID'], 'a malformed name or digest'),
        ...repositoryAccess('pull'),
      },
    }),
  };
}
