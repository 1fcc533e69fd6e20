/**
 * The only place errors become HTTP replies: a RegistryError gives its catalogue status and
 * message as a V1 `{"error": "..."}` body (a bare JSON string for the few codes the catalogue
 * marks so); Elysia's own errors are mapped to 4xx; anything else is logged and answered 500 with
 * a generic message (no stack traces leak). Every error body in src comes from here, including
 * the ones sent before routing (request-target.ts) and Bun.serve's last-resort `error` handler.
 */
import { catalogue, RegistryError, type ErrorCode } from '../errors.ts';
import { jsonReply } from './reply.ts';

export type ErrorLogger = (message: string, fields: Record<string, unknown>) => void;

function render(status: number, message: string, headers: Record<string, string> = {}, bare = false): Response {
  return jsonReply(bare ? message : { error: message }, status, headers);
}

/** The V1 reply of a RegistryError. */
function registryErrorReply(error: RegistryError): Response {
  const entry = catalogue[error.code] as { message: string; bare?: true };
  return entry.bare ? render(error.status, entry.message, error.headers, true) : render(error.status, error.message, error.headers);
}

/** The V1 reply of a catalogue code; `head`: the same status and headers without a body. */
export function errorReply(code: ErrorCode, options: { detail?: string; head?: boolean } = {}): Response {
  const reply = registryErrorReply(new RegistryError(code, options.detail));
  return options.head ? new Response(null, reply) : reply;
}

export function errorToResponse(code: string | number, error: unknown, log: ErrorLogger): Response {
  if (error instanceof RegistryError) return registryErrorReply(error);
  switch (code) {
    case 'NOT_FOUND':
      return errorReply('NOT_FOUND');
    case 'VALIDATION':
    case 'PARSE':
    case 'INVALID_COOKIE_SIGNATURE':
    case 'INVALID_FILE_TYPE':
      return errorReply('BAD_REQUEST', { detail: String((error as Error)?.message ?? code).slice(0, 200) });
  }
  const status = typeof (error as { status?: unknown })?.status === 'number' ? (error as { status: number }).status : 500;
  if (status === 413) return errorReply('BODY_TOO_LARGE');
  // another 4xx from Elysia keeps its status
  if (status >= 400 && status < 500) return render(status, catalogue.BAD_REQUEST.message);
  log('unhandled error', { code, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  return internalErrorReply();
}

/** The 500 reply (also Bun.serve's `error` handler, for what escapes the app). */
export const internalErrorReply = (): Response => errorReply('INTERNAL');
