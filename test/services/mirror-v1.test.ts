/**
 * The V1 mirror's pieces below the routes: the repository a client's token names, the in-process
 * FetchLock, and how a layer fetch behaves when another process holds the lease (it waits for
 * that copy, or takes over when the lease lapses) — with a lock that plays the other process.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { hex, payload, randomBytes } from '../../dev/ids.ts';
import { SqliteMetaStore } from '../../src/db/sqlite/store.ts';
import { LocalFetchLock, type FetchLock } from '../../src/services/fetch-lock.ts';
import { MirrorV1Images, repositoryOfToken } from '../../src/services/mirror-v1.ts';
import { V1Upstream } from '../../src/services/mirror-v1-upstream.ts';
import { MemoryDriver } from '../../src/storage/memory.ts';
import { Upstream } from '../../src/upstream/client.ts';
import { startStubUpstream, stubJson, type StubUpstream } from '../helpers/stub-v1-upstream.ts';

test('repositoryOfToken: the repository a V1 token names, quote_plus decoded', () => {
  expect(repositoryOfToken('Token signature=x,repository="library/ubuntu",access=read')).toEqual({ namespace: 'library', name: 'ubuntu' });
  expect(repositoryOfToken('Token Token signature=x,repository=a%24b/c+d,access=read')).toEqual({ namespace: 'a$b', name: 'c d' });
  expect(repositoryOfToken('token repository="ns/x"')).toEqual({ namespace: 'ns', name: 'x' });
  for (const h of [null, 'Basic Ym9iOnB3', 'Token signature=x,access=read', 'Token repository="noslash"', 'Token repository="%zz/x"']) {
    expect(repositoryOfToken(h)).toBeNull();
  }
});

test('LocalFetchLock: one holder at a time, until released or lapsed', async () => {
  const lock = new LocalFetchLock();
  const first = await lock.acquire('k', 100);
  expect(first).not.toBeNull();
  expect(await lock.acquire('k', 100)).toBeNull();
  expect(await lock.acquire('other', 100)).not.toBeNull();
  expect(await first!.renew(100)).toBe(true);
  await first!.release();
  const second = await lock.acquire('k', 30);
  expect(second).not.toBeNull();
  await Bun.sleep(40);
  // lapsed: taken by another; the first holder's renew and release no longer count
  const third = await lock.acquire('k', 1000);
  expect(third).not.toBeNull();
  expect(await second!.renew(1000)).toBe(false);
  await second!.release();
  expect(await lock.acquire('k', 1000)).toBeNull();
});

describe('a layer whose lease another process holds', () => {
  let up: StubUpstream;
  beforeAll(() => {
    up = startStubUpstream();
  });
  afterAll(() => up.stop());

  /** A lock held elsewhere for the first `busy` attempts. */
  const heldElsewhere = (busy: number): FetchLock & { attempts: number } => {
    const local = new LocalFetchLock();
    const lock = {
      attempts: 0,
      acquire: async (key: string, ttl: number) => (++lock.attempts <= busy ? null : local.acquire(key, ttl)),
    };
    return lock;
  };

  const setup = (lock: FetchLock) => {
    const meta = SqliteMetaStore.open(':memory:');
    const storage = new MemoryDriver();
    const source = new Upstream(up.url, { timeoutMs: 1000 });
    const mirror = new MirrorV1Images(new V1Upstream(source, source, { maxJsonSize: 1 << 20 }), meta, storage, lock, { maxLayerSize: 1 << 30 });
    const id = hex(16);
    const json = stubJson(id);
    const layer = randomBytes(5000);
    up.addImage({ id, json, layer });
    return { meta, storage, mirror, id, json, layer };
  };

  test('waits for the holder’s copy to be recorded, and fetches nothing itself', async () => {
    const { meta, mirror, id, json, layer } = setup(heldElsewhere(Infinity));
    const pending = mirror.layer(id, null, true);
    await Bun.sleep(300);
    // the other process records its copy
    await meta.putReadyImage({ id, parent: null, json: new TextEncoder().encode(json), ancestry: [id] }, { key: `images/${id}/layer-0000000000000000`, size: layer.byteLength, checksums: [payload(json, layer)] });
    expect(await pending).toEqual({ kind: 'stored' });
    expect(up.count(`/v1/images/${id}/layer`)).toBe(0);
    meta.close();
  });

  test('takes over when the lease lapses without a copy', async () => {
    const lock = heldElsewhere(3);
    const { meta, mirror, id, layer } = setup(lock);
    const got = await mirror.layer(id, null, true);
    expect(got.kind).toBe('stream');
    if (got.kind !== 'stream') return;
    expect(Buffer.compare(new Uint8Array(await new Response(got.stream).arrayBuffer()), layer)).toBe(0);
    for (let i = 0; i < 50 && (await meta.getImage(id)) === null; i++) await Bun.sleep(20);
    expect((await meta.getImage(id))?.state).toBe('ready');
    expect(lock.attempts).toBe(4);
    expect(up.count(`/v1/images/${id}/layer`)).toBe(1);
    meta.close();
  });
});
