import { afterAll, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/load.ts';

const dir = mkdtempSync(join(tmpdir(), 'registry-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('defaults', () => {
  const c = loadConfig({ env: {} });
  expect(c.host).toBe('0.0.0.0');
  expect(c.port).toBe(5000);
  expect(c.storage_path).toBe('./data');
  expect(c.storage).toBe('fs');
  expect(c.standalone).toBe(true);
  expect(c.search).toBe(true);
  expect(c.auth).toBe('open');
  expect(Object.isFrozen(c)).toBe(true);
});

test('YAML file, then environment over it', () => {
  const file = join(dir, 'a.yml');
  writeFileSync(file, 'port: 6000\nstorage_path: /srv/reg\nstandalone: false\nmax_body_size: 2G\n');
  const fromFile = loadConfig({ env: { REGISTRY_CONFIG: file } });
  expect(fromFile.port).toBe(6000);
  expect(fromFile.storage_path).toBe('/srv/reg');
  expect(fromFile.standalone).toBe(false);
  expect(fromFile.max_body_size).toBe(2 * 1024 ** 3);
  const withEnv = loadConfig({ env: { REGISTRY_CONFIG: file, REGISTRY_PORT: '7000', STANDALONE: 'true' } });
  expect(withEnv.port).toBe(7000);
  expect(withEnv.standalone).toBe(true);
});

test('alias DOCKER_REGISTRY_CONFIG', () => {
  const file = join(dir, 'b.yml');
  writeFileSync(file, 'port: 6001\n');
  expect(loadConfig({ env: { DOCKER_REGISTRY_CONFIG: file } }).port).toBe(6001);
});

test('bad values are clear errors', () => {
  expect(() => loadConfig({ env: { REGISTRY_PORT: 'abc' } })).toThrow(ConfigError);
  expect(() => loadConfig({ env: { REGISTRY_DB: 'postgres://u@h:99999/db' } })).toThrow(/postgres:\/\/ URL/);
  expect(() => loadConfig({ env: { REGISTRY_DB: 'postgresql:registry' } })).toThrow(/postgres:\/\/ URL/);
  expect(loadConfig({ env: { REGISTRY_DB: 'postgres://u:p@h:5432/db' } }).db).toBe('postgres://u:p@h:5432/db');
  const pgToken = { REGISTRY_DB: 'postgres://u:p@h:5432/db', REGISTRY_AUTH: 'token' };
  expect(() => loadConfig({ env: pgToken })).toThrow(/needs token_secret \(REGISTRY_TOKEN_SECRET\)/);
  expect(loadConfig({ env: { ...pgToken, REGISTRY_TOKEN_SECRET: 's3cr3t-value' } }).auth).toBe('token');
  expect(loadConfig({ env: { REGISTRY_AUTH: 'token' } }).token_secret).toBe(''); // one node on SQLite may generate its own
  expect(() => loadConfig({ env: { REGISTRY_PORT: '70000' } })).toThrow(/at most 65535/);
  expect(() => loadConfig({ env: { STANDALONE: 'maybe' } })).toThrow(/true or false/);
  expect(() => loadConfig({ env: { STORAGE: 'ftp' } })).toThrow(/one of/);
  expect(() => loadConfig({ env: { REGISTRY_CONFIG: join(dir, 'missing.yml') } })).toThrow(/cannot read/);
  const bad = join(dir, 'bad.yml');
  writeFileSync(bad, 'port: [1\n');
  expect(() => loadConfig({ env: { REGISTRY_CONFIG: bad } })).toThrow(/not valid YAML/);
  const unknown = join(dir, 'unknown.yml');
  writeFileSync(unknown, 'prot: 1\n');
  expect(() => loadConfig({ env: { REGISTRY_CONFIG: unknown } })).toThrow(/unknown setting/);
});

test('storage s3 needs a bucket and a region, named in the error', () => {
  expect(() => loadConfig({ env: { STORAGE: 's3' } })).toThrow(/s3_bucket \(S3_BUCKET\) and s3_region \(S3_REGION\)/);
  expect(() => loadConfig({ env: { STORAGE: 's3', S3_BUCKET: 'layers' } })).toThrow(/s3_region \(S3_REGION\)/);
  expect(() => loadConfig({ env: { STORAGE: 's3', S3_REGION: 'us-east-1', S3_BUCKET: ' ' } })).toThrow(/s3_bucket/);
  const c = loadConfig({
    env: {
      STORAGE: 's3',
      S3_ENDPOINT: 'http://127.0.0.1:7480',
      S3_BUCKET: 'layers',
      S3_REGION: 'us-east-1',
      S3_ACCESS_KEY_ID: 'AK',
      S3_SECRET_ACCESS_KEY: 'SK',
      S3_PATH_STYLE: 'false',
      S3_PREFIX: 'registry',
      S3_PRESIGN_EXPIRY: '60',
    },
  });
  expect([c.storage, c.s3_endpoint, c.s3_bucket, c.s3_region, c.s3_access_key_id, c.s3_secret_access_key]).toEqual([
    's3',
    'http://127.0.0.1:7480',
    'layers',
    'us-east-1',
    'AK',
    'SK',
  ]);
  expect([c.s3_path_style, c.s3_prefix, c.s3_presign_expiry]).toEqual(['false', 'registry', 60]);
  // the s3 settings are not required by the other drivers, and have defaults
  const fs = loadConfig({ env: {} });
  expect([fs.s3_bucket, fs.s3_region, fs.s3_path_style, fs.s3_presign_expiry]).toEqual(['', '', 'auto', 1200]);
  expect(() => loadConfig({ env: { S3_PATH_STYLE: 'sometimes' } })).toThrow(/one of auto, true, false/);
  expect(() => loadConfig({ env: { S3_PRESIGN_EXPIRY: '0' } })).toThrow(/at least 1/);
});

test('mirroring settings: nested as the original wrote them, flat, or from the environment; URLs checked', () => {
  const nested = join(dir, 'mirror.yml');
  writeFileSync(nested, 'mirroring:\n  source: https://upstream.example:5000\n  tags_cache_ttl: 60\n  username: bob\n');
  const c = loadConfig({ env: { REGISTRY_CONFIG: nested } });
  expect(c['mirroring.source']).toBe('https://upstream.example:5000');
  expect(c['mirroring.tags_cache_ttl']).toBe(60);
  expect(c['mirroring.username']).toBe('bob');
  expect(c['mirroring.source_index']).toBe('');
  const flat = join(dir, 'mirror-flat.yml');
  writeFileSync(flat, 'mirroring.source: http://a:1\n');
  expect(loadConfig({ env: { REGISTRY_CONFIG: flat } })['mirroring.source']).toBe('http://a:1');
  expect(loadConfig({ env: { REGISTRY_CONFIG: nested, MIRROR_SOURCE: 'http://b:2' } })['mirroring.source']).toBe('http://b:2');
  expect(loadConfig({ env: {} })['mirroring.tags_cache_ttl']).toBe(172_800);
  expect(() => loadConfig({ env: { MIRROR_SOURCE: 'ftp://x' } })).toThrow(/mirroring.source: not an http/);
  expect(() => loadConfig({ env: { MIRROR_SOURCE_INDEX: 'nope' } })).toThrow(/mirroring.source_index/);
  const unknown = join(dir, 'mirror-unknown.yml');
  writeFileSync(unknown, 'mirroring:\n  sorce: http://a\n');
  expect(() => loadConfig({ env: { REGISTRY_CONFIG: unknown } })).toThrow(/unknown setting.*mirroring.sorce/);
});

test('gc settings', () => {
  const c = loadConfig({ env: {} });
  expect(c.gc_interval).toBe(0);
  expect(c.gc_grace).toBe(3600);
  expect(loadConfig({ env: { REGISTRY_GC_INTERVAL: '60', REGISTRY_GC_GRACE: '0' } }).gc_grace).toBe(0);
});
