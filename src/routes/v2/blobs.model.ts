/** The OpenAPI operations of the V2 blob routes (blobs.ts). */
import { v2Operation } from './common.ts';

const auth = { 401: 'auth: token: a Bearer token with the needed scope is required (WWW-Authenticate names it)', 403: 'auth: token: the scope is not granted' };

export function blobDocs() {
  return {
    getBlob: v2Operation('v2GetBlob', 'Fetch a blob (HEAD: only its size and digest)', {
      200: 'The blob (`Docker-Content-Digest`, `Content-Length`)',
      206: 'One byte range of it (`Range: bytes=A-B`)',
      307: 'storage_redirect: fetch it from the storage service',
      400: 'DIGEST_INVALID: malformed digest; NAME_INVALID',
      404: 'BLOB_UNKNOWN: not in this repository',
      416: 'No byte of the range exists',
      ...auth,
    }),
    deleteBlob: v2Operation('v2DeleteBlob', 'Remove a blob from a repository', { 202: 'Unlinked', 404: 'BLOB_UNKNOWN', ...auth }),
    startUpload: v2Operation(
      'v2StartUpload',
      'Start a blob upload, upload a whole blob (`?digest=`), or mount one from another repository (`?mount=&from=`)',
      {
        201: 'Stored (with `digest`) or mounted; `Location` names the blob',
        202: 'A session started; `Location` is where to PATCH and PUT',
        400: 'DIGEST_INVALID: the body does not match `digest`; NAME_INVALID',
        ...auth,
      },
    ),
    uploadStatus: v2Operation('v2UploadStatus', "An upload session's progress", { 204: '`Range: 0-<last byte received>`', 404: 'BLOB_UPLOAD_UNKNOWN', ...auth }),
    patchUpload: v2Operation('v2PatchUpload', 'Send the next chunk of an upload (`Content-Range: <start>-<end>` optional)', {
      202: 'Stored; `Range` says what the session holds',
      400: 'SIZE_INVALID: the body does not fill its Content-Range',
      404: 'BLOB_UPLOAD_UNKNOWN',
      416: 'BLOB_UPLOAD_INVALID: the chunk does not start where the upload stands',
      ...auth,
    }),
    putUpload: v2Operation('v2PutUpload', 'Complete an upload with its digest (and, optionally, a last chunk)', {
      201: 'Stored; `Location` names the blob',
      400: 'DIGEST_INVALID: missing, malformed, or not the digest of the bytes received',
      404: 'BLOB_UPLOAD_UNKNOWN',
      ...auth,
    }),
    cancelUpload: v2Operation('v2CancelUpload', 'Cancel an upload session', { 204: 'Cancelled, its bytes deleted', 404: 'BLOB_UPLOAD_UNKNOWN', ...auth }),
  };
}
