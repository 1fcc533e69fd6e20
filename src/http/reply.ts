/** Building V1 replies: the JSON helper's headers (§0), cacheable headers, raw JSON. */
import { v1Json } from './v1-json.ts';

const NO_CACHE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'application/json',
  'cache-control': 'no-cache',
  expires: '-1',
  pragma: 'no-cache',
});

const YEAR_SECONDS = 31_536_000;
const CACHE_CONTROL = `public, max-age=${YEAR_SECONDS}`;

/** HTTP dates by second, formatted once: every cacheable GET writes two (Date formatting is slow). */
const dates = new Map<number, string>();

function httpDate(ms: number): string {
  const second = Math.floor(ms / 1000);
  let text = dates.get(second);
  if (text === undefined) {
    if (dates.size >= 4096) dates.clear();
    text = new Date(second * 1000).toUTCString();
    dates.set(second, text);
  }
  return text;
}

/** Headers of a cacheable GET (layer, json, ancestry, files, diff) of an immutable image. */
export function cacheHeaders(lastModified: Date, now = Date.now()): Record<string, string> {
  return {
    'cache-control': CACHE_CONTROL,
    expires: httpDate(now + YEAR_SECONDS * 1000),
    'last-modified': httpDate(lastModified.getTime()),
  };
}

/**
 * True when `If-Modified-Since` allows a 304 for a resource last changed at `lastModified`
 * (only called for an existing, complete image; an unparsable date never gives 304).
 */
export function notModified(ifModifiedSince: string | null | undefined, lastModified: Date): boolean {
  if (!ifModifiedSince) return false;
  const since = Date.parse(ifModifiedSince);
  if (Number.isNaN(since)) return false;
  return Math.floor(lastModified.getTime() / 1000) * 1000 <= since;
}

/** Content-Length of a body we hold (so access logs and HEAD know it before it is sent). */
const byteLength = (body: string | Uint8Array) => String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);

/** Copied for each reply: copying a Headers is cheaper than building one from an object. */
const NO_CACHE = new Headers(NO_CACHE_HEADERS);

function noCacheReply(body: string | Uint8Array, length: string, status: number, headers: Record<string, string>): Response {
  const all = new Headers(NO_CACHE);
  all.set('content-length', length);
  for (const name in headers) all.set(name, headers[name]!);
  return new Response(body, { status, headers: all });
}

export function jsonReply(data: unknown = true, status = 200, headers: Record<string, string> = {}): Response {
  const body = v1Json(data);
  // v1Json escapes everything past ASCII: its length is its byte count
  return noCacheReply(body, String(body.length), status, headers);
}

/** Stored JSON sent byte-for-byte. */
export function rawJsonReply(
  body: string | Uint8Array,
  status = 200,
  headers: Record<string, string> = {},
): Response {
  return noCacheReply(body, byteLength(body), status, headers);
}

/** A cacheable JSON reply: immutable image metadata, no no-cache headers. */
export function cachedJsonReply(body: string | Uint8Array, lastModified: Date, headers?: Headers): Response {
  const own = { 'content-type': 'application/json', 'content-length': byteLength(body), ...cacheHeaders(lastModified) };
  if (!headers) return new Response(body, { status: 200, headers: own });
  for (const [k, v] of Object.entries(own)) headers.set(k, v);
  return new Response(body, { status: 200, headers });
}

export function notModifiedReply(lastModified: Date): Response {
  return new Response(null, { status: 304, headers: cacheHeaders(lastModified) });
}
