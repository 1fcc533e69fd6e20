/**
 * End to end on the default configuration: `bun run start` as a real process on a free port
 * (fs storage under its own STORAGE_PATH, SQLite beside it), pushed to and pulled from the same
 * node. The suite itself is in push-pull.suite.ts; multi-node.test.ts runs it across nodes.
 */
import { expect } from 'bun:test';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry } from '../helpers/server.ts';
import { runPushPullSuite } from './push-pull.suite.ts';

runPushPullSuite('bun run start (one node, fs + SQLite)', async (env = {}) => {
  const reg = await startRegistry(env);
  return {
    pushUrl: reg.url,
    pullUrl: reg.url,
    layerDelivery: 'file',
    // the layers are on disk under STORAGE_PATH, the database beside them
    async storedLayer(id) {
      const dir = join(reg.storagePath, 'images', id);
      const stored = existsSync(dir) ? readdirSync(dir) : [];
      if (stored.length === 0) return null;
      expect(stored).toHaveLength(1);
      expect(stored[0]).toMatch(/^layer-[0-9a-f]{16}$/);
      expect(existsSync(join(reg.storagePath, 'registry.db'))).toBe(true);
      return statSync(join(dir, stored[0]!)).size;
    },
    stop: () => reg.stop(),
  };
});
