/**
 * A chunked V2 upload completed on S3 (fauxqs): each PATCH is an object of its own, and the PUT
 * makes the blob of several of them. Where S3's part rules allow (every chunk but the last at
 * least 5 MiB) the storage composes them itself (a multipart upload of UploadPartCopy parts) and
 * no byte of the layer passes through the registry; otherwise they are streamed through it.
 */
import { describe, expect, spyOn, test } from 'bun:test';
import type { S3Driver } from '../../../src/storage/s3/driver.ts';
import { randomBytes } from '../../../dev/ids.ts';
import type { TestApp } from '../../helpers/app.ts';
import { s3AppsPerFile } from '../../helpers/s3-app.ts';
import { sha256 } from '../../helpers/v2.ts';

const NAME = 'acme/chunked';
const MiB = 1024 * 1024;

const s3App = s3AppsPerFile();

/** POSTs a session and PATCHes `chunks` into it, in order; returns its location. */
async function chunkedSession(app: TestApp, chunks: Uint8Array[]): Promise<string> {
  const r = await app.req('POST', `/v2/${NAME}/blobs/uploads/`);
  expect(r.status).toBe(202);
  let location = r.headers.get('location')!;
  let offset = 0;
  for (const chunk of chunks) {
    const headers = { 'content-range': `${offset}-${offset + chunk.byteLength - 1}`, 'content-type': 'application/octet-stream' };
    const p = await app.req('PATCH', location, { body: chunk.slice(), headers });
    expect(p.status).toBe(202);
    location = p.headers.get('location') ?? location;
    offset += chunk.byteLength;
  }
  return location;
}

/** Completes the session while recording which keys the storage was asked to read or write. */
async function completeWatched(app: TestApp, storage: S3Driver, location: string, digest: string) {
  const read = spyOn(storage, 'read');
  const writer = spyOn(storage, 'writer');
  const concat = spyOn(storage, 'concat');
  try {
    const put = await app.req('PUT', `${location}${location.includes('?') ? '&' : '?'}digest=${digest}`);
    return {
      status: put.status,
      reads: read.mock.calls.map(([key]) => key),
      writes: writer.mock.calls.map(([key]) => key),
      composed: await Promise.all(concat.mock.results.map((r) => r.value as Promise<boolean>)),
    };
  } finally {
    read.mockRestore();
    writer.mockRestore();
    concat.mockRestore();
  }
}

async function expectBlob(app: TestApp, digest: string, bytes: Uint8Array): Promise<void> {
  const r = await app.req('GET', `/v2/${NAME}/blobs/${digest}`);
  expect(r.status).toBe(200);
  const got = new Uint8Array(await r.arrayBuffer());
  expect(got.byteLength).toBe(bytes.byteLength);
  expect(Buffer.compare(Buffer.from(got), Buffer.from(bytes))).toBe(0);
}

describe('V2 chunked upload completed on S3', () => {
  test('chunks of 5 MiB and a small last one become the blob on the server: nothing read or written through the registry', async () => {
    const { app, storage } = await s3App();
    try {
      const chunks = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(4321)];
      const bytes = new Uint8Array(Buffer.concat(chunks));
      const digest = sha256(bytes);
      const location = await chunkedSession(app, chunks);
      const done = await completeWatched(app, storage, location, digest);
      expect(done.status).toBe(201);
      expect(done.composed).toEqual([true]);
      expect(done.reads).toEqual([]);
      expect(done.writes).toEqual([]);
      await expectBlob(app, digest, bytes);
      // the chunks went with the session
      expect(await storage.list('uploads').catch(() => [])).toEqual([]);
    } finally {
      app.close();
    }
  }, 60_000);

  test('a chunk other than the last under 5 MiB: the chunks are streamed through the registry instead, byte-exact', async () => {
    const { app, storage } = await s3App();
    try {
      const chunks = [randomBytes(5 * MiB), randomBytes(100_000), randomBytes(5 * MiB)];
      const bytes = new Uint8Array(Buffer.concat(chunks));
      const digest = sha256(bytes);
      const location = await chunkedSession(app, chunks);
      const done = await completeWatched(app, storage, location, digest);
      expect(done.status).toBe(201);
      expect(done.composed).toEqual([false]);
      expect(done.reads.filter((k) => k.startsWith('uploads/'))).toHaveLength(3);
      expect(done.writes.filter((k) => k.startsWith('blobs/'))).toHaveLength(1);
      await expectBlob(app, digest, bytes);
      expect(await storage.list('uploads').catch(() => [])).toEqual([]);
    } finally {
      app.close();
    }
  }, 60_000);
});
