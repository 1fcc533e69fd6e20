/**
 * The upload state machine against the real fs driver: concurrent uploads of one image stay
 * consistent, aborted uploads leave nothing behind.
 */
import { afterEach, beforeEach, expect, test } from 'bun:test';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteMetaStore } from '../../src/db/sqlite/store.ts';
import { RegistryError } from '../../src/errors.ts';
import { ImageService } from '../../src/services/images.ts';
import { FsDriver } from '../../src/storage/fs.ts';

let dir: string;
let meta: SqliteMetaStore;
let storage: FsDriver;
let images: ImageService;
const enc = new TextEncoder();
const ID = '0123456789abcdef';
const JSON_BYTES = enc.encode(JSON.stringify({ id: ID }));
const payload = (layer: Uint8Array) =>
  `sha256:${new Bun.CryptoHasher('sha256').update(JSON_BYTES).update('\n').update(layer).digest('hex')}`;

/** A body delivered in small chunks with pauses, so concurrent uploads interleave. */
function slowStream(bytes: Uint8Array, chunk = 4096): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    async pull(c) {
      if (at >= bytes.length) return c.close();
      await Bun.sleep(Math.random() * 2);
      c.enqueue(bytes.slice(at, at + chunk));
      at += chunk;
    },
  });
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'registry-svc-'));
  meta = SqliteMetaStore.open(join(dir, 'registry.db'));
  storage = new FsDriver(dir);
  images = new ImageService(meta, storage);
});
afterEach(() => {
  meta.close();
  rmSync(dir, { recursive: true, force: true });
});

test('8 concurrent layer uploads of one image: the recorded checksum describes the stored bytes', async () => {
  await images.putJson(ID, JSON_BYTES);
  const bodies = Array.from({ length: 8 }, (_, i) => crypto.getRandomValues(new Uint8Array(64 * 1024 + i)));
  await Promise.all(bodies.map((b) => images.putLayer(ID, { stream: slowStream(b), declaredLength: b.length }, null)));
  const image = await meta.getImage(ID);
  const winner = bodies.find((b) => payload(b) === image!.checksums[0]);
  expect(winner).toBeDefined();
  expect(image!.layerSize).toBe(winner!.length);
  // only the winning upload is left in storage, and it holds the winner's bytes
  expect(readdirSync(join(dir, 'images', ID))).toEqual([image!.layerKey!.split('/')[2]!]);
  expect(new Uint8Array(await storage.getContent(image!.layerKey!))).toEqual(winner!);
  await images.putChecksum(ID, payload(winner!), null);
  const source = await images.layer(ID);
  expect(source.kind).toBe('blob');
  if (source.kind === 'blob') expect(new Uint8Array(await source.blob.arrayBuffer())).toEqual(winner!);
  expect(readdirSync(join(dir, '.tmp'))).toEqual([]);
});

test('a body that fails mid-way commits nothing and the image stays uploadable', async () => {
  await images.putJson(ID, JSON_BYTES);
  let sent = 0;
  const failing = new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent++ < 3) c.enqueue(new Uint8Array(1024));
      else c.error(new Error('connection reset'));
    },
  });
  const err = await images.putLayer(ID, { stream: failing, declaredLength: null }, null).catch((e) => e);
  expect(err).toBeInstanceOf(RegistryError);
  expect((err as RegistryError).code).toBe('UPLOAD_ABORTED');
  expect((await meta.getImage(ID))?.layerSize).toBeNull();
  expect(readdirSync(join(dir, '.tmp'))).toEqual([]);
  expect(() => readdirSync(join(dir, 'images'))).toThrow();
  // retry works
  const layer = enc.encode('layer');
  await images.putLayer(ID, { stream: slowStream(layer), declaredLength: layer.length }, null);
  await images.putChecksum(ID, payload(layer), null);
  expect((await meta.getImage(ID))?.state).toBe('ready');
});

