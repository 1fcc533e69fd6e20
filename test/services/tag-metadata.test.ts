import { expect, test } from 'bun:test';
import { dockerTooOld, tagMetadata, userAgentTokens } from '../../src/services/tag-metadata.ts';

test('metadata from the original test User-Agent (§5 example)', () => {
  const meta = tagMetadata('docker/0.7.2-dev go/go1.2 os/ostest arch/archtest', new Date(1_400_000_000_000));
  expect(meta).toEqual({
    arch: 'archtest',
    docker_go_version: 'go1.2',
    docker_version: '0.7.2-dev',
    last_update: 1_400_000_000,
    os: 'ostest',
  });
});
test('missing tokens are omitted, values lower-cased where the original did', () => {
  expect(tagMetadata('curl/8.0 KERNEL/5.X', new Date(0))).toEqual({ kernel: '5.x', last_update: 0 });
  expect(tagMetadata('', new Date(0))).toEqual({ last_update: 0 });
});
test('tokens', () => {
  expect([...userAgentTokens('docker/1.0 go/go1.2 git-commit/abc kernel/3.8.0-19-generic')]).toEqual([
    ['docker', '1.0'],
    ['go', 'go1.2'],
    ['git-commit', 'abc'],
    ['kernel', '3.8.0-19-generic'],
  ]);
});
test('docker daemons older than 0.10 are refused, others and unknown are not', () => {
  expect(dockerTooOld('docker/0.9.1 go/go1.2')).toBe(true);
  expect(dockerTooOld('docker/0.6.0-dev')).toBe(true);
  expect(dockerTooOld('docker/0.10.0')).toBe(false);
  expect(dockerTooOld('docker/1.6.2')).toBe(false);
  expect(dockerTooOld('docker/abc')).toBe(false);
  expect(dockerTooOld('curl/8')).toBe(false);
  expect(dockerTooOld(null)).toBe(false);
});
