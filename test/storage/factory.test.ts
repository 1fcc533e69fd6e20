import { expect, test } from 'bun:test';
import { loadConfig } from '../../src/config/load.ts';
import { StorageError } from '../../src/storage/driver.ts';
import { createStorage, storageConfigOf, storageDriverNames } from '../../src/storage/factory.ts';
import { S3Driver } from '../../src/storage/s3/driver.ts';

test('storageConfigOf passes the s3 settings through, path style only when not auto', () => {
  const env = { STORAGE: 's3', S3_BUCKET: 'layers', S3_REGION: 'eu-west-1', S3_PREFIX: 'reg', S3_PRESIGN_EXPIRY: '90' };
  const auto = storageConfigOf(loadConfig({ env }));
  expect(auto).toEqual({
    storage: 's3',
    storagePath: './data',
    s3: {
      endpoint: '',
      bucket: 'layers',
      region: 'eu-west-1',
      accessKeyId: '',
      secretAccessKey: '',
      prefix: 'reg',
      presignExpiry: 90,
    },
  });
  expect(storageConfigOf(loadConfig({ env: { ...env, S3_PATH_STYLE: 'true' } })).s3?.pathStyle).toBe(true);
  expect(storageConfigOf(loadConfig({ env: { ...env, S3_PATH_STYLE: 'false' } })).s3?.pathStyle).toBe(false);
});

test('createStorage builds the s3 driver by name, and refuses s3 without its settings', async () => {
  expect(storageDriverNames).toContain('s3');
  const env = { STORAGE: 'S3', S3_BUCKET: 'layers', S3_REGION: 'us-east-1', S3_ENDPOINT: 'http://127.0.0.1:9' };
  const keys = { S3_ACCESS_KEY_ID: 'AK', S3_SECRET_ACCESS_KEY: 'SK' };
  const driver = createStorage(storageConfigOf(loadConfig({ env: { ...env, ...keys } })));
  expect(driver).toBeInstanceOf(S3Driver);
  expect(driver.name).toBe('s3');
  const url = new URL((await driver.redirectUrl('images/x'))!);
  expect(url.origin + url.pathname).toBe('http://127.0.0.1:9/layers/images/x');
  expect(url.searchParams.get('X-Amz-Credential')).toStartWith('AK/');
  // Without credentials (and none in Bun's own S3_*/AWS_* lookup) nothing can be signed.
  if (!process.env.S3_ACCESS_KEY_ID && !process.env.AWS_ACCESS_KEY_ID) {
    const unsigned = createStorage(storageConfigOf(loadConfig({ env })));
    await expect(unsigned.redirectUrl('images/x')).rejects.toBeInstanceOf(StorageError);
  }
  expect(() => createStorage({ storage: 's3', storagePath: '' })).toThrow(/s3 settings/);
});
