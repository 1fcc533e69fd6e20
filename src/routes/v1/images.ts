/**
 * E3–E10: image json, layer, checksum, ancestry, files, diff. Routes shape replies only; their
 * models, parameters and OpenAPI operations are in images.model.ts. The hot GETs (json, ancestry)
 * are definitions shared with native dispatch (http/native-route.ts).
 */
import { Elysia } from 'elysia';
import { guardPlugin, imageCheck } from '../../http/auth.ts';
import { defineRoute, registerRoute } from '../../http/native-route.ts';
import { declaredLength, readLimited } from '../../http/body.ts';
import { ROUTES } from '../../http/route-table.ts';
import { blobReply, streamedBlobReply } from '../../http/blob-reply.ts';
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
import { models } from '../models.ts';
import type { ImageRecord } from '../../db/meta.ts';
import type { AuthService } from '../../services/auth.ts';
import type { ImageService, ServedImage } from '../../services/images.ts';

export interface ImageRouteOptions {
  maxJsonSize: number;
}

/** A GET of a complete image's immutable metadata (`find`: how it is looked up): 304 when the client has it already. */
const cacheable =
  (find: (id: string) => Promise<ImageRecord>, build: (image: ImageRecord) => Promise<string | Uint8Array> | string | Uint8Array) =>
  async ({ params, request }: { params: { id: string }; request: Request }) => {
    const image = await find(params.id);
    const lastModified = new Date(image.updatedAt);
    if (notModified(request.headers.get('if-modified-since'), lastModified)) return notModifiedReply(lastModified);
    return cachedJsonReply(await build(image), lastModified);
  };

/** Like `cacheable`, for the GETs the pull-through mirror also answers (json, ancestry). */
const servable =
  (images: ImageService, build: (image: ServedImage) => string | Uint8Array, headers?: (image: ServedImage) => Headers) =>
  async ({ params, request }: { params: { id: string }; request: Request }) => {
    const image = await images.served(params.id, { authorization: request.headers.get('authorization') });
    const lastModified = new Date(image.updatedAt);
    if (notModified(request.headers.get('if-modified-since'), lastModified)) return notModifiedReply(lastModified);
    return cachedJsonReply(build(image), lastModified, headers?.(image));
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
      // a V1 push asks this before deciding not to upload the image: `served` touches it
      handler: servable(
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
      handler: servable(images, (image) => v1Json(image.ancestry)),
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
        // a layer the mirror fetches is streamed only to a plain GET; HEAD and ranges wait for the stored copy
        const stream = request.method === 'GET' && !request.headers.has('range');
        const source = await images.layer(params.id, { authorization: request.headers.get('authorization'), stream });
        if (source.kind === 'redirect') {
          return new Response(null, { status: 302, headers: { location: source.url, 'cache-control': 'no-cache' } });
        }
        if (source.kind === 'stream') return streamedBlobReply(source.stream, source.size, cacheHeaders(source.lastModified));
        const { blob, size, lastModified } = source;
        if (notModified(request.headers.get('if-modified-since'), lastModified)) return notModifiedReply(lastModified);
        return blobReply(request, blob, size, cacheHeaders(lastModified));
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
      cacheable((id) => images.ready(id), (image) => images.files(image)),
      {
        params: imageParams,
        headers: withAuthorization(cacheableGetHeaders),
        ...docs.getImageFiles,
      },
    )
    .get(
      ROUTES.getImageDiff.path,
      cacheable((id) => images.ready(id), (image) => images.diff(image)),
      {
        params: imageParams,
        headers: withAuthorization(cacheableGetHeaders),
        ...docs.getImageDiff,
      },
    );
}
