import { expect, test } from 'bun:test';
import { RegistryError } from '../../src/errors.ts';
import { encodedRepoName, repoRef, requireImageId, requireTagName, v2RepoRef } from '../../src/services/names.ts';

test('repository names: anything printable, but never empty, slashed, control or overlong', () => {
  expect(repoRef('foo', 'abcde%$_-test')).toEqual({ namespace: 'foo', name: 'abcde%$_-test' });
  expect(repoRef('library', '☃')).toEqual({ namespace: 'library', name: '☃' });
  for (const [ns, name] of [
    ['', 'x'],
    ['x', ''],
    ['a/b', 'x'],
    ['x', 'a/b'],
    ['x', 'a\u0000b'],
    ['x', 'a\nb'],
    ['x', 'a'.repeat(256)],
  ] as const) {
    expect(() => repoRef(ns, name)).toThrow(RegistryError);
  }
});

test('token repository names are quote_plus-encoded per part', () => {
  expect(encodedRepoName({ namespace: 'foo', name: 'abcde%$_-test' })).toBe('foo/abcde%25%24_-test');
  expect(encodedRepoName({ namespace: 'ns', name: 'a b~☃' })).toBe('ns/a+b%7E%E2%98%83');
  expect(encodedRepoName({ namespace: 'library', name: 'ubuntu.12' })).toBe('library/ubuntu.12');
});

test('tag rule on PUT: ^[\\w][\\w.-]{0,127}$ with ASCII \\w', () => {
  for (const ok of ['latest', '_valid', '1.0', 'a-b.c_d', 'x'.repeat(128)]) expect(requireTagName(ok)).toBe(ok);
  for (const bad of ['$<invalid>', '.invalid', '-invalid', '', 'x'.repeat(129), 'é', 'a b', 'a/b']) {
    expect(() => requireTagName(bad)).toThrow(RegistryError);
  }
});

test('image ids: 16 or 64 lower-case hex, nothing after', () => {
  expect(requireImageId('0123456789abcdef')).toBe('0123456789abcdef');
  for (const bad of ['0123456789ABCDEF', '0123456789abcdef\n', '0123456789abcde', 'g123456789abcdef']) {
    const e = (() => {
      try {
        requireImageId(bad);
      } catch (err) {
        return err as RegistryError;
      }
    })();
    expect(e?.status).toBe(404);
    expect(e?.message).toBe('Invalid image ID');
  }
});

test('V2 names follow the OCI grammar; one part means library/<name>', () => {
  expect(v2RepoRef('busybox')).toEqual({ namespace: 'library', name: 'busybox' });
  expect(v2RepoRef('conformance/test')).toEqual({ namespace: 'conformance', name: 'test' });
  expect(v2RepoRef('a/b/c')).toEqual({ namespace: 'a', name: 'b/c' });
  for (const ok of ['a0', 'a.b', 'a_b', 'a__b', 'a--b', 'a-b/c.d_e', 'x'.repeat(255)]) expect(() => v2RepoRef(ok)).not.toThrow();
  for (const bad of ['', 'A', 'a/', '/a', 'a//b', 'a..b', 'a___b', '-a', 'a-', 'a b', 'a%2Fb', 'é', 'x'.repeat(256), 'a/../b']) {
    expect(() => v2RepoRef(bad)).toThrow(RegistryError);
  }
});
