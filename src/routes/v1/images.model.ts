/** The contract of the image routes (images.ts): models, parameters, replies and OpenAPI operations. */
import { t } from 'elysia';
import {
  binaryBody,
  imageIdText,
  integer,
  jsonBody,
  ok,
  operation,
  tokenRequired,
  v1Error,
  type HeaderDoc,
  type Reply,
} from '../../http/openapi.ts';

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

const notModifiedDoc: Reply = {
  description: 'Not modified since If-Modified-Since (empty body)',
  headers: {
    'Last-Modified': { description: 'When the image was completed' },
    'Cache-Control': { description: 'public, max-age=31536000' },
  },
};

/** Headers of a cacheable reply for an immutable image. */
const cacheHeaderDocs: Record<string, HeaderDoc> = {
  'Last-Modified': { description: 'When the image was completed' },
  'Cache-Control': { description: 'public, max-age=31536000 (complete images never change)' },
  Expires: { description: 'One year from now' },
};

const notFound = v1Error(['INVALID_IMAGE_ID', 'IMAGE_NOT_FOUND']);
const uploading = v1Error(['IMAGE_UPLOADING']);

/** The replies every GET of a complete image's metadata can give besides its 200. */
const metadataReplies = (extra: Record<number, Reply> = {}): Record<number, Reply> => ({
  304: notModifiedDoc,
  400: uploading,
  401: tokenRequired,
  404: notFound,
  ...extra,
});

// --- operations ---------------------------------------------------------------------------------

