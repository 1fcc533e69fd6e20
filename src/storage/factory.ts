/**
 * Picks a storage driver by name from config. The registry is one object literal, so a duplicate
 * name is a compile error ("An object literal cannot have multiple properties with the same
 * name"); aliases point at the same constructor. Every driver extends `BaseDriver`, so each one
 * made here has the same checks, error mapping and call timing (`hooks.onCall`).
 */
import type { Config } from '../config/schema.ts';
import type { DriverHooks } from './base.ts';
import type { StorageDriver } from './driver.ts';
import { FsDriver } from './fs.ts';
import { MemoryDriver } from './memory.ts';
import { S3Driver } from './s3/driver.ts';
import type { S3DriverOptions } from './s3/driver.ts';

/** The part of the registry config the storage layer reads. */
export interface StorageConfig {
  storage: string;
  storagePath: string;
  /** Settings of the `s3` driver (required when `storage` is `s3`, ignored otherwise). */
  s3?: S3DriverOptions;
}

/** The storage part of the registry config, in the shape `createStorage` takes. */
export function storageConfigOf(config: Config): StorageConfig {
  return {
    storage: config.storage,
    storagePath: config.storage_path,
    s3: {
      endpoint: config.s3_endpoint,
      bucket: config.s3_bucket,
      region: config.s3_region,
      accessKeyId: config.s3_access_key_id,
      secretAccessKey: config.s3_secret_access_key,
      ...(config.s3_path_style !== 'auto' && { pathStyle: config.s3_path_style === 'true' }),
      prefix: config.s3_prefix,
      presignExpiry: config.s3_presign_expiry,
    },
  };
}

type DriverConstructor = (config: StorageConfig, hooks: DriverHooks) => StorageDriver;

const fs: DriverConstructor = (config, hooks) => {
  if (config.storagePath === '') throw new Error('storage "fs" needs a non-empty storagePath');
  return new FsDriver(config.storagePath, hooks);
};
const memory: DriverConstructor = (_config, hooks) => new MemoryDriver(hooks);
const s3: DriverConstructor = (config, hooks) => {
  if (!config.s3) throw new Error('storage "s3" needs its s3 settings (bucket, region, ...)');
  return new S3Driver(config.s3, hooks);
};

const registry = {
  fs,
  file: fs,
  local: fs,
  memory,
  inmemory: memory,
  s3,
} as const satisfies Record<string, DriverConstructor>;

/** Every accepted driver name, aliases included (for config validation and messages). */
export const storageDriverNames: readonly string[] = Object.keys(registry);

/**
 * Builds the driver named by `config.storage` (case-insensitive). `fs`/`file`/`local` store under
 * `config.storagePath`; `memory`/`inmemory` keep everything in process memory; `s3` stores in the
 * bucket described by `config.s3`.
 * @throws Error naming the valid choices for an unknown name
 */
export function createStorage(config: StorageConfig, hooks: DriverHooks = {}): StorageDriver {
  const name = config.storage.trim().toLowerCase();
  if (!Object.hasOwn(registry, name)) {
    const choices = storageDriverNames.join(', ');
    throw new Error(`unknown storage driver ${JSON.stringify(config.storage)}; valid: ${choices}`);
  }
  return registry[name as keyof typeof registry](config, hooks);
}
