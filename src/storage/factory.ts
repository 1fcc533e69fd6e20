/**
 * Picks a storage driver by name from config. The registry is one object literal, so a duplicate
 * name is a compile error ("An object literal cannot have multiple properties with the same
 * name"); aliases point at the same constructor.
 */
import type { StorageDriver } from './driver.ts';
import { FsDriver } from './fs.ts';
import { MemoryDriver } from './memory.ts';

/** The part of the registry config the storage layer reads. */
export interface StorageConfig {
  storage: string;
  storagePath: string;
}

type DriverConstructor = (config: StorageConfig) => StorageDriver;

const fs: DriverConstructor = (config) => {
  if (config.storagePath === '') throw new Error('storage "fs" needs a non-empty storagePath');
  return new FsDriver(config.storagePath);
};
const memory: DriverConstructor = () => new MemoryDriver();

const registry = {
  fs,
  file: fs,
  local: fs,
  memory,
  inmemory: memory,
} as const satisfies Record<string, DriverConstructor>;

/** Every accepted driver name, aliases included (for config validation and messages). */
export const storageDriverNames: readonly string[] = Object.keys(registry);

/**
 * Builds the driver named by `config.storage` (case-insensitive). `fs`/`file`/`local` store under
 * `config.storagePath`; `memory`/`inmemory` keep everything in process memory.
 * @throws Error naming the valid choices for an unknown name
 */
export function createStorage(config: StorageConfig): StorageDriver {
  const name = config.storage.trim().toLowerCase();
  if (!Object.hasOwn(registry, name)) {
    const choices = storageDriverNames.join(', ');
    throw new Error(`unknown storage driver ${JSON.stringify(config.storage)}; valid: ${choices}`);
  }
  return registry[name as keyof typeof registry](config);
}
