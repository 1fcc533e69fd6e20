/** The contract of the V2 blob routes (blobs.ts): parameters, replies and OpenAPI operations. */
import { t } from 'elysia';
import { binaryBody, operation, v2Error, type HeaderDoc, type Reply } from '../../http/openapi.ts';
import { apiVersionHeader, nameParams, repositoryAccess } from './common.model.ts';

// --- parameters ---------------------------------------------------------------------------------

const digestText = '`sha256:<64 hex>` or `sha512:<128 hex>`';

export const blobParams = t.Object({ name: nameParams.properties.name, digest: t.String({ description: digestText }) });

export const sessionParams = t.Object({
  name: nameParams.properties.name,
  session: t.String({ description: 'Upload session id (32 hex digits), from the Location of the POST' }),
});

export const startUploadQuery = t.Object({
  digest: t.Optional(t.String({ description: `Monolithic upload: the digest of the body (${digestText})` })),
  mount: t.Optional(t.String({ description: 'Cross-repository mount: the digest to mount' })),
  from: t.Optional(t.String({ description: 'Cross-repository mount: the repository to mount from' })),
});

export const putUploadQuery = t.Object({
  digest: t.Optional(t.String({ description: `The digest of the whole blob (${digestText}); required (400 DIGEST_INVALID without)` })),
});

// --- replies ------------------------------------------------------------------------------------

const integerHeader = (description: string): HeaderDoc => ({ description, schema: { type: 'integer' } });

const digestHeader: Record<string, HeaderDoc> = { 'Docker-Content-Digest': { description: 'The digest of the blob' } };

/** Where a session stands: 202 of POST and PATCH, 204 of GET. */
const sessionHeaders: Record<string, HeaderDoc> = {
  ...apiVersionHeader,
  Location: { description: 'The session: `/v2/<name>/blobs/uploads/<session>`, where to PATCH, PUT, GET or DELETE' },
  Range: { description: '`0-<last byte received>` (`0-0` before the first byte)' },
  'Docker-Upload-UUID': { description: 'The session id' },
};

const created = (description: string): Reply => ({
  description,
  headers: { ...apiVersionHeader, Location: { description: 'The blob: `/v2/<name>/blobs/<digest>`' }, ...digestHeader },
});

const badName = 'V2_NAME_INVALID' as const;
const push = repositoryAccess('pull,push');
const storageDown = v2Error(['STORAGE_FAILURE']);
const tooLarge = v2Error(['BODY_TOO_LARGE'], 'beyond max_body_size');
const sessionUnknown = v2Error(['V2_BLOB_UPLOAD_UNKNOWN'], 'no such session in this repository, or it is completed or cancelled');
const outOfOrder: Reply = {
  ...v2Error(['V2_CHUNK_OUT_OF_ORDER'], 'the chunk does not start where the upload stands, or a malformed Content-Range'),
  headers: { Range: { description: 'Where the upload stands: `0-<last byte received>`' } },
};

// --- operations ---------------------------------------------------------------------------------

