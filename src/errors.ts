/**
 * The error catalogue: every error the registry can answer with, its HTTP status and its V1
 * message. Services throw `RegistryError`s built from here; only `src/http/errors.ts` turns them
 * into `{"error": "..."}` bodies.
 */
export interface CatalogueEntry {
  status: number;
  message: string;
  /** the body is the message as a bare JSON string, not `{"error": ...}` (and carries no detail) */
  bare?: true;
  /**
   * An OCI Distribution (V2) error: its spec code. Under `/v2/` every error is rendered as
   * `{"errors": [{"code", "message", "detail"}]}` (entries without a spec code take the code of
   * their status, see http/errors.ts).
   */
  oci?: OciCode;
}

/** The error codes of the OCI Distribution Specification v1.1 (its "Error Codes" table). */
type OciCode =
  | 'BLOB_UNKNOWN'
  | 'BLOB_UPLOAD_INVALID'
  | 'BLOB_UPLOAD_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'SIZE_INVALID'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'UNSUPPORTED'
  | 'TOOMANYREQUESTS';

export const catalogue = {
  // images (v1-api.md §1 E3–E10)
  IMAGE_UPLOADING: { status: 400, message: 'Image is being uploaded, retry later' },
  INVALID_IMAGE_ID: { status: 404, message: 'Invalid image ID' },
  IMAGE_NOT_FOUND: { status: 404, message: 'Image not found' },
  IMAGE_EXISTS: { status: 409, message: 'Image already exists' },
  DOCKER_TOO_OLD: {
    status: 412,
    message: 'This endpoint does not support Docker daemons older than 0.10',
  },
  CHECKSUM_PAYLOAD_NOT_SET: {
    status: 412,
    message:
      'X-Docker-Checksum-Payload not set.  If you are using the Docker daemon, you should upgrade to version 0.10 or later',
  },
  CHECKSUM_MISSING: { status: 400, message: "Missing Image's checksum" },
  CHECKSUM_CANNOT_SET: { status: 409, message: 'Cannot set this image checksum' },
  IMAGE_JSON_CHANGED: { status: 409, message: 'The image json was replaced during the upload; upload the layer again' },
  CHECKSUM_MISMATCH: { status: 400, message: 'Checksum mismatch' },
  LAYER_NOT_UPLOADED: { status: 400, message: 'Image layer not uploaded yet' },
  INVALID_JSON: { status: 400, message: 'Invalid JSON' },
  JSON_MISSING_ID: { status: 400, message: "Missing key `id' in JSON" },
  JSON_INVALID_ID: { status: 400, message: 'JSON data contains invalid id' },
  JSON_INVALID_PARENT: { status: 400, message: 'Invalid parent image ID' },
  PARENT_NOT_FOUND: { status: 400, message: 'Image depends on a non existing parent' },
  LAYER_FORMAT: { status: 400, message: 'Layer format not supported' },
  LAYER_SIZE_MISMATCH: { status: 400, message: 'Layer size does not match Content-Length' },
  // repositories and tags (E11–E19)
  INVALID_DATA: { status: 400, message: 'Invalid data' },
  INVALID_REPOSITORY_NAME: { status: 400, message: 'Invalid repository name' },
  REPOSITORY_NOT_FOUND: { status: 404, message: 'Repository not found' },
  TAG_NOT_FOUND: { status: 404, message: 'Tag not found' },
  INVALID_TAG: { status: 400, message: 'Invalid tag name (must match ^[\\w][\\w.-]{0,127}$)' },
  // index (E21–E26)
  DECODE_JSON: { status: 400, message: 'Error Decoding JSON' },
  INDEX_IMAGES_NOT_FOUND: { status: 404, message: 'images not found' },
  // search
  INVALID_SEARCH: { status: 400, message: 'Invalid search parameters' },
  // auth (auth: token)
  REQUIRES_AUTHORIZATION: { status: 401, message: 'Requires authorization' },
  LOGIN_REQUIRED: { status: 401, message: 'Login required' },
  BAD_CREDENTIALS: { status: 401, message: 'Wrong login/password' },
  FORBIDDEN: { status: 403, message: 'Access denied' },
  /** sent as a bare JSON string: `docker login` compares the body with exactly this text */
  USERNAME_TAKEN: { status: 400, message: 'Username or email already exists', bare: true },
  INVALID_USER: { status: 400, message: 'Invalid account data' },
  IMAGE_NOT_IN_REPOSITORY: { status: 400, message: 'This image does not belong to the repository' },
  // OCI Distribution (V2), under /v2/ (routes/v2)
  V2_BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry', oci: 'BLOB_UNKNOWN' },
  V2_CHUNK_OUT_OF_ORDER: { status: 416, message: 'chunk out of order: Content-Range must start at the upload offset', oci: 'BLOB_UPLOAD_INVALID' },
  V2_BLOB_UPLOAD_UNKNOWN: { status: 404, message: 'blob upload unknown to registry', oci: 'BLOB_UPLOAD_UNKNOWN' },
  /** a completed upload whose bytes are not all there any more (lost to an OS crash before they were flushed, or collected) */
  V2_BLOB_UPLOAD_INVALID: { status: 400, message: 'blob upload invalid', oci: 'BLOB_UPLOAD_INVALID' },
  V2_DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content', oci: 'DIGEST_INVALID' },
  V2_MANIFEST_BLOB_UNKNOWN: { status: 404, message: 'manifest references a manifest or blob unknown to registry', oci: 'MANIFEST_BLOB_UNKNOWN' },
  V2_MANIFEST_INVALID: { status: 400, message: 'manifest invalid', oci: 'MANIFEST_INVALID' },
  V2_MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown to registry', oci: 'MANIFEST_UNKNOWN' },
  V2_MANIFEST_TOO_LARGE: { status: 413, message: 'manifest too large', oci: 'SIZE_INVALID' },
  V2_NAME_INVALID: { status: 400, message: 'invalid repository name', oci: 'NAME_INVALID' },
  V2_NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry', oci: 'NAME_UNKNOWN' },
  V2_SIZE_INVALID: { status: 400, message: 'provided length did not match content length', oci: 'SIZE_INVALID' },
  V2_TAG_INVALID: { status: 400, message: 'invalid tag', oci: 'MANIFEST_INVALID' },
  V2_UNAUTHORIZED: { status: 401, message: 'authentication required', oci: 'UNAUTHORIZED' },
  V2_DENIED: { status: 403, message: 'requested access to the resource is denied', oci: 'DENIED' },
  /** GET/POST /v2/token: a malformed scope or service, a form without credentials, an unsupported grant (RFC 6749 §5.2) */
  V2_TOKEN_REQUEST_INVALID: { status: 400, message: 'invalid token request' },
  V2_BRIDGE_UNSUPPORTED: { status: 400, message: 'this image cannot be converted between V1 and V2', oci: 'UNSUPPORTED' },
  // the pull-through mirror's upstream (upstream/client.ts)
  UPSTREAM_UNAVAILABLE: { status: 503, message: 'Upstream registry unavailable, retry later' },
  UPSTREAM_TIMEOUT: { status: 504, message: 'Upstream registry timed out' },
  UPSTREAM_BAD_RESPONSE: { status: 502, message: 'Upstream registry sent a bad response' },
  UPSTREAM_DENIED: { status: 502, message: 'Upstream registry refused the mirror' },
  // operations
  METRICS_UNAVAILABLE: { status: 404, message: 'Metrics are served by the workers of a running supervisor' },
  // HTTP-level
  NOT_FOUND: { status: 404, message: 'Not found' },
  BODY_TOO_LARGE: { status: 413, message: 'Request body too large' },
  RANGE_NOT_SATISFIABLE: { status: 416, message: 'Requested range not satisfiable' },
  BAD_REQUEST: { status: 400, message: 'Bad request' },
  BAD_PATH_ENCODING: { status: 400, message: 'Invalid percent-encoding in the request path' },
  BAD_REQUEST_TARGET: { status: 400, message: 'Invalid Host header or request target' },
  UPLOAD_ABORTED: { status: 400, message: 'Upload interrupted: the request body ended early' },
  STORAGE_FAILURE: { status: 503, message: 'Storage unavailable, retry later' },
  METADATA_UNAVAILABLE: { status: 503, message: 'Metadata store unavailable, retry later' },
  INTERNAL: { status: 500, message: 'Internal server error' },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof catalogue;

export class RegistryError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra headers the reply must carry (e.g. `Content-Range` on a 416). */
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, detail?: string, headers: Record<string, string> = {}) {
    const entry = catalogue[code];
    super(detail === undefined ? entry.message : `${entry.message}: ${detail}`);
    this.name = 'RegistryError';
    this.code = code;
    this.status = entry.status;
    this.headers = headers;
  }
}

export const isRegistryError = (e: unknown): e is RegistryError => e instanceof RegistryError;
