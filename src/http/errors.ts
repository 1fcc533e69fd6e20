/**
 * The only place errors become HTTP replies: a RegistryError gives its catalogue status and
 * message as a V1 `{"error": "..."}` body (a bare JSON string for the few codes the catalogue
 * marks so), or, for a V2 request (under /v2/), as the OCI Distribution body
 * `{"errors": [{"code", "message", "detail"}]}`; Elysia's own errors are mapped to 4xx; anything
 * else is logged and answered 500 with a generic message (no stack traces leak). Every error body
 * in src comes from here, including the ones sent before routing (request-target.ts) and
 * Bun.serve's last-resort `error` handler.
 */
import { catalogue, RegistryError, type CatalogueEntry, type ErrorCode } from '../errors.ts';
import { jsonReply } from './reply.ts';

export type ErrorLogger = (message: string, fields: Record<string, unknown>) => void;

/** Which API's body an error gets. */
export type ErrorDialect = 'v1' | 'v2';

/** The dialect of a request path: V2 under `/v2/` (and `/v2` itself). */
export const dialectOf = (path: string): ErrorDialect => (path === '/v2' || path.startsWith('/v2/') ? 'v2' : 'v1');

/**
 * The spec code of a catalogue entry: its own, else one by status (distribution's generic codes
 * for 500 and 503). Also the code the OpenAPI document's V2 error examples show (http/openapi.ts).
 */
export function ociCodeOf(entry: CatalogueEntry, status: number): string {
  if (entry.oci) return entry.oci;
  switch (status) {
    case 401:
      return 'UNAUTHORIZED';
    case 403:
      return 'DENIED';
    case 404:
      return 'NAME_UNKNOWN';
    case 413:
      return 'SIZE_INVALID';
    case 416:
      return 'BLOB_UPLOAD_INVALID';
    case 429:
      return 'TOOMANYREQUESTS';
    case 503:
      return 'UNAVAILABLE';
    default:
      return status >= 500 ? 'UNKNOWN' : 'UNSUPPORTED';
  }
}

function render(status: number, message: string, headers: Record<string, string> = {}, bare = false): Response {
  return jsonReply(bare ? message : { error: message }, status, headers);
}

/** The reply of a RegistryError in `dialect`. */
function registryErrorReply(error: RegistryError, dialect: ErrorDialect = 'v1'): Response {
  const entry: CatalogueEntry = catalogue[error.code];
  if (dialect === 'v2') {
    const detail = error.message === entry.message ? null : error.message.slice(entry.message.length + 2);
    const body = { errors: [{ code: ociCodeOf(entry, error.status), message: entry.message, detail }] };
    return jsonReply(body, error.status, error.headers);
  }
  return entry.bare ? render(error.status, entry.message, error.headers, true) : render(error.status, error.message, error.headers);
}

/** The reply of a catalogue code; `head`: the same status and headers without a body. */
export function errorReply(code: ErrorCode, options: { detail?: string; head?: boolean; dialect?: ErrorDialect } = {}): Response {
  const reply = registryErrorReply(new RegistryError(code, options.detail), options.dialect);
  return options.head ? new Response(null, reply) : reply;
}

export function errorToResponse(code: string | number, error: unknown, log: ErrorLogger, dialect: ErrorDialect = 'v1'): Response {
  if (error instanceof RegistryError) return registryErrorReply(error, dialect);
  switch (code) {
    case 'NOT_FOUND':
      return errorReply('NOT_FOUND', { dialect });
    case 'VALIDATION':
    case 'PARSE':
    case 'INVALID_COOKIE_SIGNATURE':
    case 'INVALID_FILE_TYPE':
      return errorReply('BAD_REQUEST', { detail: String((error as Error)?.message ?? code).slice(0, 200), dialect });
  }
  const status = typeof (error as { status?: unknown })?.status === 'number' ? (error as { status: number }).status : 500;
  if (status === 413) return errorReply('BODY_TOO_LARGE', { dialect });
  // another 4xx from Elysia keeps its status
  if (status >= 400 && status < 500) {
    if (dialect === 'v2') return registryErrorReply(Object.assign(new RegistryError('BAD_REQUEST'), { status }), dialect);
    return render(status, catalogue.BAD_REQUEST.message);
  }
  log('unhandled error', { code, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  return errorReply('INTERNAL', { dialect });
}

/** The 500 reply (also Bun.serve's `error` handler, for what escapes the app). */
export const internalErrorReply = (): Response => errorReply('INTERNAL');
