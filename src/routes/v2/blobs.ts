/** V2 blobs and blob uploads: pull (GET/HEAD), delete, and every way of pushing one. */
import { Elysia } from 'elysia';
import { RegistryError } from '../../errors.ts';
import { blobReply, streamedBlobReply } from '../../http/blob-reply.ts';
import { declaredLength } from '../../http/body.ts';
import { ROUTES } from '../../http/route-table.ts';
import type { UploadRecord } from '../../db/meta.ts';
import { rangeHeader, type BlobService, type ChunkRange } from '../../services/blobs.ts';
import { v2RepoRef } from '../../services/names.ts';
import { models } from '../models.ts';
import { API_VERSION, check, emptyReply, namePath, NO_BODY, repositoryOf, type V2Guard } from './common.ts';
import { blobDocs, blobParams, putUploadQuery, sessionParams, startUploadQuery } from './blobs.model.ts';
import { nameParams } from './common.model.ts';

const body = (request: Request) => ({ stream: request.body, declaredLength: declaredLength(request) });

/** `Content-Range: <start>-<end>` of a PATCH (a `bytes ` prefix is tolerated); null when absent. */
function chunkRange(request: Request): ChunkRange | null {
  const header = request.headers.get('content-range');
  if (header === null) return null;
  const m = /^\s*(?:bytes[ =])?(\d{1,15})-(\d{1,15})(?:\/(?:\d{1,15}|\*))?\s*$/.exec(header);
  if (!m || Number(m[2]) < Number(m[1])) throw new RegistryError('V2_CHUNK_OUT_OF_ORDER', 'Content-Range must be <start>-<end>');
  return { start: Number(m[1]), end: Number(m[2]) };
}

/** 202 with where the session stands (POST, PATCH) or 204 (GET status). */
function sessionReply(name: string, session: UploadRecord, status: 202 | 204): Response {
  return emptyReply(status, {
    location: `${name}/blobs/uploads/${session.id}`,
    range: rangeHeader(session.offset),
    'docker-upload-uuid': session.id,
    ...NO_BODY,
  });
}

const createdReply = (name: string, digest: string): Response =>
  emptyReply(201, { location: `${name}/blobs/${digest}`, 'docker-content-digest': digest, ...NO_BODY });

export function blobRoutes(blobs: BlobService, guard: V2Guard | null) {
  const docs = blobDocs();
  return new Elysia({ name: 'routes.v2.blobs' })
    .use(models)
    .get(
      ROUTES.v2GetBlob.path,
      async ({ params, request }) => {
        const ref = repositoryOf(params);
        await check(guard, request, ref, ['pull']);
        const source = await blobs.get(ref, params.digest, { head: request.method === 'HEAD', range: request.headers.has('range') });
        if (source.kind === 'upstream') {
          return streamedBlobReply(source.stream, source.size, { ...API_VERSION, 'docker-content-digest': source.digest, etag: `"${source.digest}"` });
        }
        const digest = source.record.digest;
        if (source.kind === 'redirect') return emptyReply(307, { location: source.url, 'docker-content-digest': digest });
        return blobReply(request, source.blob, source.record.size, { ...API_VERSION, 'docker-content-digest': digest, etag: `"${digest}"` });
      },
      { params: blobParams, ...docs.getBlob },
    )
    .delete(
      ROUTES.v2DeleteBlob.path,
      async ({ params, request }) => {
        const ref = repositoryOf(params);
        await check(guard, request, ref, ['delete']);
        await blobs.delete(ref, params.digest);
        return emptyReply(202, NO_BODY);
      },
      { params: blobParams, ...docs.deleteBlob },
    )
    .post(
      ROUTES.v2StartUpload.path,
      async ({ params, request, query }) => {
        const ref = repositoryOf(params);
        await check(guard, request, ref, ['pull', 'push']);
        const name = namePath(params);
        if (query.mount && query.from) {
          const from = v2RepoRef(query.from);
          // a mount the caller may not read from is an ordinary upload (as distribution does)
          const readable = await check(guard, request, from, ['pull']).then(() => true, () => false);
          const mounted = readable ? await blobs.mount(ref, from, query.mount) : null;
          if (mounted) return createdReply(name, mounted.digest);
        }
        if (query.digest !== undefined) {
          const record = await blobs.putMonolithic(ref, query.digest, body(request));
          return createdReply(name, record.digest);
        }
        return sessionReply(name, await blobs.startUpload(ref), 202);
      },
      {
        parse: 'none',
        params: nameParams,
        query: startUploadQuery,
        ...docs.startUpload,
      },
    )
    .get(
      ROUTES.v2UploadStatus.path,
      async ({ params, request }) => {
        const ref = repositoryOf(params);
        await check(guard, request, ref, ['pull', 'push']);
        return sessionReply(namePath(params), await blobs.session(ref, params.session), 204);
      },
      { params: sessionParams, ...docs.uploadStatus },
    )
    .patch(
      ROUTES.v2PatchUpload.path,
      async ({ params, request }) => {
        const ref = repositoryOf(params);
        await check(guard, request, ref, ['pull', 'push']);
        const session = await blobs.appendChunk(ref, params.session, body(request), chunkRange(request));
        return sessionReply(namePath(params), session, 202);
      },
      { parse: 'none', params: sessionParams, ...docs.patchUpload },
    )
    .put(
      ROUTES.v2PutUpload.path,
      async ({ params, request, query }) => {
        const ref = repositoryOf(params);
        await check(guard, request, ref, ['pull', 'push']);
        const record = await blobs.complete(ref, params.session, query.digest ?? null, body(request));
        return createdReply(namePath(params), record.digest);
      },
      {
        parse: 'none',
        params: sessionParams,
        query: putUploadQuery,
        ...docs.putUpload,
      },
    )
    .delete(
      ROUTES.v2CancelUpload.path,
      async ({ params, request }) => {
        const ref = repositoryOf(params);
        await check(guard, request, ref, ['pull', 'push']);
        await blobs.cancel(ref, params.session);
        return emptyReply(204);
      },
      { params: sessionParams, ...docs.cancelUpload },
    );
}
