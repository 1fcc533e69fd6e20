/**
 * Checks every entry point makes before routing: a request target that parses (with an invalid
 * `Host` header — `a b`, `[::1`, `x:99999`… — `request.url` is relative or unparsable, and
 * RFC 9112 §3.2 wants a 400 for it) and a path whose percent-encoding decodes (the router would
 * otherwise hand handlers a null parameter).
 */
import { errorReply } from './errors.ts';

/** The request's URL, or null when Bun could not build an absolute one. */
export function requestUrl(request: Request): URL | null {
  try {
    return new URL(request.url);
  } catch {
    return null;
  }
}

/** True when every `%XX` escape in the path decodes to valid UTF-8. */
export function decodablePath(pathname: string): boolean {
  if (!pathname.includes('%')) return true;
  try {
    decodeURIComponent(pathname);
    return true;
  } catch {
    return false;
  }
}

/** The 400 for a target that does not parse (no body for HEAD). */
export const badTargetReply = (request: Request): Response => errorReply('BAD_REQUEST_TARGET', { head: request.method === 'HEAD' });

/** The 400 for a path that does not decode (no body for HEAD). */
export const badEncodingReply = (request: Request): Response => errorReply('BAD_PATH_ENCODING', { head: request.method === 'HEAD' });
