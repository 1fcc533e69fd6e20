/** The contract of the repository routes (repositories.ts): models, parameters, replies and OpenAPI operations. */
import { t, type Static } from 'elysia';
import { IMAGE_ID_PATTERN } from '../../domain/image-id.ts';
import { imageIdText, integer, jsonBody, ok, operation, repoParams, tokenRequired, v1Error } from '../../http/openapi.ts';

/** Tag metadata: fields from the pushing client's User-Agent; the defaults carry nulls. */
const tagMetadata = (description: string) => {
  const text = (d: string) => t.Optional(t.String({ description: d, nullable: true }));
  return t.Object(
    {
      arch: text("Architecture from the pushing client's User-Agent (`arch/...`)"),
      docker_go_version: text('Go version from the User-Agent (`go/...`)'),
      docker_version: text('Docker version from the User-Agent (`docker/...`)'),
      kernel: text('Kernel from the User-Agent (`kernel/...`)'),
      last_update: t.Optional(integer('Unix time of the last tag update', true)),
      os: text('Operating system from the User-Agent (`os/...`)'),
    },
    { description },
  );
};

export const repositoryModels = {
  ImageId: t.String({
    pattern: IMAGE_ID_PATTERN.source,
    description: `An image id: ${imageIdText}`,
    example: 'a5b1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5061728394a5b6c7d8e9',
  }),
  TagMap: t.Object({}, { additionalProperties: t.String({ description: 'An image id' }), description: 'Tag name -> image id' }),
  TagMetadata: tagMetadata('Metadata recorded when a tag was pushed (or defaults, with nulls, for an unknown tag)'),
  RepositoryJson: tagMetadata("The `latest` tag's metadata (or defaults, with nulls)"),
  Properties: t.Object(
    { access: t.String({ enum: ['private', 'public'], description: 'Repository visibility' }) },
    { description: 'Repository properties' },
  ),
};

/**
 * The metadata a tag PUT records (services/tag-metadata.ts builds it). The defaults' nulls are
 * not in the type: `nullable` is an OpenAPI 3.0 flag TypeBox's `Static` does not read.
 */
export type TagMetadata = Static<(typeof repositoryModels)['TagMetadata']>;

// --- parameters ---------------------------------------------------------------------------------

export const tagParams = t.Object({
  namespace: repoParams.properties.namespace,
  repository: repoParams.properties.repository,
  tag: t.String({ description: 'Tag name (a PUT requires ^[\\w][\\w.-]{0,127}$)' }),
});

export const userAgentHeaders = (why: string) =>
  t.Object({ 'user-agent': t.Optional(t.String({ description: `Client User-Agent: ${why}` })) });

// --- replies ------------------------------------------------------------------------------------

const badName = v1Error(['INVALID_REPOSITORY_NAME']);
const deleteReplies = {
  200: ok('Repository and its tags deleted'),
  400: badName,
  401: tokenRequired,
  404: v1Error(['REPOSITORY_NOT_FOUND']),
};

// --- operations ---------------------------------------------------------------------------------

/** The routes' OpenAPI operations, built afresh for each app, as for the twin that documents it (app/documentation.ts). */
export function repositoryDocs() {
  return {
    listTags: operation({
      operationId: 'listTags',
      tag: 'repositories',
      summary: 'List the tags of a repository',
      responses: {
        200: { description: 'Tag name -> image id', body: 'TagMap' },
        400: badName,
        401: tokenRequired,
        404: v1Error(['REPOSITORY_NOT_FOUND']),
      },
    }),
    getTag: operation({
      operationId: 'getTag',
      tag: 'repositories',
      summary: 'Get the image id a tag points at',
      responses: {
        200: { description: 'The image id, as a JSON string', body: 'ImageId' },
        400: badName,
        401: tokenRequired,
        404: v1Error(['TAG_NOT_FOUND']),
      },
    }),
    putTag: operation({
      operationId: 'putTag',
      tag: 'repositories',
      summary: 'Point a tag at an image',
      description: 'Creates the repository if needed. The image must exist (it may still be uploading).',
      requestBody: jsonBody('ImageId', 'The image id, as a JSON string'),
      responses: {
        200: ok('Tag set'),
        400: v1Error(
          ['INVALID_REPOSITORY_NAME', 'INVALID_TAG', 'INVALID_DATA', 'UPLOAD_ABORTED'],
          'Invalid data: the body is not a non-empty JSON string',
        ),
        401: tokenRequired,
        404: v1Error(['IMAGE_NOT_FOUND']),
        413: v1Error(['BODY_TOO_LARGE'], 'beyond max_json_size'),
      },
    }),
    deleteTag: operation({
      operationId: 'deleteTag',
      tag: 'repositories',
      summary: 'Delete a tag',
      responses: { 200: ok('Tag deleted'), 400: badName, 401: tokenRequired, 404: v1Error(['TAG_NOT_FOUND']) },
    }),
    getTagJson: operation({
      operationId: 'getTagJson',
      tag: 'repositories',
      summary: 'Get the metadata of a tag',
      description: 'An unknown tag gives the default metadata (amd64/linux, other fields null), not a 404.',
      responses: { 200: { description: 'The tag metadata', body: 'TagMetadata' }, 400: badName, 401: tokenRequired },
    }),
    getRepositoryJson: operation({
      operationId: 'getRepositoryJson',
      tag: 'repositories',
      summary: 'Get the repository json (deprecated)',
      description: "The `latest` tag's metadata, or the defaults.",
      responses: { 200: { description: 'The repository json', body: 'RepositoryJson' }, 400: badName, 401: tokenRequired },
    }),
    getRepositoryProperties: operation({
      operationId: 'getRepositoryProperties',
      tag: 'repositories',
      summary: 'Get repository properties',
      description: 'An unknown repository is public.',
      responses: { 200: { description: 'The properties', body: 'Properties' }, 400: badName, 401: tokenRequired },
    }),
    putRepositoryProperties: operation({
      operationId: 'putRepositoryProperties',
      tag: 'repositories',
      summary: 'Set repository properties (access: private | public)',
      description: 'Other `access` values are accepted and change nothing.',
      requestBody: jsonBody('Properties', 'The new properties'),
      responses: {
        200: ok('Properties set'),
        400: v1Error(
          ['INVALID_REPOSITORY_NAME', 'INVALID_DATA', 'UPLOAD_ABORTED'],
          'Invalid data: the body is not an object with `access`',
        ),
        401: tokenRequired,
        413: v1Error(['BODY_TOO_LARGE'], 'beyond max_json_size'),
      },
    }),
    deleteRepository: operation({
      operationId: 'deleteRepository',
      tag: 'repositories',
      summary: 'Delete a repository and its tags',
      description: 'Removes the repository with its tags, properties and index image list; images are kept (they may be shared).',
      responses: deleteReplies,
    }),
    deleteRepositoryTags: operation({
      operationId: 'deleteRepositoryTags',
      tag: 'repositories',
      summary: 'Delete a repository and its tags (same as deleteRepository)',
      responses: deleteReplies,
    }),
  };
}
