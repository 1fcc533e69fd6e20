/** End-to-end helper: `bun run start` as a real process on a free port. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { freePort } from '../../dev/ports.ts';
import { stop as stopProcess } from '../../dev/processes.ts';


export interface StartedRegistry {
  url: string;
  port: number;
  storagePath: string;
  proc: Subprocess;
  stderr: () => string;
  /**
   * Only with `{ processGroup: true }`: sends `signal` to the whole process group (`bun run`, the
   * supervisor and its workers) at once, as a machine crash or an OOM kill of the group would.
   */
  killGroup(signal: NodeJS.Signals): void;
  stop(): Promise<void>;
}

export interface StartOptions {
  /**
   * Start the registry in a process group of its own (setsid), so that `killGroup` can signal
   * the master and every worker at once. The group is killed when this process exits.
   */
  processGroup?: boolean;
}

/** Signals a process group; false when it is gone already. */
function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

const ROOT = join(import.meta.dir, '..', '..');

/** Runs `bun run start` with its own storage directory; resolves once `_ping` answers. */
export async function startRegistry(env: Record<string, string> = {}, options: StartOptions = {}): Promise<StartedRegistry> {
  const storagePath = mkdtempSync(join(tmpdir(), 'registry-e2e-'));
  const port = await freePort();
  let errText = '';
  const proc = Bun.spawn([process.execPath, 'run', 'start'], {
    cwd: ROOT,
    env: { ...process.env, REGISTRY_HOST: '127.0.0.1', REGISTRY_PORT: String(port), STORAGE_PATH: storagePath, ...env },
    stdout: 'ignore',
    stderr: 'pipe',
    detached: options.processGroup === true,
  });
  // a group of its own does not die with this process's group: never leave it behind
  const killOnExit = () => signalGroup(proc.pid, 'SIGKILL');
  if (options.processGroup) process.once('exit', killOnExit);
  const killGroup = (signal: NodeJS.Signals) => {
    if (!options.processGroup) throw new Error('killGroup needs startRegistry(env, { processGroup: true })');
    signalGroup(proc.pid, signal);
  };
  void (async () => {
    for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) errText += new TextDecoder().decode(chunk);
  })();
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await stopProcess(proc);
    if (options.processGroup) {
      // whatever of the group outlived `bun run` (workers of a killed master) goes too
      signalGroup(proc.pid, 'SIGKILL');
      process.removeListener('exit', killOnExit);
    }
    rmSync(storagePath, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) break;
    try {
      const r = await fetch(`${url}/_ping`);
      if (r.ok) return { url, port, storagePath, proc, stderr: () => errText, killGroup, stop };
    } catch {
      // not listening yet
    }
    await Bun.sleep(100);
  }
  await stop();
  throw new Error(`registry did not start: ${errText}`);
}
