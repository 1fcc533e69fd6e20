import { describe, expect, test } from 'bun:test';
import { InvalidKeyError, isValidKey } from '../../src/storage/driver.ts';
import { IMAGE_ID_PATTERN, isValidImageId } from '../../src/domain/image-id.ts';
import { layerKey, mirrorTagKey, newChunkName, newUploadId, uploadObjectKey } from '../../src/storage/paths.ts';

const ID16 = '0123456789abcdef';
const ID64 = 'a'.repeat(32) + '0123456789abcdef0123456789abcdef';
const UP = 'fedcba9876543210';

describe('layerKey', () => {
  test('builds images/<id>/layer-<upload> for 16- and 64-hex ids', () => {
    expect(layerKey(ID16, UP)).toBe(`images/${ID16}/layer-${UP}`);
    expect(layerKey(ID64, UP)).toBe(`images/${ID64}/layer-${UP}`);
    expect(isValidKey(layerKey(ID16, UP))).toBe(true);
    expect(isValidKey(layerKey(ID64, UP))).toBe(true);
  });

  test('upload ids are fresh 16-hex strings and are validated', () => {
    const a = newUploadId();
    expect(a).toMatch(/^[a-f0-9]{16}$/);
    expect(newUploadId()).not.toBe(a);
    for (const bad of ['', 'FEDCBA9876543210', `${UP}0`, '../x', `${UP}\n`]) {
      expect(() => layerKey(ID16, bad)).toThrow(InvalidKeyError);
    }
  });

  test.each([
    ['uppercase', '0123456789ABCDEF'],
    ['15 chars', ID16.slice(1)],
    ['17 chars', `${ID16}0`],
    ['63 chars', ID64.slice(1)],
    ['65 chars', `${ID64}0`],
    ['trailing newline', `${ID16}\n`],
    ['leading newline', `\n${ID16}`],
    ['path traversal', '../'],
    ['traversal with id', `../${ID16}`],
    ['empty', ''],
    ['non-hex', 'g123456789abcdef'],
    ['embedded slash', `${ID16.slice(0, 8)}/${ID16.slice(8)}`],
  ])('rejects %s', (_label, id) => {
    expect(isValidImageId(id)).toBe(false);
    expect(() => layerKey(id, UP)).toThrow(InvalidKeyError);
  });

  test('IMAGE_ID_PATTERN is anchored at both ends and has no flags', () => {
    expect(IMAGE_ID_PATTERN.flags).toBe('');
    expect(IMAGE_ID_PATTERN.test(`x${ID16}`)).toBe(false);
    expect(IMAGE_ID_PATTERN.test(`${ID16}\n`)).toBe(false);
  });
});

describe('mirrorTagKey', () => {
  test('mirror/v2/<repository>/_tags/<hex of the tag>: any tag (capitals too) gives a valid key, distinct per tag', () => {
    expect(mirrorTagKey('library/busybox', 'latest')).toBe(`mirror/v2/library/busybox/_tags/${Buffer.from('latest').toString('hex')}`);
    for (const tag of ['latest', 'V1.2_RC-3', '_x', 'a'.repeat(128)]) expect(isValidKey(mirrorTagKey('a/b.c/d__e', tag))).toBe(true);
    expect(mirrorTagKey('a/b', 'Latest')).not.toBe(mirrorTagKey('a/b', 'latest'));
  });

  test('refuses what is not a V2 repository name, and empty or overlong tags', () => {
    for (const repo of ['', 'A/b', '../x', 'a//b', 'a/_tags', '.a/b', 'a/b/']) expect(() => mirrorTagKey(repo, 'latest')).toThrow(InvalidKeyError);
    expect(() => mirrorTagKey('a/b', '')).toThrow(InvalidKeyError);
    expect(() => mirrorTagKey('a/b', 'a'.repeat(129))).toThrow(InvalidKeyError);
  });
});

describe('upload chunk names', () => {
  const session = 'a'.repeat(32);
  test('fresh per call (two PATCHes of one chunk never share an object), and valid keys', () => {
    const [one, two] = [newChunkName(3), newChunkName(3)];
    expect(one).toMatch(/^3-[0-9a-f]{16}$/);
    expect(one).not.toBe(two);
    expect(isValidKey(uploadObjectKey(session, one))).toBe(true);
    // the names sessions from before recorded none for
    expect(uploadObjectKey(session, '0')).toBe(`uploads/${session}/0`);
  });

  test('refuses anything else', () => {
    for (const bad of ['', '01', '-1', '1-', '1-abc', `1-${'A'.repeat(16)}`, '1/2', '..', `1-${'a'.repeat(16)} 2`]) {
      expect(() => uploadObjectKey(session, bad)).toThrow(InvalidKeyError);
    }
    expect(() => newChunkName(-1)).toThrow(InvalidKeyError);
  });
});
