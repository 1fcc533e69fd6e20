/**
 * Checks every entry point makes before routing: a request target that parses (with an invalid
 * `Host` header — `a b`, `[::1`, `x:99999`… — `request.url` is relative or unparsable, and
 * RFC 9112 §3.2 wants a 400 for it) and a path whose percent-encoding decodes (the router would
 * otherwise hand handlers a null parameter).
 */
import { dialectOf, errorReply } from './errors.ts';

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

/** The path of a target that may not parse as a URL (absolute or origin-form). */
const rawPath = (target: string): string => target.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '');

/** A 400 before routing, in the dialect of the path (V2 under /v2/; no body for HEAD). */
const earlyReply = (request: Request, code: 'BAD_REQUEST_TARGET' | 'BAD_PATH_ENCODING'): Response =>
  errorReply(code, { head: request.method === 'HEAD', dialect: dialectOf(rawPath(request.url).split(/[?#]/)[0]!) });

/** The 400 for a target that does not parse. */
export const badTargetReply = (request: Request): Response => earlyReply(request, 'BAD_REQUEST_TARGET');

/** The 400 for a path that does not decode. */
export const badEncodingReply = (request: Request): Response => earlyReply(request, 'BAD_PATH_ENCODING');
