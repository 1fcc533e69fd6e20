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

/** What a HEAD's stand-in body is made of (never sent, see streamedBlobReply); made on first use. */
let zeros: Uint8Array | null = null;

/** `size` bytes, as chunks of one shared zero buffer: a HEAD's body, only ever counted. */
function countedBody(size: number): ReadableStream<Uint8Array> {
  const chunk = (zeros ??= new Uint8Array(1 << 20));
  let left = size;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (left === 0) return c.close();
      const n = Math.min(left, chunk.byteLength);
      left -= n;
      c.enqueue(chunk.subarray(0, n));
    },
  });
}

/**
 * A blob the pull-through mirror is fetching: 200 with the bytes as they arrive from upstream
 * (Content-Length when upstream announced one, though Bun.serve sends a stream chunked whatever it
 * is given, oven-sh/bun#10507); a copy that fails errors the stream, which cuts the client's
 * transfer. Without a stream (a HEAD) the body stands for `size` bytes and is never
 * sent: Elysia answers a HEAD through the GET route and sets Content-Length by counting the body.
 */
export function streamedBlobReply(stream: ReadableStream<Uint8Array> | null, size: number | null, extra: Record<string, string> = {}): Response {
  const headers: Record<string, string> = { ...extra, 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes', 'content-disposition': 'attachment' };
  if (size !== null) headers['content-length'] = String(size);
  return new Response(stream ?? countedBody(size ?? 0), { status: 200, headers });
}
