/** The wrapper every driver goes through (src/storage/base.ts): call timing and error mapping. */
import { expect, test } from 'bun:test';
import type { StorageOp } from '../../src/storage/base.ts';
import { InvalidKeyError, PathNotFoundError } from '../../src/storage/driver.ts';
import { createStorage } from '../../src/storage/factory.ts';

test('the onCall hook sees every call with driver, operation, seconds and outcome', async () => {
  const calls: [string, StorageOp, number, boolean][] = [];
  const d = createStorage({ storage: 'memory', storagePath: '' }, { onCall: (...c) => calls.push(c) });
  await d.putContent('a/b', 'x');
  await d.stat('a/b');
  await d.read('a/b', { start: 0, end: 0 });
  await d.getContent('missing').catch(() => {});
  await d.stat('../escape').catch(() => {});
  await d.purgeStaleUploads(1000);
  expect(calls.map(([driver, op, , ok]) => [driver, op, ok])).toEqual([
    ['memory', 'putContent', true],
    ['memory', 'stat', true],
    ['memory', 'read', true],
    ['memory', 'getContent', false],
    ['memory', 'stat', false],
    ['memory', 'purgeStaleUploads', true],
  ]);
  for (const [, , seconds] of calls) expect(seconds).toBeGreaterThanOrEqual(0);
});

test('failures name the driver and key; a bad key or range fails before the driver is reached', async () => {
  const d = createStorage({ storage: 'fs', storagePath: '/tmp/registry-base-test-never-created' });
  const missing = await d.getContent('nope').catch((e: unknown) => e);
  expect(missing).toBeInstanceOf(PathNotFoundError);
  expect((missing as PathNotFoundError).driver).toBe('fs');
  expect((missing as PathNotFoundError).key).toBe('nope');
  expect(await d.read('.tmp/x').catch((e: unknown) => e)).toBeInstanceOf(InvalidKeyError);
  const range = await d.read('nope', { start: 5, end: 1 }).catch((e: unknown) => e);
  expect(String(range)).toContain('invalid byte range 5-1');
});
