/**
 * Races between requests on one V2 upload session, made deterministic: request bodies are gated
 * ReadableStreams, and spies on driver methods run the other request at the exact step. Whatever
 * the interleaving, no blob is published whose bytes are not its digest's, a PATCH that lost the
 * race cannot destroy or replace the chunk of the one that won, and the answers are 4xx, not 5xx.
 * The S3 cases run against fauxqs (on S3 each PATCH is an object of its own).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { S3Driver } from '../../../src/storage/s3/driver.ts';
import { randomBytes } from '../../../dev/ids.ts';
import { startFauxqs, type S3TestServer } from '../../../dev/s3.ts';
import { makeApp, type TestApp } from '../../helpers/app.ts';
import { sha256 } from '../../helpers/v2.ts';

const NAME = 'acme/races';

async function start(app: TestApp): Promise<string> {
  const r = await app.req('POST', `/v2/${NAME}/blobs/uploads/`);
  expect(r.status).toBe(202);
  return r.headers.get('location')!;
}

const patch = (app: TestApp, location: string, body: Uint8Array | ReadableStream<Uint8Array>, start: number, length: number) =>
  app.req('PATCH', location, { body: body instanceof Uint8Array ? body.slice() : body, headers: { 'content-range': `${start}-${start + length - 1}`, 'content-type': 'application/octet-stream' } });

/** A body that sends `first`, then waits for `release()` before sending `rest` and ending. */
function gatedBody(first: Uint8Array, rest: Uint8Array = new Uint8Array(0)) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(first.slice());
      await gate;
      if (rest.byteLength > 0) controller.enqueue(rest.slice());
      controller.close();
    },
  });
  return { stream, release };
}

const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

/** The blob under `digest` is exactly `bytes`, or it is not there at all. */
async function expectBlobIsItsDigest(app: TestApp, digest: string): Promise<void> {
  const r = await app.req('GET', `/v2/${NAME}/blobs/${digest}`);
  if (r.status === 404) return;
  expect(r.status).toBe(200);
  expect(sha256(new Uint8Array(await r.arrayBuffer()))).toBe(digest);
}

let server: S3TestServer;
beforeAll(async () => {
  server = await startFauxqs();
});
afterAll(async () => {
  await server?.stop();
});

async function s3App(): Promise<{ app: TestApp; storage: S3Driver }> {
  const storage = new S3Driver(server.driverOptions({ bucket: await server.newBucket() }));
  return { app: makeApp({}, storage), storage };
}

describe('V2 upload races on S3 (fauxqs)', () => {
  test('two PATCHes at once in one process do not share the session\'s running hash', async () => {
    const { app } = await s3App();
    try {
      const location = await start(app);
      const head = randomBytes(10_000);
      expect((await patch(app, location, head, 0, head.byteLength)).status).toBe(202);
      const a = randomBytes(10_000);
      const b = randomBytes(10_000);
      // A has hashed its bytes and waits; B (same offset) is received whole and recorded
      const slow = gatedBody(a);
      const first = patch(app, location, slow.stream, head.byteLength, a.byteLength);
      await Bun.sleep(50);
      expect((await patch(app, location, b, head.byteLength, b.byteLength)).status).toBe(202);
      // the session holds head + b; a client claiming head + a + b must not get that digest published
      const forged = sha256(concat(head, a, b));
      const put = await app.req('PUT', `${location}?digest=${forged}`);
      slow.release();
      expect((await first).status).toBeGreaterThanOrEqual(400);
      expect(put.status).toBeLessThan(500);
      expect(put.status).not.toBe(201);
      await expectBlobIsItsDigest(app, forged);
    } finally {
      app.close();
    }
  }, 30_000);
});
