/**
 * Entry point. `bun src/main.ts` runs the supervisor, which migrates the database once and
 * re-executes this file as `bun src/main.ts worker` for each worker process. The binary built by
 * `bun run build` (scripts/build.ts) does the same by re-executing itself: `registry worker`.
 */
import { ConfigError } from './config/load.ts';
import { Arbiter } from './supervisor/arbiter.ts';
import { migrateMetaStore } from './db/open.ts';
import { runWorker } from './worker/worker.ts';

const role = process.argv[2] ?? 'supervise';

/**
 * How to start a worker: this same program with the `worker` role. From source, process.execPath
 * is bun and Bun.main this file. In a `bun build --compile` executable, process.execPath is the
 * executable itself, Bun.main a virtual `/$bunfs/root/...` path that exists only inside it, and
 * process.argv is still `[bun, Bun.main, ...args]`, so the role lands in argv[2] either way.
 */
function workerCommand(): string[] {
  return Bun.isStandaloneExecutable ? [process.execPath, 'worker'] : [process.execPath, Bun.main, 'worker'];
}

if (role === 'worker') {
  await runWorker();
} else if (role === 'supervise') {
  let arbiter: Arbiter;
  try {
    arbiter = new Arbiter({ workerCommand: workerCommand(), prepare: migrateMetaStore });
  } catch (e) {
    console.error(`registry: ${e instanceof ConfigError ? e.message : String(e)}`);
    process.exit(2);
  }
  await arbiter.start();
} else {
  console.error(`registry: unknown role ${JSON.stringify(role)} (expected no argument, or "worker")`);
  process.exit(2);
}
