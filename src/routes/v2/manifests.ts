/** V2 manifests: pull by tag or digest (GET/HEAD), push, delete. */
import { Elysia, t } from 'elysia';
import { readLimited } from '../../http/body.ts';
import { ROUTES } from '../../http/route-table.ts';
import type { ManifestService } from '../../services/manifests.ts';
import { API_VERSION, check, namePath, repositoryOf, v2Operation, type V2Guard } from './common.ts';

const manifestParams = t.Object({
  name: t.String({ description: 'Repository name (`a/b/c`; one-part names mean `library/<name>`)' }),
  reference: t.String({ description: 'A tag (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`) or a digest' }),
});

const auth = { 401: 'auth: token: a Bearer token with the needed scope is required', 403: 'auth: token: the scope is not granted' };

function manifestDocs() {
  return {
    get: v2Operation('v2GetManifest', 'Fetch a manifest by tag or digest (HEAD: only its headers)', {
      200: 'The manifest as pushed (`Content-Type` its media type, `Docker-Content-Digest`)',
      400: 'DIGEST_INVALID or MANIFEST_INVALID (malformed reference), NAME_INVALID',
      404: 'MANIFEST_UNKNOWN',
      ...auth,
    }),
    put: v2Operation(
      'v2PutManifest',
      'Push a manifest (OCI image manifest or index, Docker schema 2 manifest or manifest list) by tag or digest',
      {
        201: 'Stored; `Location`, `Docker-Content-Digest`, and `OCI-Subject` when it has a subject',
        400: 'MANIFEST_INVALID (not JSON, wrong schema, media type mismatch), DIGEST_INVALID (not the digest in the path)',
        404: 'MANIFEST_BLOB_UNKNOWN: a blob or child manifest it references is not in the repository',
        413: 'SIZE_INVALID: over the JSON size limit',
        ...auth,
      },
    ),
    delete: v2Operation('v2DeleteManifest', 'Delete a tag (by tag) or a manifest and its tags (by digest)', {
      202: 'Deleted',
      404: 'MANIFEST_UNKNOWN',
      ...auth,
    }),
  };
}

/** GET (and HEAD) of a manifest by tag or digest, for the app's route and native dispatch (native.ts). */
export function manifestGet(manifests: ManifestService, guard: V2Guard | null) {
  return async (request: Request, name: string, reference: string): Promise<Response> => {
    const ref = repositoryOf({ name });
    await check(guard, request, ref, ['pull']);
    const m = await manifests.get(ref, reference);
    const headers = {
      ...API_VERSION,
      'content-type': m.mediaType,
      'content-length': String(m.content.byteLength),
      'docker-content-digest': m.digest,
      etag: `"${m.digest}"`,
    };
    // a HEAD gets the same reply: Bun.serve sends its headers (Content-Length included) without the body
    return new Response(m.content, { status: 200, headers });
  };
}

export function manifestRoutes(manifests: ManifestService, guard: V2Guard | null, opts: { maxManifestSize: number }) {
  const docs = manifestDocs();
  const get = manifestGet(manifests, guard);
  return new Elysia({ name: 'routes.v2.manifests' })
    .get(ROUTES.v2GetManifest.path, ({ params, request }) => get(request, params.name, params.reference), { params: manifestParams, ...docs.get })
    .put(
      ROUTES.v2PutManifest.path,
      async ({ params, request }) => {
        const ref = repositoryOf(params);
        await check(guard, request, ref, ['pull', 'push']);
        // one byte over the limit is enough to refuse it (the service says 413 SIZE_INVALID)
        const content = await readLimited(request, opts.maxManifestSize + 1);
        const stored = await manifests.put(ref, params.reference, content, request.headers.get('content-type'));
        const headers: Record<string, string> = {
          ...API_VERSION,
          location: `${namePath(params)}/manifests/${stored.digest}`,
          'docker-content-digest': stored.digest,
          'content-length': '0',
        };
        if (stored.subject) headers['oci-subject'] = stored.subject;
        return new Response(null, { status: 201, headers });
      },
      { parse: 'none', params: manifestParams, ...docs.put },
    )
    .delete(
      ROUTES.v2DeleteManifest.path,
      async ({ params, request }) => {
        const ref = repositoryOf(params);
        await check(guard, request, ref, ['delete']);
        await manifests.delete(ref, params.reference);
        return new Response(null, { status: 202, headers: { ...API_VERSION, 'content-length': '0' } });
      },
      { params: manifestParams, ...docs.delete },
    );
}
