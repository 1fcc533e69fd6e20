/**
 * The mirror's copy loop: the client gets the bytes as they come, storage gets them committed
 * only when complete and verified, a client that leaves does not stop (nor corrupt) the copy, and
 * a failing upstream or a mismatch leaves nothing behind and cuts the client's stream.
 */
import { describe, expect, test } from 'bun:test';
import { RegistryError } from '../../src/errors.ts';
import { fetchThrough, SingleFlight } from '../../src/services/fetch-through.ts';
import { PathNotFoundError } from '../../src/storage/driver.ts';
import { MemoryDriver } from '../../src/storage/memory.ts';

const chunks = (n: number, size = 1024) => Array.from({ length: n }, (_, i) => new Uint8Array(size).fill(i % 251));
const all = (parts: Uint8Array[]) => Buffer.concat(parts);
const sha = (b: Uint8Array) => new Bun.CryptoHasher('sha256').update(b).digest('hex');

/** An upstream body of these chunks; `failAfter` chunks then an error; `gate` paces it. */
function upstream(parts: Uint8Array[], failAfter = Infinity): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    async pull(c) {
      await Bun.sleep(1);
      if (i === failAfter) return c.error(new RegistryError('UPSTREAM_TIMEOUT'));
      if (i === parts.length) return c.close();
      c.enqueue(parts[i++]!);
    },
  });
}

function verifying(expected: string) {
  const h = new Bun.CryptoHasher('sha256');
  return {
    hash: (c: Uint8Array) => void h.update(c),
    verify: () => {
      if (h.digest('hex') !== expected) throw new RegistryError('UPSTREAM_BAD_RESPONSE', 'digest mismatch');
    },
    limit: 1 << 30,
  };
}

describe('fetchThrough', () => {
  test('the client and storage both get every byte; committed only at the end', async () => {
    const storage = new MemoryDriver();
    const parts = chunks(64);
    const t = fetchThrough(upstream(parts), await storage.writer('blobs/a'), verifying(sha(all(parts))));
    const received = new Uint8Array(await new Response(t.client).arrayBuffer());
    expect(await t.stored).toBe(64 * 1024);
    expect(Buffer.compare(received, all(parts))).toBe(0);
    expect(Buffer.compare(await storage.getContent('blobs/a'), all(parts))).toBe(0);
  });

  test('a client that disconnects early: the copy goes on and is stored whole', async () => {
    const storage = new MemoryDriver();
    const parts = chunks(200);
    const t = fetchThrough(upstream(parts), await storage.writer('blobs/b'), verifying(sha(all(parts))));
    const reader = t.client.getReader();
    await reader.read();
    await reader.cancel();
    expect(await t.stored).toBe(200 * 1024);
    expect(Buffer.compare(await storage.getContent('blobs/b'), all(parts))).toBe(0);
  });

  test('a digest mismatch: the client never gets the last chunk, its stream errors instead', async () => {
    const storage = new MemoryDriver();
    const parts = chunks(4);
    const t = fetchThrough(upstream(parts), await storage.writer('blobs/h'), verifying('0'.repeat(64)));
    const reader = t.client.getReader();
    let received = 0;
    let error: unknown = null;
    try {
      for (let r = await reader.read(); !r.done; r = await reader.read()) received += r.value.byteLength;
    } catch (e) {
      error = e;
    }
    expect((error as RegistryError).code).toBe('UPSTREAM_BAD_RESPONSE');
    expect(received).toBe(3 * 1024);
    await t.stored.catch(() => {});
  });

  test('a digest mismatch: nothing stored, the client stream errors', async () => {
    const storage = new MemoryDriver();
    const parts = chunks(8);
    const t = fetchThrough(upstream(parts), await storage.writer('blobs/c'), verifying('0'.repeat(64)));
    expect(new Response(t.client).arrayBuffer()).rejects.toThrow(/digest mismatch/);
    expect(t.stored).rejects.toThrow(/digest mismatch/);
    await t.stored.catch(() => {});
    expect(storage.stat('blobs/c')).rejects.toBeInstanceOf(PathNotFoundError);
  });

  test('an upstream that breaks off mid-way: nothing stored, the client stream errors with its reason', async () => {
    const storage = new MemoryDriver();
    const t = fetchThrough(upstream(chunks(8), 3), await storage.writer('blobs/d'), verifying('x'));
    const e = await new Response(t.client).arrayBuffer().catch((x) => x);
    expect(e).toBeInstanceOf(RegistryError);
    expect((e as RegistryError).code).toBe('UPSTREAM_TIMEOUT');
    await t.stored.catch(() => {});
    expect(storage.stat('blobs/d')).rejects.toBeInstanceOf(PathNotFoundError);
  });

  test('more than the limit is a bad reply, nothing stored', async () => {
    const storage = new MemoryDriver();
    const t = fetchThrough(upstream(chunks(8)), await storage.writer('blobs/e'), { ...verifying('x'), limit: 4096 });
    expect(new Response(t.client).arrayBuffer()).rejects.toThrow(/more than/);
    expect(t.stored).rejects.toThrow(/more than the 4096 bytes/);
    await t.stored.catch(() => {});
    expect(storage.stat('blobs/e')).rejects.toBeInstanceOf(PathNotFoundError);
  });

  test('a slow client holds the upstream back (bounded buffering)', async () => {
    const storage = new MemoryDriver();
    let pulled = 0;
    const src = new ReadableStream<Uint8Array>({
      pull(c) {
        if (pulled === 100) return c.close();
        pulled++;
        c.enqueue(new Uint8Array(1024));
      },
    });
    const t = fetchThrough(src, await storage.writer('blobs/f'), { hash: () => {}, verify: () => {}, limit: 1 << 20 });
    const reader = t.client.getReader();
    await reader.read();
    await Bun.sleep(50);
    expect(pulled).toBeLessThan(12);
    while (!(await reader.read()).done);
    expect(await t.stored).toBe(100 * 1024);
  });
});

test('a client that reads nothing is let go after clientStallMs; the copy completes', async () => {
  const storage = new MemoryDriver();
  const parts = chunks(50);
  const t = fetchThrough(upstream(parts), await storage.writer('blobs/g'), { ...verifying(sha(all(parts))), clientStallMs: 100 });
  expect(await t.stored).toBe(50 * 1024);
  const reader = t.client.getReader();
  // what was queued before the stall is still there, then the stream's error
  let error: unknown = null;
  try {
    while (!(await reader.read()).done);
  } catch (e) {
    error = e;
  }
  expect((error as RegistryError).code).toBe('UPSTREAM_TIMEOUT');
  expect(Buffer.compare(await storage.getContent('blobs/g'), all(parts))).toBe(0);
});

test('SingleFlight: concurrent callers of one key share one run', async () => {
  const flight = new SingleFlight<number>();
  let runs = 0;
  const start = async () => {
    runs++;
    await Bun.sleep(20);
    return 7;
  };
  const results = await Promise.all([flight.run('k', start), flight.run('k', start), flight.run('k', start)]);
  expect(results).toEqual([7, 7, 7]);
  expect(runs).toBe(1);
  expect(flight.pending('k')).toBeUndefined();
  await flight.run('k', start);
  expect(runs).toBe(2);
});
