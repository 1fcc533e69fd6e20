/** The cacheable-GET headers: HTTP dates formatted once per second must read as Date's own. */
import { expect, test } from 'bun:test';
import { cachedJsonReply, cacheHeaders } from '../../src/http/reply.ts';

const YEAR_MS = 31_536_000_000;

test('cacheHeaders: Expires is now + 1 year and Last-Modified the given time, as Date writes them', () => {
  for (const ms of [0, 999, 1000, 1_700_000_000_123, 1_700_000_000_999, -500, -1000, 253_402_300_799_000]) {
    const now = 1_800_000_000_000 + (ms % 1000);
    expect(cacheHeaders(new Date(ms), now)).toEqual({
      'cache-control': 'public, max-age=31536000',
      expires: new Date(now + YEAR_MS).toUTCString(),
      'last-modified': new Date(ms).toUTCString(),
    });
  }
});

test('cachedJsonReply: content headers and cache headers, over the caller\'s headers if given', async () => {
  const lastModified = new Date(1_700_000_000_000);
  const plain = cachedJsonReply('{"a": 1}', lastModified);
  expect(plain.headers.get('content-type')).toBe('application/json');
  expect(plain.headers.get('content-length')).toBe('8');
  expect(plain.headers.get('last-modified')).toBe(lastModified.toUTCString());
  const given = new Headers({ 'x-docker-size': '5' });
  given.append('x-docker-checksum-payload', 'sha256:a');
  given.append('x-docker-checksum-payload', 'sha256:b');
  const withHeaders = cachedJsonReply(new Uint8Array([1, 2]), lastModified, given);
  expect(withHeaders.headers.get('x-docker-size')).toBe('5');
  expect(withHeaders.headers.get('x-docker-checksum-payload')).toBe('sha256:a, sha256:b');
  expect(withHeaders.headers.get('content-length')).toBe('2');
  expect(withHeaders.headers.get('cache-control')).toBe('public, max-age=31536000');
  expect(await withHeaders.arrayBuffer()).toEqual(new Uint8Array([1, 2]).buffer);
});