/** The routes' OpenAPI operations, built afresh for each app, as for the twin that documents it (app/documentation.ts). */
export function blobDocs() {
  return {
    getBlob: operation({
      operationId: 'v2GetBlob',
      tag: 'v2',
      summary: 'Fetch a blob (HEAD: only its headers)',
      description:
        'The bytes of a blob linked into the repository. `Range: bytes=A-B` (one range) gives a 206; malformed or ' +
        'multiple ranges give the whole blob. With storage redirects on and a driver that can sign URLs, a 307 to the ' +
        'storage URL instead. HEAD answers the same headers without the body.',
      responses: {
        200: {
          description: 'The blob',
          body: 'binary',
          headers: {
            ...apiVersionHeader,
            ...digestHeader,
            'Content-Length': integerHeader('Blob size in bytes'),
            'Accept-Ranges': { description: '`bytes`' },
            ETag: { description: 'The digest, quoted' },
          },
        },
        206: {
          description: 'The requested byte range',
          body: 'binary',
          headers: {
            ...apiVersionHeader,
            ...digestHeader,
            'Content-Length': integerHeader('Length of the range'),
            'Content-Range': { description: '`bytes <first>-<last>/<size>`' },
          },
        },
        307: {
          description: 'Redirect to the storage URL (storage_redirect on, driver with URLs)',
          headers: { ...apiVersionHeader, Location: { description: 'Where to download the blob' }, ...digestHeader },
        },
        400: v2Error([badName, 'V2_DIGEST_INVALID'], 'a malformed name or digest'),
        ...repositoryAccess('pull'),
        404: v2Error(['V2_BLOB_UNKNOWN'], 'not linked into this repository'),
        416: { ...v2Error(['RANGE_NOT_SATISFIABLE']), headers: { 'Content-Range': { description: '`bytes */<size>`' } } },
        503: storageDown,
      },
    }),
    deleteBlob: operation({
      operationId: 'v2DeleteBlob',
      tag: 'v2',
      summary: 'Remove a blob from a repository',
      description: 'Unlinks the blob from the repository; its bytes stay for garbage collection (other repositories may hold it).',
      responses: {
        202: { description: 'Unlinked', headers: apiVersionHeader },
        400: v2Error([badName, 'V2_DIGEST_INVALID'], 'a malformed name or digest'),
        ...repositoryAccess('delete'),
        404: v2Error(['V2_BLOB_UNKNOWN']),
      },
    }),
    startUpload: operation({
      operationId: 'v2StartUpload',
      tag: 'v2',
      summary: 'Start a blob upload, upload a whole blob (`?digest=`), or mount one from another repository (`?mount=&from=`)',
      description:
        'Without parameters: opens an upload session (202). With `digest`: the body is the whole blob, stored when its ' +
        'digest matches (201). With `mount` and `from`: links the blob from the other repository when it holds it and ' +
        'the caller may pull from it (201); otherwise the request goes on as one without them.',
      requestBody: binaryBody('With `digest`: the whole blob, streamed; chunked or with Content-Length (the body must match it)', false),
      responses: {
        201: created('Stored (with `digest`) or mounted'),
        202: { description: 'A session started: `Location` is where to PATCH and PUT', headers: sessionHeaders },
        400: v2Error(
          [badName, 'V2_DIGEST_INVALID', 'V2_SIZE_INVALID', 'UPLOAD_ABORTED'],
          'a malformed name or `from`; a malformed digest, or not the digest of the body; a body shorter or longer than its Content-Length',
        ),
        ...push,
        413: tooLarge,
        503: storageDown,
      },
    }),
    uploadStatus: operation({
      operationId: 'v2UploadStatus',
      tag: 'v2',
      summary: "An upload session's progress",
      responses: {
        204: { description: 'Where the upload stands', headers: sessionHeaders },
        400: v2Error([badName]),
        ...push,
        404: sessionUnknown,
      },
    }),
    patchUpload: operation({
      operationId: 'v2PatchUpload',
      tag: 'v2',
      summary: 'Send the next chunk of an upload',
      description:
        'The body is appended to the session. `Content-Range: <start>-<end>` (optional; a `bytes ` prefix is tolerated) ' +
        'must start where the upload stands (416 otherwise) and the body must fill it.',
      requestBody: binaryBody('The chunk, streamed; chunked or with Content-Length'),
      responses: {
        202: { description: 'Stored: `Range` says what the session holds', headers: sessionHeaders },
        400: v2Error([badName, 'V2_SIZE_INVALID', 'UPLOAD_ABORTED', 'V2_BLOB_UPLOAD_INVALID'], 'the body does not fill its Content-Range or Content-Length; BLOB_UPLOAD_INVALID: the session has its 10 000 chunks already'),
        ...push,
        404: sessionUnknown,
        413: tooLarge,
        416: outOfOrder,
        503: storageDown,
      },
    }),
    putUpload: operation({
      operationId: 'v2PutUpload',
      tag: 'v2',
      summary: 'Complete an upload with its digest (and, optionally, a last chunk)',
      description: 'The blob is stored when `digest` is the digest of every byte received; the session ends either way.',
      requestBody: binaryBody('The last chunk, if any, streamed', false),
      responses: {
        201: created('Stored'),
        400: v2Error(
          [badName, 'V2_DIGEST_INVALID', 'V2_SIZE_INVALID', 'UPLOAD_ABORTED', 'V2_BLOB_UPLOAD_INVALID'],
          '`digest` missing, malformed, or not the digest of the bytes received; a body not matching its Content-Length; ' +
            'bytes received before a crash of the machine lost (start again)',
        ),
        ...push,
        404: sessionUnknown,
        413: tooLarge,
        416: outOfOrder,
        503: storageDown,
      },
    }),
    cancelUpload: operation({
      operationId: 'v2CancelUpload',
      tag: 'v2',
      summary: 'Cancel an upload session',
      responses: {
        204: { description: 'Cancelled, its bytes deleted', headers: apiVersionHeader },
        400: v2Error([badName]),
        ...push,
        404: sessionUnknown,
      },
    }),
  };
}
