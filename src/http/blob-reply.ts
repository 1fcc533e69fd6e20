/** The reply carrying a layer's or blob's bytes, ranges included (V1 layer GET, V2 blob GET). */
import { RegistryError } from '../errors.ts';
import { parseRange } from './range.ts';

/**
 * 200 with the whole body, 206 with one range, 416 when nothing can be served (RFC 9110);
 * `extra` headers are added to the reply's own. A whole BunFile goes out with sendfile(2).
 */
export function blobReply(request: Request, blob: Blob, size: number, extra: Record<string, string> = {}): Response {
  const headers: Record<string, string> = {
    ...extra,
    'content-type': 'application/octet-stream',
    'accept-ranges': 'bytes',
    // Bun adds `content-disposition: filename=<disk name>` to octet-stream files: keep it clean
    'content-disposition': 'attachment',
  };
  const range = parseRange(request.headers.get('range'), size);
  if (range.kind === 'unsatisfiable') {
    throw new RegistryError('RANGE_NOT_SATISFIABLE', undefined, { 'content-range': `bytes */${size}` });
  }
  if (range.kind === 'partial') {
    headers['content-range'] = `bytes ${range.start}-${range.end}/${size}`;
    headers['content-length'] = String(range.end - range.start + 1);
    return new Response(blob.slice(range.start, range.end + 1), { status: 206, headers });
  }
  headers['content-length'] = String(size);
  // Bun would turn a `Range` request into a 206 by itself; ranges were decided above (malformed or
  // multi-range → whole body), so send a slice covering the whole file, which Bun leaves alone,
  // with our explicit 200.
  if (size === 0) return new Response(new Uint8Array(0), { status: 200, headers });
  return new Response(request.headers.has('range') ? blob.slice(0, size) : blob, { status: 200, headers });
}

/**
 * A 200 carrying bytes as they arrive (the pull-through mirror's copy of an upstream layer), with
 * Content-Length when the size is known. A stream that errors cuts the transfer: the client sees
 * fewer bytes than announced, or a chunked body without its end, never a complete-looking one.
 */
export function streamReply(stream: ReadableStream<Uint8Array>, size: number | null, extra: Record<string, string> = {}): Response {
  const headers: Record<string, string> = {
    ...extra,
    'content-type': 'application/octet-stream',
    'accept-ranges': 'bytes',
    'content-disposition': 'attachment',
  };
  if (size !== null) headers['content-length'] = String(size);
  return new Response(stream, { status: 200, headers });
}
