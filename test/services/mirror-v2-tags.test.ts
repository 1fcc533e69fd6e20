/**
 * The mirror's tag marks (services/mirror-v2-tags.ts) over one storage shared by two "workers"
 * (two TagMarks): local unless marked with the tag's current digest, fresh within the TTL, stale
 * after, a tag being moved checked again, and what one worker writes seen by the other.
 */
import { expect, test } from 'bun:test';
import { TagMarks } from '../../src/services/mirror-v2-tags.ts';
import { MemoryDriver } from '../../src/storage/memory.ts';
import { mirrorTagKey } from '../../src/storage/paths.ts';

const REF = { namespace: 'team', name: 'app' };
const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;

test('local without a mark; fresh once stamped; stale after the TTL; local again for another digest or once forgotten', async () => {
  const marks = new TagMarks(new MemoryDriver(), 150);
  expect(await marks.state(REF, 'v1', D1)).toBe('local');
  await marks.stamp(REF, 'v1', D1);
  expect(await marks.state(REF, 'v1', D1)).toBe('fresh');
  // the tag moved here (a push): the mark no longer counts
  expect(await marks.state(REF, 'v1', D2)).toBe('local');
  await Bun.sleep(200);
  expect(await marks.state(REF, 'v1', D1)).toBe('stale');
  await marks.forget(REF, 'v1');
  expect(await marks.state(REF, 'v1', D1)).toBe('local');
});

test('a mark names the digest the tag leaves: a tag still naming it (a crash before the move) is checked again', async () => {
  const marks = new TagMarks(new MemoryDriver(), 60_000);
  await marks.stamp(REF, 'v1', D2, D1);
  expect(await marks.state(REF, 'v1', D1)).toBe('stale');
  expect(await marks.state(REF, 'v1', D2)).toBe('fresh');
});

test('two workers over one storage: a stamp, a forget and a postponed check', async () => {
  const storage = new MemoryDriver();
  const a = new TagMarks(storage, 400);
  const b = new TagMarks(storage, 400);
  // b has seen the tag as local; a fetches it from upstream: b sees the mark once its memory expires
  expect(await b.state(REF, 'v1', D1)).toBe('local');
  await a.stamp(REF, 'v1', D1);
  expect(await b.state(REF, 'v1', D1)).toBe('local');
  await Bun.sleep(300);
  await a.stamp(REF, 'v1', D1);
  await Bun.sleep(150);
  expect(await b.state(REF, 'v1', D1)).toBe('fresh');
  // a push through a: b's memory still says mirrored (it serves the same local row), then local
  await a.forget(REF, 'v1');
  await Bun.sleep(450);
  expect(await b.state(REF, 'v1', D1)).toBe('local');
  // a postponed check holds in that worker only
  await a.stamp(REF, 'v1', D1);
  await Bun.sleep(450);
  a.postpone(REF, 'v1', D1, 5000);
  expect(await a.state(REF, 'v1', D1)).toBe('fresh');
  expect(await b.state(REF, 'v1', D1)).toBe('stale');
});

test('an unreadable mark counts as none: the tag is served as a local one', async () => {
  const storage = new MemoryDriver();
  await storage.putContent(mirrorTagKey('team/app', 'v1'), 'not json');
  expect(await new TagMarks(storage, 1000).state(REF, 'v1', D1)).toBe('local');
});
