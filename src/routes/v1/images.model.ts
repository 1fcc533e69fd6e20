/** The models, parameters and shared replies of the image routes (images.ts). */
import { t } from 'elysia';
import { imageIdText, integer, tokenRequired, v1Error, type HeaderDoc, type Reply } from '../../http/openapi.ts';

/** A file row of E9 as the original sent it: a fixed-position array. */
const fileRow = (size: number, description: string) =>
  t.Array(t.Union([t.String(), t.Boolean(), integer()]), { minItems: size, maxItems: size, description });

export const imageModels = {
  ImageJson: t.Object(
    {
      id: t.String({ description: 'The image id; must equal the id in the path' }),
      parent: t.Optional(
        t.String({ nullable: true, description: 'The parent image id, which must exist (absent, null or empty for a base image)' }),
      ),
    },
    {
      additionalProperties: true,
      description: 'An image json: any JSON object with `id` (and `parent`); stored and served byte for byte',
    },
  ),
  Ancestry: t.Array(t.String({ description: 'An image id' }), {
    description: 'The image id, then its parent, grandparent, ... (newest first)',
  }),
  FileList: t.Array(
    fileRow(8, '[path, type letter, deleted, size, mtime, mode, uid, gid]'),
    { description: "The files of an image's layer, one row per tar member (union-fs whiteouts reported as deleted)" },
  ),
  LayerDiff: t.Object(
    {
      deleted: t.Object({}, { additionalProperties: fileRow(7, '[type letter, deleted, size, mtime, mode, uid, gid]') }),
      changed: t.Object({}, { additionalProperties: fileRow(7, '[type letter, deleted, size, mtime, mode, uid, gid]') }),
      created: t.Object({}, { additionalProperties: fileRow(7, '[type letter, deleted, size, mtime, mode, uid, gid]') }),
    },
    { description: "An image's files compared with its ancestors': path -> file info, per kind of change" },
  ),
};

// --- parameters ---------------------------------------------------------------------------------

export const imageParams = t.Object({
  id: t.String({ description: `Image id (${imageIdText}; anything else answers 404 Invalid image ID)` }),
});

export const cacheableGetHeaders = t.Object({
  'if-modified-since': t.Optional(t.String({ description: 'HTTP date: 304 when the image has not changed since' })),
});

export const layerGetHeaders = t.Object({
  'if-modified-since': cacheableGetHeaders.properties['if-modified-since'],
  range: t.Optional(t.String({ description: 'One byte range (`bytes=a-b`, `bytes=a-`, `bytes=-n`) for a 206; others get the whole layer' })),
});

export const layerPutHeaders = t.Object({
  'user-agent': t.Optional(t.String({ description: 'Client User-Agent: Docker daemons older than 0.10 get 412' })),
  'content-length': t.Optional(t.String({ description: 'Layer size; the body must match it (400) and stay within the size limit (413)' })),
});

export const checksumHeaders = t.Object({
  'x-docker-checksum-payload': t.Optional(
    t.String({ description: 'sha256 payload checksum (`sha256:<hex>`) of the json and layer; required unless a tarsum is given (412)' }),
  ),
  'x-docker-checksum': t.Optional(
    t.String({ description: 'Legacy `tarsum+sha256:<hex>` checksum, used by clients that send no payload checksum' }),
  ),
});

// --- replies ------------------------------------------------------------------------------------

export const notModifiedDoc: Reply = {
  description: 'Not modified since If-Modified-Since (empty body)',
  headers: {
    'Last-Modified': { description: 'When the image was completed' },
    'Cache-Control': { description: 'public, max-age=31536000' },
  },
};

/** Headers of a cacheable reply for an immutable image. */
export const cacheHeaderDocs: Record<string, HeaderDoc> = {
  'Last-Modified': { description: 'When the image was completed' },
  'Cache-Control': { description: 'public, max-age=31536000 (complete images never change)' },
  Expires: { description: 'One year from now' },
};

export const notFound = v1Error(['INVALID_IMAGE_ID', 'IMAGE_NOT_FOUND']);
export const uploading = v1Error(['IMAGE_UPLOADING']);

/** The replies every GET of a complete image's metadata can give besides its 200. */
export const metadataReplies = (extra: Record<number, Reply> = {}): Record<number, Reply> => ({
  304: notModifiedDoc,
  400: uploading,
  401: tokenRequired,
  404: notFound,
  ...extra,
});