/** The routes' OpenAPI operations, built afresh for each app, as for the twin that documents it (app/documentation.ts). */
export function imageDocs() {
  return {
    getImageJson: operation({
      operationId: 'getImageJson',
      tag: 'images',
      summary: 'Get an image json, exactly as uploaded',
      responses: {
        200: {
          description: 'The image json, byte for byte',
          body: 'ImageJson',
          headers: {
            ...cacheHeaderDocs,
            'X-Docker-Size': { description: 'Layer size in bytes', schema: { type: 'integer' } },
            'X-Docker-Checksum-Payload': { description: 'Payload checksum of the image (`sha256:<hex>`)' },
          },
        },
        ...metadataReplies(),
      },
    }),
    getImageAncestry: operation({
      operationId: 'getImageAncestry',
      tag: 'images',
      summary: 'Get the ids of an image and its parents, newest first',
      responses: { 200: { description: 'The ancestry', body: 'Ancestry', headers: cacheHeaderDocs }, ...metadataReplies() },
    }),
    getImageLayer: operation({
      operationId: 'getImageLayer',
      tag: 'images',
      summary: 'Download an image layer (ranges supported)',
      description:
        'The layer bytes of a complete image, sent as stored (zero-copy from disk). One byte range gives a 206; ' +
        'malformed or multiple ranges give the whole layer. With storage redirects on and a driver that can ' +
        'sign URLs, the reply is a 302 to the storage URL instead.',
      responses: {
        200: {
          description: 'The whole layer',
          body: 'binary',
          headers: {
            ...cacheHeaderDocs,
            'Content-Length': { description: 'Layer size in bytes', schema: { type: 'integer' } },
            'Accept-Ranges': { description: '`bytes`' },
          },
        },
        206: {
          description: 'The requested byte range',
          body: 'binary',
          headers: { ...cacheHeaderDocs, 'Content-Range': { description: '`bytes <first>-<last>/<size>`' } },
        },
        302: {
          description: 'Redirect to the storage URL (storage_redirect on, driver with URLs)',
          headers: { Location: { description: 'Where to download the layer' } },
        },
        304: notModifiedDoc,
        400: uploading,
        401: tokenRequired,
        404: notFound,
        416: {
          ...v1Error(['RANGE_NOT_SATISFIABLE']),
          headers: { 'Content-Range': { description: '`bytes */<size>`' } },
        },
        503: v1Error(['STORAGE_FAILURE']),
      },
    }),
    putImageLayer: operation({
      operationId: 'putImageLayer',
      tag: 'images',
      summary: 'Upload an image layer (raw body, streamed)',
      description:
        'Second step of a push, after PUT json: the body is streamed to storage while its payload checksum is ' +
        'computed, and committed only once complete. The Content-Type is ignored.',
      requestBody: binaryBody('The layer (a tar archive, possibly compressed), sent as is; chunked or with Content-Length'),
      responses: {
        200: ok('Layer stored'),
        400: v1Error(['LAYER_SIZE_MISMATCH', 'UPLOAD_ABORTED']),
        401: tokenRequired,
        404: notFound,
        409: v1Error(['IMAGE_EXISTS', 'IMAGE_JSON_CHANGED'], 'the image is complete, or a concurrent PUT json replaced its json'),
        412: v1Error(['DOCKER_TOO_OLD'], 'from the User-Agent'),
        413: v1Error(['BODY_TOO_LARGE'], 'beyond max_body_size'),
        503: v1Error(['STORAGE_FAILURE']),
      },
    }),
    putImageChecksum: operation({
      operationId: 'putImageChecksum',
      tag: 'images',
      summary: 'Verify the payload checksum and complete the image',
      description:
        'Last step of a push: compares X-Docker-Checksum-Payload (or, for old clients, the X-Docker-Checksum ' +
        'tarsum) with the uploaded layer and makes the image visible. No body.',
      responses: {
        200: ok('Image complete'),
        400: v1Error(['CHECKSUM_MISSING', 'CHECKSUM_MISMATCH', 'LAYER_NOT_UPLOADED']),
        401: tokenRequired,
        404: notFound,
        409: v1Error(['CHECKSUM_CANNOT_SET'], 'the image is complete'),
        412: v1Error(['CHECKSUM_PAYLOAD_NOT_SET'], 'and no tarsum+ X-Docker-Checksum'),
        503: v1Error(['STORAGE_FAILURE']),
      },
    }),
    putImageJson: operation({
      operationId: 'putImageJson',
      tag: 'images',
      summary: 'Upload an image json (starts the upload)',
      description: 'First step of a push: stores the json as sent and (re)starts the upload of an image that is not complete.',
      requestBody: jsonBody('ImageJson', 'The image json, stored byte for byte'),
      responses: {
        200: ok('Upload started'),
        400: v1Error([
          'INVALID_JSON',
          'JSON_MISSING_ID',
          'JSON_INVALID_ID',
          'JSON_INVALID_PARENT',
          'PARENT_NOT_FOUND',
          'UPLOAD_ABORTED',
          'IMAGE_NOT_IN_REPOSITORY',
        ]),
        401: tokenRequired,
        404: v1Error(['INVALID_IMAGE_ID']),
        409: v1Error(['IMAGE_EXISTS'], 'the image is complete'),
        413: v1Error(['BODY_TOO_LARGE'], 'beyond max_json_size'),
      },
    }),
    getImageFiles: operation({
      operationId: 'getImageFiles',
      tag: 'images',
      summary: "List the files of an image's layer",
      description: 'Computed from the layer tar on first request, then cached.',
      responses: {
        200: { description: 'The file list', body: 'FileList', headers: cacheHeaderDocs },
        ...metadataReplies({
          400: v1Error(['IMAGE_UPLOADING', 'LAYER_FORMAT']),
          503: v1Error(['STORAGE_FAILURE']),
        }),
      },
    }),
    getImageDiff: operation({
      operationId: 'getImageDiff',
      tag: 'images',
      summary: "Compare an image's files with its ancestors'",
      description: 'Computed on demand from the file lists of the image and its ancestors, then cached.',
      responses: {
        200: { description: 'The diff', body: 'LayerDiff', headers: cacheHeaderDocs },
        ...metadataReplies({
          400: v1Error(['IMAGE_UPLOADING', 'LAYER_FORMAT'], 'for the image or an ancestor'),
          503: v1Error(['STORAGE_FAILURE']),
        }),
      },
    }),
  };
}
