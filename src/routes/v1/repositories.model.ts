/** The models and parameters of the repository routes (repositories.ts). */
import { t, type Static } from 'elysia';
import { IMAGE_ID_PATTERN } from '../../domain/image-id.ts';
import { imageIdText, integer, repoParams } from '../../http/openapi.ts';

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
