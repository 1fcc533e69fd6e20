/**
 * E3–E10: image json, layer, checksum, ancestry, files, diff. Routes shape replies only. Over 300
 * lines because the eight routes carry their OpenAPI documents; the hot GETs (json, ancestry) are
 * definitions shared with native dispatch (http/native-route.ts).
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
import {
  binaryBody,
  jsonBody,
  ok,
  operation,
  tokenRequired,
  v1Error,
  withAuthorization,
} from '../../http/openapi.ts';
import {
  cacheableGetHeaders,
  cacheHeaderDocs,
  checksumHeaders,
  imageParams,
  layerGetHeaders,
  layerPutHeaders,
  metadataReplies,
  notFound,
  notModifiedDoc,
  uploading,
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
      detail: operation({
        operationId: 'getImageJson',
        tag: 'images',
        summary: 'Get an image json, exactly as uploaded',
        responses: {
          200: {
            description: 'The image json, byte for byte',
            body: 'ImageJson',
            headers: {
              ...cacheHeaderDocs,
              'X-Docker-Size': { description: 'Layer size in bytes', schema: { type: 'integer' } },
              'X-Docker-Checksum-Payload': { description: 'Payload checksum of the image (`sha256:<hex>`)' },
            },
          },
          ...metadataReplies(),
        },
      }),
    }),
    getImageAncestry: defineRoute({
      route: ROUTES.getImageAncestry,
      params: imageParams,
      headers: metadataHeaders,
      guard,
      handler: cacheable(images, (image) => v1Json(image.ancestry)),
      detail: operation({
        operationId: 'getImageAncestry',
        tag: 'images',
        summary: 'Get the ids of an image and its parents, newest first',
        responses: { 200: { description: 'The ancestry', body: 'Ancestry', headers: cacheHeaderDocs }, ...metadataReplies() },
      }),
    }),
  };
}

export type ImageDefinitions = ReturnType<typeof imageDefinitions>;

export function imageRoutes(images: ImageService, opts: ImageRouteOptions, defs: ImageDefinitions) {
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
        ...operation({
          operationId: 'getImageLayer',
          tag: 'images',
          summary: 'Download an image layer (ranges supported)',
          description:
            'The layer bytes of a complete image, sent as stored (zero-copy from disk). One byte range gives a 206; ' +
            'malformed or multiple ranges give the whole layer. With storage redirects on and a driver that can ' +
            'sign URLs, the reply is a 302 to the storage URL instead.',
          responses: {
            200: {
              description: 'The whole layer',
              body: 'binary',
              headers: {
                ...cacheHeaderDocs,
                'Content-Length': { description: 'Layer size in bytes', schema: { type: 'integer' } },
                'Accept-Ranges': { description: '`bytes`' },
              },
            },
            206: {
              description: 'The requested byte range',
              body: 'binary',
              headers: { ...cacheHeaderDocs, 'Content-Range': { description: '`bytes <first>-<last>/<size>`' } },
            },
            302: {
              description: 'Redirect to the storage URL (storage_redirect on, driver with URLs)',
              headers: { Location: { description: 'Where to download the layer' } },
            },
            304: notModifiedDoc,
            400: uploading,
            401: tokenRequired,
            404: notFound,
            416: {
              ...v1Error(['RANGE_NOT_SATISFIABLE']),
              headers: { 'Content-Range': { description: '`bytes */<size>`' } },
            },
            503: v1Error(['STORAGE_FAILURE']),
          },
        }),
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
        ...operation({
          operationId: 'putImageLayer',
          tag: 'images',
          summary: 'Upload an image layer (raw body, streamed)',
          description:
            'Second step of a push, after PUT json: the body is streamed to storage while its payload checksum is ' +
            'computed, and committed only once complete. The Content-Type is ignored.',
          requestBody: binaryBody('The layer (a tar archive, possibly compressed), sent as is; chunked or with Content-Length'),
          responses: {
            200: ok('Layer stored'),
            400: v1Error(['LAYER_SIZE_MISMATCH', 'UPLOAD_ABORTED']),
            401: tokenRequired,
            404: notFound,
            409: v1Error(['IMAGE_EXISTS', 'IMAGE_JSON_CHANGED'], 'the image is complete, or a concurrent PUT json replaced its json'),
            412: v1Error(['DOCKER_TOO_OLD'], 'from the User-Agent'),
            413: v1Error(['BODY_TOO_LARGE'], 'beyond max_body_size'),
            503: v1Error(['STORAGE_FAILURE']),
          },
        }),
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
        ...operation({
          operationId: 'putImageChecksum',
          tag: 'images',
          summary: 'Verify the payload checksum and complete the image',
          description:
            'Last step of a push: compares X-Docker-Checksum-Payload (or, for old clients, the X-Docker-Checksum ' +
            'tarsum) with the uploaded layer and makes the image visible. No body.',
          responses: {
            200: ok('Image complete'),
            400: v1Error(['CHECKSUM_MISSING', 'CHECKSUM_MISMATCH', 'LAYER_NOT_UPLOADED']),
            401: tokenRequired,
            404: notFound,
            409: v1Error(['CHECKSUM_CANNOT_SET'], 'the image is complete'),
            412: v1Error(['CHECKSUM_PAYLOAD_NOT_SET'], 'and no tarsum+ X-Docker-Checksum'),
            503: v1Error(['STORAGE_FAILURE']),
          },
        }),
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
        ...operation({
          operationId: 'putImageJson',
          tag: 'images',
          summary: 'Upload an image json (starts the upload)',
          description: 'First step of a push: stores the json as sent and (re)starts the upload of an image that is not complete.',
          requestBody: jsonBody('ImageJson', 'The image json, stored byte for byte'),
          responses: {
            200: ok('Upload started'),
            400: v1Error([
              'INVALID_JSON',
              'JSON_MISSING_ID',
              'JSON_INVALID_ID',
              'JSON_INVALID_PARENT',
              'PARENT_NOT_FOUND',
              'UPLOAD_ABORTED',
              'IMAGE_NOT_IN_REPOSITORY',
            ]),
            401: tokenRequired,
            404: v1Error(['INVALID_IMAGE_ID']),
            409: v1Error(['IMAGE_EXISTS'], 'the image is complete'),
            413: v1Error(['BODY_TOO_LARGE'], 'beyond max_json_size'),
          },
        }),
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
        ...operation({
          operationId: 'getImageFiles',
          tag: 'images',
          summary: "List the files of an image's layer",
          description: 'Computed from the layer tar on first request, then cached.',
          responses: {
            200: { description: 'The file list', body: 'FileList', headers: cacheHeaderDocs },
            ...metadataReplies({
              400: v1Error(['IMAGE_UPLOADING', 'LAYER_FORMAT']),
              503: v1Error(['STORAGE_FAILURE']),
            }),
          },
        }),
      },
    )
    .get(
      ROUTES.getImageDiff.path,
      cacheable(images, (image) => images.diff(image)),
      {
        params: imageParams,
        headers: withAuthorization(cacheableGetHeaders),
        ...operation({
          operationId: 'getImageDiff',
          tag: 'images',
          summary: "Compare an image's files with its ancestors'",
          description: 'Computed on demand from the file lists of the image and its ancestors, then cached.',
          responses: {
            200: { description: 'The diff', body: 'LayerDiff', headers: cacheHeaderDocs },
            ...metadataReplies({
              400: v1Error(['IMAGE_UPLOADING', 'LAYER_FORMAT'], 'for the image or an ancestor'),
              503: v1Error(['STORAGE_FAILURE']),
            }),
          },
        }),
      },
    );
}
