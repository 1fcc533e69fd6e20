/**
 * The only place errors become HTTP replies: a RegistryError gives its catalogue status and
 * message as a V1 `{"error": "..."}` body; Elysia's own errors are mapped to 4xx; anything else
 * is logged and answered 500 with a generic message (no stack traces leak).
 */
import { catalogue, RegistryError } from '../errors.ts';
import { errorReply } from './reply.ts';

export type ErrorLogger = (message: string, fields: Record<string, unknown>) => void;

export function errorToResponse(code: string | number, error: unknown, log: ErrorLogger): Response {
  if (error instanceof RegistryError) return errorReply(error.status, error.message, error.headers);
  switch (code) {
    case 'NOT_FOUND':
      return errorReply(404, catalogue.NOT_FOUND.message);
    case 'VALIDATION':
    case 'PARSE':
    case 'INVALID_COOKIE_SIGNATURE':
    case 'INVALID_FILE_TYPE':
      return errorReply(400, `${catalogue.BAD_REQUEST.message}: ${String((error as Error)?.message ?? code).slice(0, 200)}`);
  }
  const status = typeof (error as { status?: unknown })?.status === 'number' ? (error as { status: number }).status : 500;
  if (status === 413) return errorReply(413, catalogue.BODY_TOO_LARGE.message);
  if (status >= 400 && status < 500) return errorReply(status, catalogue.BAD_REQUEST.message);
  log('unhandled error', { code, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  return errorReply(500, catalogue.INTERNAL.message);
}
