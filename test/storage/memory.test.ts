import { MemoryDriver } from '../../src/storage/memory.ts';
import { runDriverSuite } from './driver.suite.ts';

runDriverSuite('memory', async () => ({
  driver: new MemoryDriver(),
  cleanup: async () => {},
}));
