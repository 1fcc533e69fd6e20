/**
 * The V1 mirror's pieces below the routes: the repository a client's token names, the in-process
 * FetchLock, and how a layer fetch behaves when another process holds the lease (it waits for
 * that copy, or takes over when the lease lapses) — with a lock that plays the other process.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { hex, payload, randomBytes } from '../../dev/ids.ts';
import { SqliteMetaStore } from '../../src/db/sqlite/store.ts';
import { LocalFetchLock, StoreFetchLock, type FetchLock } from '../../src/services/fetch-lock.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/**
 * The lease contract both locks keep; `two()` gives two holders' views (for the store lock, two
 * processes: two connections to one SQLite file).
 */
function lockContract(name: string, two: () => { a: FetchLock; b: FetchLock; close: () => void }) {
  test(`${name}: one holder at a time, until released or lapsed`, async () => {
    const { a, b, close } = two();
    try {
      const first = await a.acquire('k', 200);
      expect(first).not.toBeNull();
      expect(await b.acquire('k', 200)).toBeNull();
      // a second fetch in the same process does not pass for the holder either
      expect(await a.acquire('k', 200)).toBeNull();
      expect(await b.acquire('other', 200)).not.toBeNull();
      expect(await first!.renew(200)).toBe(true);
      await first!.release();
      const second = await b.acquire('k', 40);
      expect(second).not.toBeNull();
      await Bun.sleep(60);
      // lapsed: taken by another; the first holder's renew and release no longer count
      const third = await a.acquire('k', 1000);
      expect(third).not.toBeNull();
      expect(await second!.renew(1000)).toBe(false);
      await second!.release();
      expect(await b.acquire('k', 1000)).toBeNull();
    } finally {
      close();
    }
  });
}

lockContract('LocalFetchLock', () => {
  const lock = new LocalFetchLock();
  return { a: lock, b: lock, close: () => {} };
});

lockContract('StoreFetchLock (two connections to one store)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fetch-lock-'));
  const one = SqliteMetaStore.open(join(dir, 'registry.db'), { migrate: true });
  const other = SqliteMetaStore.open(join(dir, 'registry.db'), { migrate: false });
  return {
    a: new StoreFetchLock(one),
    b: new StoreFetchLock(other),
    close: () => {
      one.close();
      other.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
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
