/** E3–E10: image json, layer, checksum, ancestry, files, diff. Routes shape replies only. */
import { Elysia } from 'elysia';
import { RegistryError } from '../../errors.ts';
import { readLimited } from '../../http/body.ts';
import { parseRange } from '../../http/range.ts';
import { v1Json } from '../../http/v1-json.ts';
import {
  cachedJsonReply,
  cacheHeaders,
  jsonReply,
  notModified,
  notModifiedReply,
} from '../../http/reply.ts';
import type { ImageRecord } from '../../db/meta.ts';
import type { ImageService } from '../../services/images.ts';

export interface ImageRouteOptions {
  maxJsonSize: number;
}


function declaredLength(request: Request): number | null {
  if (request.headers.has('transfer-encoding')) return null;
  const v = request.headers.get('content-length');
  return v !== null && /^\d+$/.test(v) ? Number(v) : null;
}

export function imageRoutes(images: ImageService, opts: ImageRouteOptions) {
  const detail = (summary: string) => ({ detail: { tags: ['images'], summary } });
  /** A GET of a complete image's immutable metadata: 304 when the client has it already. */
  const cacheable =
    (build: (image: ImageRecord) => Promise<string | Uint8Array> | string | Uint8Array, headers?: (image: ImageRecord) => Headers) =>
    async ({ params, request }: { params: { id: string }; request: Request }) => {
      const image = await images.ready(params.id);
      const lastModified = new Date(image.updatedAt);
      if (notModified(request.headers.get('if-modified-since'), lastModified)) return notModifiedReply(lastModified);
      return cachedJsonReply(await build(image), lastModified, headers?.(image));
    };
  return new Elysia({ name: 'routes.images', prefix: '/v1/images' })
    .get(
      '/:id/layer',
      async ({ params, request }) => {
        const source = await images.layer(params.id);
        if (source.kind === 'redirect') {
          return new Response(null, { status: 302, headers: { location: source.url, 'cache-control': 'no-cache' } });
        }
        const { blob, size, lastModified } = source;
        if (notModified(request.headers.get('if-modified-since'), lastModified)) return notModifiedReply(lastModified);
        const headers: Record<string, string> = {
          ...cacheHeaders(lastModified),
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
        // A whole BunFile goes out with sendfile(2). Bun would turn a `Range` request into a 206 by
        // itself; ranges were decided above (malformed or multi-range → whole body), so send a
        // slice covering the whole file, which Bun leaves alone, with our explicit 200.
        if (size === 0) return new Response(new Uint8Array(0), { status: 200, headers });
        return new Response(request.headers.has('range') ? blob.slice(0, size) : blob, { status: 200, headers });
      },
      detail('Download an image layer (ranges supported)'),
    )
    .put(
      '/:id/layer',
      async ({ params, request }) => {
        await images.putLayer(
          params.id,
          { stream: request.body, declaredLength: declaredLength(request) },
          request.headers.get('user-agent'),
        );
        return jsonReply();
      },
      { parse: 'none', ...detail('Upload an image layer (raw body, streamed)') },
    )
    .put(
      '/:id/checksum',
      async ({ params, request }) => {
        await images.putChecksum(
          params.id,
          request.headers.get('x-docker-checksum-payload'),
          request.headers.get('x-docker-checksum'),
        );
        return jsonReply();
      },
      { parse: 'none', ...detail('Verify the payload checksum and complete the image') },
    )
    .get(
      '/:id/json',
      cacheable(
        (image) => image.json,
        (image) => {
          const h = new Headers();
          if (image.layerSize !== null) h.set('x-docker-size', String(image.layerSize));
          for (const c of image.checksums) h.append('x-docker-checksum-payload', c);
          return h;
        },
      ),
      detail('Get an image json, exactly as uploaded'),
    )
    .put(
      '/:id/json',
      async ({ params, request }) => {
        await images.putJson(params.id, await readLimited(request, opts.maxJsonSize));
        return jsonReply();
      },
      { parse: 'none', ...detail('Upload an image json (starts the upload)') },
    )
    .get(
      '/:id/ancestry',
      cacheable((image) => v1Json(image.ancestry)),
      detail('Get the ids of an image and its parents, newest first'),
    )
    .get(
      '/:id/files',
      cacheable((image) => images.files(image)),
      detail("List the files of an image's layer"),
    )
    .get(
      '/:id/diff',
      cacheable((image) => images.diff(image)),
      detail("Compare an image's files with its ancestors'"),
    );
}
