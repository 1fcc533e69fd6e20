/** The contract of the V2 manifest routes (manifests.ts): models, parameters, replies and OpenAPI operations. */
import { t } from 'elysia';
import { DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST } from '../../domain/manifest.ts';
import { integer, mediaBody, operation, v2Error, type ModelName } from '../../http/openapi.ts';
import { apiVersionHeader, nameParams, repositoryAccess } from './common.model.ts';

const annotations = t.Optional(
  t.Object({}, { additionalProperties: t.String(), description: 'Arbitrary string metadata (`org.opencontainers.*` keys are reserved)' }),
);

/** The manifest this one refers to (the referrers API lists it) */
const subject = t.Optional(t.Ref('Descriptor'));

export const manifestModels = {
  Descriptor: t.Object(
    {
      mediaType: t.String({ description: 'The media type of the content' }),
      digest: t.String({ description: 'Its digest (`sha256:<hex>` or `sha512:<hex>`)' }),
      size: integer('Its size in bytes'),
      artifactType: t.Optional(t.String({ description: 'The artifact type, for an artifact manifest' })),
      annotations,
      urls: t.Optional(t.Array(t.String(), { description: 'Where else the content may be fetched' })),
      platform: t.Optional(
        t.Object(
          {
            architecture: t.String({ description: 'CPU architecture (`amd64`, `arm64`, ...)' }),
            os: t.String({ description: 'Operating system (`linux`, `windows`, ...)' }),
            variant: t.Optional(t.String({ description: 'CPU variant (`v8`, ...)' })),
          },
          { description: 'The platform of an image (in an index)' },
        ),
      ),
    },
    { description: 'A content descriptor (OCI image-spec): what a manifest points at' },
  ),
  ImageManifest: t.Object(
    {
      schemaVersion: integer('Always 2'),
      mediaType: t.Optional(t.String({ description: `\`${OCI_MANIFEST}\` or \`${DOCKER_MANIFEST}\` (else the Content-Type decides)` })),
      artifactType: t.Optional(t.String({ description: 'The artifact type (an artifact manifest)' })),
      config: t.Ref('Descriptor'),
      layers: t.Array(t.Ref('Descriptor'), { description: 'The layers, base first (blobs of the repository)' }),
      subject,
      annotations,
    },
    { description: 'An image manifest (OCI image manifest or Docker schema 2 manifest): every blob it names must be in the repository' },
  ),
  ImageIndex: t.Object(
    {
      schemaVersion: integer('Always 2'),
      mediaType: t.Optional(t.String({ description: `\`${OCI_INDEX}\` or \`${DOCKER_MANIFEST_LIST}\` (else the Content-Type decides)` })),
      artifactType: t.Optional(t.String({ description: 'The artifact type' })),
      manifests: t.Array(t.Ref('Descriptor'), { description: 'The manifests it lists (manifests of the repository)' }),
      subject,
      annotations,
    },
    { description: 'An image index (OCI image index or Docker manifest list): every manifest it names must be in the repository' },
  ),
};

// --- parameters ---------------------------------------------------------------------------------

export const manifestParams = t.Object({
  name: nameParams.properties.name,
  reference: t.String({ description: 'A tag (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`) or a digest' }),
});

// --- replies ------------------------------------------------------------------------------------

/** The manifest media types the registry stores, with their models. */
const MANIFEST_MEDIA: Record<string, ModelName> = {
  [OCI_MANIFEST]: 'ImageManifest',
  [OCI_INDEX]: 'ImageIndex',
  [DOCKER_MANIFEST]: 'ImageManifest',
  [DOCKER_MANIFEST_LIST]: 'ImageIndex',
};

const badReference = v2Error(['V2_NAME_INVALID', 'V2_DIGEST_INVALID'], 'a malformed name, or a reference with a colon that is no digest');

// --- operations ---------------------------------------------------------------------------------

/** The routes' OpenAPI operations, built afresh for each app, as for the twin that documents it (app/documentation.ts). */
export function manifestDocs() {
  return {
    get: operation({
      operationId: 'v2GetManifest',
      tag: 'v2',
      summary: 'Fetch a manifest by tag or digest (HEAD: only its headers)',
      description:
        'The manifest byte for byte as pushed, with its own media type (whatever the Accept header). A tag of a V1 push ' +
        'gets a Docker schema 2 manifest derived from the V1 image. A name that cannot be a tag names nothing (404). ' +
        'HEAD answers the same headers, Content-Length included, without the body.',
      responses: {
        200: {
          description: 'The manifest',
          media: MANIFEST_MEDIA,
          headers: {
            ...apiVersionHeader,
            'Docker-Content-Digest': { description: 'The digest of the manifest' },
            'Content-Length': { description: 'Its size in bytes', schema: { type: 'integer' } },
            ETag: { description: 'The digest, quoted' },
          },
        },
        400: v2Error(
          ['V2_NAME_INVALID', 'V2_DIGEST_INVALID', 'V2_BRIDGE_UNSUPPORTED'],
          'a malformed name or digest; a V1 image whose layers cannot be served through V2',
        ),
        ...repositoryAccess('pull'),
        404: v2Error(['V2_MANIFEST_UNKNOWN']),
        503: v2Error(['STORAGE_FAILURE'], 'reading a V1 layer for its V2 manifest'),
      },
    }),
    put: operation({
      operationId: 'v2PutManifest',
      tag: 'v2',
      summary: 'Push a manifest (OCI image manifest or index, Docker schema 2 manifest or manifest list) by tag or digest',
      description:
        "The body is stored as sent; its media type is its `mediaType`, else the Content-Type (they must agree when both " +
        'are given). Every blob (image manifest) or manifest (index) it names must already be in the repository. A push by ' +
        'tag also makes the image pullable through V1 when it can be.',
      requestBody: mediaBody('The manifest, at most max_json_size bytes', MANIFEST_MEDIA),
      responses: {
        201: {
          description: 'Stored',
          headers: {
            ...apiVersionHeader,
            Location: { description: 'The manifest: `/v2/<name>/manifests/<digest>`' },
            'Docker-Content-Digest': { description: 'The digest of the manifest' },
            'OCI-Subject': { description: 'The digest of its subject, when it has one' },
          },
        },
        400: v2Error(
          ['V2_NAME_INVALID', 'V2_MANIFEST_INVALID', 'V2_TAG_INVALID', 'V2_DIGEST_INVALID', 'UPLOAD_ABORTED'],
          'not JSON, not schema 2, an unsupported or mismatched media type, a malformed descriptor or tag; a digest ' +
            'reference that is not the digest of the body',
        ),
        ...repositoryAccess('pull,push'),
        404: v2Error(['V2_MANIFEST_BLOB_UNKNOWN'], 'a blob or child manifest it names is not in the repository'),
        413: v2Error(['V2_MANIFEST_TOO_LARGE', 'BODY_TOO_LARGE'], 'beyond max_json_size'),
      },
    }),
    delete: operation({
      operationId: 'v2DeleteManifest',
      tag: 'v2',
      summary: 'Delete a tag (by tag) or a manifest and its tags (by digest)',
      responses: {
        202: { description: 'Deleted', headers: apiVersionHeader },
        400: badReference,
        ...repositoryAccess('delete'),
        404: v2Error(['V2_MANIFEST_UNKNOWN']),
      },
    }),
  };
}