test('a body shorter than its Content-Length is refused and leaves nothing', async () => {
  await images.putJson(ID, JSON_BYTES);
  const layer = enc.encode('short');
  const err = await images.putLayer(ID, { stream: slowStream(layer), declaredLength: 100 }, null).catch((e) => e);
  expect((err as RegistryError).code).toBe('LAYER_SIZE_MISMATCH');
  expect((err as RegistryError).status).toBe(400);
  expect((await meta.getImage(ID))?.layerSize).toBeNull();
  expect(readdirSync(join(dir, '.tmp'))).toEqual([]);
});

test('a layer upload racing the completion of the image is refused and cleaned up', async () => {
  await images.putJson(ID, JSON_BYTES);
  const first = enc.encode('first');
  await images.putLayer(ID, { stream: slowStream(first), declaredLength: first.length }, null);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const late = new ReadableStream<Uint8Array>({
    async pull(c) {
      await gate;
      c.enqueue(enc.encode('late'));
      c.close();
    },
  });
  const pending = images.putLayer(ID, { stream: late, declaredLength: null }, null).catch((e) => e);
  await images.putChecksum(ID, payload(first), null);
  release();
  const err = await pending;
  expect((err as RegistryError).code).toBe('IMAGE_EXISTS');
  const image = await meta.getImage(ID);
  expect(readdirSync(join(dir, 'images', ID))).toEqual([image!.layerKey!.split('/')[2]!]);
});

test('a layer over the size limit is refused with 413, announced or not, and leaves nothing', async () => {
  const small = new ImageService(meta, storage, { redirect: false, maxLayerSize: 10_000 });
  await small.putJson(ID, JSON_BYTES);
  const big = new Uint8Array(20_000);
  for (const declaredLength of [20_000, null]) {
    const err = await small.putLayer(ID, { stream: slowStream(big), declaredLength }, null).catch((e) => e);
    expect((err as RegistryError).code).toBe('BODY_TOO_LARGE');
    expect((err as RegistryError).status).toBe(413);
  }
  expect((await meta.getImage(ID))?.layerSize).toBeNull();
  expect(readdirSync(join(dir, '.tmp'))).toEqual([]);
  const exact = new Uint8Array(10_000);
  await small.putLayer(ID, { stream: slowStream(exact), declaredLength: exact.length }, null);
  expect((await meta.getImage(ID))?.layerSize).toBe(10_000);
});

test('a PUT json during a layer upload: the upload is refused (409, retryable), never recorded against the new json', async () => {
  await images.putJson(ID, JSON_BYTES);
  const layer = crypto.getRandomValues(new Uint8Array(32 * 1024));
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let sent = 0;
  const stalled = new ReadableStream<Uint8Array>({
    async pull(c) {
      if (sent === 16 * 1024) await gate;
      if (sent >= layer.length) return c.close();
      c.enqueue(layer.slice(sent, sent + 8 * 1024));
      sent += 8 * 1024;
    },
  });
  const upload = images.putLayer(ID, { stream: stalled, declaredLength: layer.length }, null).catch((e) => e);
  while (sent < 16 * 1024) await Bun.sleep(1);
  const other = enc.encode(JSON.stringify({ id: ID, comment: 'another client' }));
  await images.putJson(ID, other);
  release();
  const err = await upload;
  expect(err).toBeInstanceOf(RegistryError);
  expect((err as RegistryError).code).toBe('IMAGE_JSON_CHANGED');
  const image = await meta.getImage(ID);
  expect(image?.state).toBe('uploading');
  expect(image?.layerSize).toBeNull();
  expect(new TextDecoder().decode(image!.json)).toBe(new TextDecoder().decode(other));
  // the retry against the json now stored completes
  await images.putLayer(ID, { stream: slowStream(layer), declaredLength: layer.length }, null);
  const sum = `sha256:${new Bun.CryptoHasher('sha256').update(other).update('\n').update(layer).digest('hex')}`;
  await images.putChecksum(ID, sum, null);
  expect((await meta.getImage(ID))?.state).toBe('ready');
});
