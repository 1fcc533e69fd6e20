/**
 * Runs a supervisor as a real process (by default `bun src/main.ts`, i.e. what `bun run start`
 * runs) on a free port with its own storage, and watches its error log and worker processes.
 */
import { afterEach } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { freePort } from '../../dev/ports.ts';
import { alive, children } from '../../dev/processes.ts';

const ROOT = join(import.meta.dir, '..', '..');
const MAIN = join(ROOT, 'src', 'main.ts');
export const HARNESS = join(ROOT, 'test', 'fixtures', 'supervisor-harness.ts');

export interface Supervisor {
  proc: Subprocess;
  pid: number;
  port: number;
  url: string;
  dir: string;
  /** the error log so far (lines arrive through a pipe: use waitLog or exited before asserting) */
  log(): string;
  /** waits until the error log contains `text` (or matches it) */
  waitLog(text: string | RegExp, timeoutMs?: number): Promise<void>;
  /** the exit status, once the process has exited AND its error log has been read to the end */
  exited: Promise<number>;
  /** the current worker pids (children of the master) */
  workers(): number[];
  waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs?: number): Promise<void>;
  /** SIGTERM (then SIGKILL after 10 s); removes the storage dir; checks no worker survived */
  stop(): Promise<number | null>;
}

export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await cond()) return;
    await Bun.sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
}

export async function startSupervisor(
  env: Record<string, string> = {},
  options: { command?: string[]; waitWorkers?: number; expectExit?: boolean } = {},
): Promise<Supervisor> {
  const dir = mkdtempSync(join(tmpdir(), 'registry-sup-'));
  const port = await freePort();
  let err = '';
  const proc = Bun.spawn(options.command ?? [process.execPath, MAIN], {
    cwd: ROOT,
    env: {
      ...process.env,
      REGISTRY_HOST: '127.0.0.1',
      REGISTRY_PORT: String(port),
      STORAGE_PATH: join(dir, 'data'),
      REGISTRY_WORKERS: '2',
      REGISTRY_ACCESSLOG: 'off',
      ...env,
    },
    stdout: 'ignore',
    stderr: 'pipe',
  });
  const decoder = new TextDecoder();
  const drained = (async () => {
    for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) err += decoder.decode(chunk);
  })().catch(() => {});
  const exited = Promise.all([proc.exited, drained]).then(([code]) => code);
  const sup: Supervisor = {
    proc,
    pid: proc.pid,
    port,
    url: `http://127.0.0.1:${port}`,
    dir,
    log: () => err,
    waitLog: (text, timeoutMs = 15_000) =>
      waitFor(`log line ${String(text)}`, () => (typeof text === 'string' ? err.includes(text) : text.test(err)), timeoutMs),
    exited,
    workers: () => children(proc.pid),
    waitFor,
    async stop() {
      const workers = children(proc.pid);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      for (const w of workers) if (alive(w)) process.kill(w, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
  if (options.expectExit) return sup;
  const want = options.waitWorkers ?? Number(env.REGISTRY_WORKERS ?? 2);
  try {
    await waitFor(`${want} workers booted`, () => (err.match(/Booting worker with pid/g)?.length ?? 0) >= want && proc.exitCode === null);
  } catch (e) {
    await sup.stop();
    throw new Error(`${(e as Error).message}\n--- supervisor log ---\n${err}`);
  }
  return sup;
}

/**
 * For a test file: supervisors started through `start` (or handed to `track`) are stopped, and
 * their directories removed, after each test.
 */
export function useSupervisors() {
  let running: Supervisor[] = [];
  afterEach(async () => {
    const stopping = running;
    running = [];
    await Promise.all(stopping.map((s) => s.stop()));
  });
  const track = (s: Supervisor) => {
    running.push(s);
    return s;
  };
  return {
    track,
    start: async (...args: Parameters<typeof startSupervisor>) => track(await startSupervisor(...args)),
    /** stops one now (e.g. before removing a directory it serves from) */
    stop: async (s: Supervisor) => {
      running = running.filter((r) => r !== s);
      await s.stop();
    },
  };
}
