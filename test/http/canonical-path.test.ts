import { expect, test } from 'bun:test';
import { canonicalPath } from '../../src/http/canonical-path.ts';

test.each([
  ['/v1/repositories/foo/tags', '/v1/repositories/library/foo/tags'],
  ['/v1/repositories/foo/tags/', '/v1/repositories/library/foo/tags/'],
  ['/v1/repositories/foo/tags/latest', '/v1/repositories/library/foo/tags/latest'],
  ['/v1/repositories/foo/tags/latest/json', '/v1/repositories/library/foo/tags/latest/json'],
  ['/v1/repositories/foo/json', '/v1/repositories/library/foo/json'],
  ['/v1/repositories/foo/properties', '/v1/repositories/library/foo/properties'],
  ['/v1/repositories/foo/images', '/v1/repositories/library/foo/images'],
  ['/v1/repositories/foo/auth', '/v1/repositories/library/foo/auth'],
  ['/v1/repositories/foo/', '/v1/repositories/library/foo/'],
  ['/v1/repositories/foo', '/v1/repositories/library/foo'],
  // two-part names are left alone
  ['/v1/repositories/foo/bar/tags', '/v1/repositories/foo/bar/tags'],
  ['/v1/repositories/foo/bar/tags/x/json', '/v1/repositories/foo/bar/tags/x/json'],
  ['/v1/repositories/foo/bar', '/v1/repositories/foo/bar'],
  ['/v1/repositories/foo/bar/', '/v1/repositories/foo/bar/'],
  // not repository routes, or malformed
  ['/v1/images/abc/json', '/v1/images/abc/json'],
  ['/v1/repositories/', '/v1/repositories/'],
  ['/v1/repositories//tags', '/v1/repositories//tags'],
  ['/v1/repositories/a/b/c/tags', '/v1/repositories/a/b/c/tags'],
])('%s → %s', (input, output) => {
  expect(canonicalPath(input)).toBe(output);
});
