/** V2 manifests: pull by tag or digest (GET/HEAD), push, delete. */
import { Elysia } from 'elysia';
import { readLimited } from '../../http/body.ts';
import { ROUTES } from '../../http/route-table.ts';
import type { ManifestRecord } from '../../db/meta.ts';
import type { ManifestService } from '../../services/manifests.ts';
import { models } from '../models.ts';
import { API_VERSION, check, emptyReply, namePath, NO_BODY, repositoryOf, type V2Guard } from './common.ts';
import { manifestDocs, manifestParams } from './manifests.model.ts';

/**
 * The reply headers of a manifest, built once per digest and media type and copied into each
 * reply: a digest names fixed bytes, so its length and digest headers never change; the media type
 * is part of the key because bytes without a `mediaType` field take the one their PUT declared,
 * which two repositories may have declared differently (bounded, oldest first).
 */
const headersByDigest = new Map<string, Headers>();

function replyHeaders(m: ManifestRecord): Headers {
  const key = `${m.digest} ${m.mediaType}`;
  let headers = headersByDigest.get(key);
  if (headers === undefined) {
    headers = new Headers({
      ...API_VERSION,
      'content-type': m.mediaType,
      'content-length': String(m.content.byteLength),
      'docker-content-digest': m.digest,
      etag: `"${m.digest}"`,
    });
    if (headersByDigest.size >= 1000) headersByDigest.delete(headersByDigest.keys().next().value!);
    headersByDigest.set(key, headers);
  }
  return headers;
}

/** GET (and HEAD) of a manifest by tag or digest, for the app's route and native dispatch (native.ts). */
export function manifestGet(manifests: ManifestService, guard: V2Guard | null) {
  return async (request: Request, name: string, reference: string): Promise<Response> => {
    const ref = repositoryOf({ name });
    // not through check(): no promise to wait for in open mode (a hot path)
    if (guard) await guard(request, ref, ['pull']);
    const m = await manifests.get(ref, reference);
    // a HEAD gets the same reply: Bun.serve sends its headers (Content-Length included) without the body
    return new Response(m.content, { status: 200, headers: replyHeaders(m) });
  };
}

export function manifestRoutes(manifests: ManifestService, guard: V2Guard | null, opts: { maxManifestSize: number }) {
  const docs = manifestDocs();
  const get = manifestGet(manifests, guard);
  return new Elysia({ name: 'routes.v2.manifests' })
    .use(models)
    .get(ROUTES.v2GetManifest.path, ({ params, request }) => get(request, params.name, params.reference), { params: manifestParams, ...docs.get })
    .put(
      ROUTES.v2PutManifest.path,
      async ({ params, request }) => {
        const ref = repositoryOf(params);
        await check(guard, request, ref, ['pull', 'push']);
        // one byte over the limit is enough to refuse it (the service says 413 SIZE_INVALID)
        const content = await readLimited(request, opts.maxManifestSize + 1);
        const stored = await manifests.put(ref, params.reference, content, request.headers.get('content-type'));
        const headers: Record<string, string> = { location: `${namePath(params)}/manifests/${stored.digest}`, 'docker-content-digest': stored.digest, ...NO_BODY };
        if (stored.subject) headers['oci-subject'] = stored.subject;
        return emptyReply(201, headers);
      },
      { parse: 'none', params: manifestParams, ...docs.put },
    )
    .delete(
      ROUTES.v2DeleteManifest.path,
      async ({ params, request }) => {
        const ref = repositoryOf(params);
        await check(guard, request, ref, ['delete']);
        await manifests.delete(ref, params.reference);
        return emptyReply(202, NO_BODY);
      },
      { params: manifestParams, ...docs.delete },
    );
}
