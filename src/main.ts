/**
 * Entry point. `bun src/main.ts` runs the supervisor, which migrates the database once and
 * re-executes this file as `bun src/main.ts worker` for each worker process.
 */
import { ConfigError } from './config/load.ts';
import { Arbiter } from './supervisor/arbiter.ts';
import { migrate } from './worker/serve.ts';
import { runWorker } from './worker/worker.ts';

const role = process.argv[2] ?? 'supervise';

if (role === 'worker') {
  runWorker();
} else if (role === 'supervise') {
  let arbiter: Arbiter;
  try {
    arbiter = new Arbiter({ workerCommand: [process.execPath, Bun.main, 'worker'], prepare: migrate });
  } catch (e) {
    console.error(`registry: ${e instanceof ConfigError ? e.message : String(e)}`);
    process.exit(2);
  }
  await arbiter.start();
} else {
  console.error(`registry: unknown role ${JSON.stringify(role)} (expected no argument, or "worker")`);
  process.exit(2);
}
