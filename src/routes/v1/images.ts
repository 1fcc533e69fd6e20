/**
 * E3–E10: image json, layer, checksum, ancestry, files, diff. Routes shape replies only; their
 * models, parameters and OpenAPI operations are in images.model.ts. The hot GETs (json, ancestry)
 * are definitions shared with native dispatch (http/native-route.ts).
 */
import { Elysia } from 'elysia';
import { RegistryError } from '../../errors.ts';
import { guardPlugin, imageCheck } from '../../http/auth.ts';
import { defineRoute, registerRoute } from '../../http/native-route.ts';
import { readLimited } from '../../http/body.ts';
import { ROUTES } from '../../http/route-table.ts';
import { parseRange } from '../../http/range.ts';
import { v1Json } from '../../http/v1-json.ts';
import {
  cachedJsonReply,
  cacheHeaders,
  jsonReply,
  notModified,
  notModifiedReply,
} from '../../http/reply.ts';
import { withAuthorization } from '../../http/openapi.ts';
import {
  cacheableGetHeaders,
  checksumHeaders,
  imageDocs,
  imageParams,
  layerGetHeaders,
  layerPutHeaders,
} from './images.model.ts';
import { models } from './models.ts';
import type { ImageRecord } from '../../db/meta.ts';
import type { AuthService } from '../../services/auth.ts';
import type { ImageService } from '../../services/images.ts';

export interface ImageRouteOptions {
  maxJsonSize: number;
}

function declaredLength(request: Request): number | null {
  if (request.headers.has('transfer-encoding')) return null;
  const v = request.headers.get('content-length');
  return v !== null && /^\d+$/.test(v) ? Number(v) : null;
}

/** A GET of a complete image's immutable metadata: 304 when the client has it already. */
const cacheable =
  (images: ImageService, build: (image: ImageRecord) => Promise<string | Uint8Array> | string | Uint8Array, headers?: (image: ImageRecord) => Headers) =>
  async ({ params, request }: { params: { id: string }; request: Request }) => {
    const image = await images.ready(params.id);
    const lastModified = new Date(image.updatedAt);
    if (notModified(request.headers.get('if-modified-since'), lastModified)) return notModifiedReply(lastModified);
    return cachedJsonReply(await build(image), lastModified, headers?.(image));
  };

const metadataHeaders = withAuthorization(cacheableGetHeaders);

/**
 * The hot GETs (image json, ancestry), defined once: the app registers them (imageRoutes) and the
 * server dispatches them natively (app/fetch.ts nativeRoutes).
 */
export function imageDefinitions(images: ImageService, auth: AuthService | null = null) {
  const guard = imageCheck(auth);
  const docs = imageDocs();
  return {
    guard,
    getImageJson: defineRoute({
      route: ROUTES.getImageJson,
      params: imageParams,
      headers: metadataHeaders,
      guard,
      handler: cacheable(
        images,
        (image) => image.json,
        (image) => {
          const h = new Headers();
          if (image.layerSize !== null) h.set('x-docker-size', String(image.layerSize));
          for (const c of image.checksums) h.append('x-docker-checksum-payload', c);
          return h;
        },
      ),
      detail: docs.getImageJson,
    }),
    getImageAncestry: defineRoute({
      route: ROUTES.getImageAncestry,
      params: imageParams,
      headers: metadataHeaders,
      guard,
      handler: cacheable(images, (image) => v1Json(image.ancestry)),
      detail: docs.getImageAncestry,
    }),
  };
}

export type ImageDefinitions = ReturnType<typeof imageDefinitions>;

export function imageRoutes(images: ImageService, opts: ImageRouteOptions, defs: ImageDefinitions) {
  const docs = imageDocs();
  const plugin = new Elysia({ name: 'routes.images' })
    .use(models)
    .use(guardPlugin(defs.guard))
    .get(
      ROUTES.getImageLayer.path,
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
      {
        params: imageParams,
        headers: withAuthorization(layerGetHeaders),
        ...docs.getImageLayer,
      },
    )
    .put(
      ROUTES.putImageLayer.path,
      async ({ params, request }) => {
        await images.putLayer(
          params.id,
          { stream: request.body, declaredLength: declaredLength(request) },
          request.headers.get('user-agent'),
        );
        return jsonReply();
      },
      {
        parse: 'none',
        params: imageParams,
        headers: withAuthorization(layerPutHeaders),
        ...docs.putImageLayer,
      },
    )
    .put(
      ROUTES.putImageChecksum.path,
      async ({ params, request }) => {
        await images.putChecksum(
          params.id,
          request.headers.get('x-docker-checksum-payload'),
          request.headers.get('x-docker-checksum'),
        );
        return jsonReply();
      },
      {
        parse: 'none',
        params: imageParams,
        headers: withAuthorization(checksumHeaders),
        ...docs.putImageChecksum,
      },
    );
  registerRoute(plugin, defs.getImageJson);
  plugin
    .put(
      ROUTES.putImageJson.path,
      async ({ params, request }) => {
        await images.putJson(params.id, await readLimited(request, opts.maxJsonSize));
        return jsonReply();
      },
      {
        parse: 'none',
        params: imageParams,
        headers: withAuthorization(),
        ...docs.putImageJson,
      },
    );
  registerRoute(plugin, defs.getImageAncestry);
  return plugin
    .get(
      ROUTES.getImageFiles.path,
      cacheable(images, (image) => images.files(image)),
      {
        params: imageParams,
        headers: withAuthorization(cacheableGetHeaders),
        ...docs.getImageFiles,
      },
    )
    .get(
      ROUTES.getImageDiff.path,
      cacheable(images, (image) => images.diff(image)),
      {
        params: imageParams,
        headers: withAuthorization(cacheableGetHeaders),
        ...docs.getImageDiff,
      },
    );
}
