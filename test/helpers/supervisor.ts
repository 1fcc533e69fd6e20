/**
 * Runs a supervisor as a real process (by default `bun src/main.ts`, i.e. what `bun run start`
 * runs) on a free port with its own storage, and watches its error log and worker processes.
 */
import { afterEach } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { freePort } from './server.ts';

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

export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // a zombie still answers kill 0: look at its state
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
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
    workers: () => childrenOf(proc.pid),
    waitFor,
    async stop() {
      const workers = childrenOf(proc.pid);
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

export interface FetchLoopResult {
  requests: number;
  ok: number;
  failures: number;
  /** failure reasons (error message or `status N`) and their counts */
  reasons: Record<string, number>;
  /** of the requests that got a response */
  latenciesMs: number[];
  elapsedMs: number;
}

/**
 * `concurrency` closed loops of `fetch(url)` for `durationMs`. Bun's fetch keeps connections
 * alive and reuses them, as docker and skopeo do, so a worker that closes a kept-alive connection
 * under a client shows up here as a failure (a load with a new connection per request never sees it).
 */
export async function fetchLoop(url: string, concurrency: number, durationMs: number): Promise<FetchLoopResult> {
  const reasons: Record<string, number> = {};
  const latenciesMs: number[] = [];
  let requests = 0;
  let ok = 0;
  const t0 = performance.now();
  const end = t0 + durationMs;
  const loop = async () => {
    while (performance.now() < end) {
      requests++;
      try {
        const sent = performance.now();
        const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
        await r.arrayBuffer();
        latenciesMs.push(performance.now() - sent);
        if (r.ok) ok++;
        else reasons[`status ${r.status}`] = (reasons[`status ${r.status}`] ?? 0) + 1;
      } catch (e) {
        const why = (e as Error).message || String(e);
        reasons[why] = (reasons[why] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { requests, ok, failures: requests - ok, reasons, latenciesMs, elapsedMs: performance.now() - t0 };
}

/**
 * Like `fetchLoop`, but each loop is one raw HTTP/1.1 keep-alive connection driven the way wrk
 * drives it: the next request goes out as soon as a response is complete, nothing is retried, and
 * a new connection is opened only after a `Connection: close` response (or an idle close). A
 * connection closed or reset while a request is on it counts as a failure. (Bun's fetch silently
 * retries a GET whose reused connection was closed, which hides exactly this.) Responses must
 * carry a Content-Length.
 */
export async function keepAliveLoop(host: string, port: number, path: string, concurrency: number, durationMs: number): Promise<FetchLoopResult> {
  const reasons: Record<string, number> = {};
  const latenciesMs: number[] = [];
  const fail = (why: string) => (reasons[why] = (reasons[why] ?? 0) + 1);
  let requests = 0;
  let ok = 0;
  const t0 = performance.now();
  const end = t0 + durationMs;
  const request = `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUser-Agent: registry-keepalive-loop\r\n\r\n`;
  /** one connection: resolves when it is closed (by either side) */
  const connection = () =>
    new Promise<void>((resolve) => {
      let buf = Buffer.alloc(0);
      let pending = false;
      let sentAt = 0;
      let done = false;
      const finish = (why: string | null) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (pending && why) fail(why);
        resolve();
      };
      const timer = setTimeout(() => finish('timeout'), Math.max(0, end - performance.now()) + 5000);
      const send = (s: { write(d: string): number }) => {
        if (performance.now() >= end) return false;
        requests++;
        pending = true;
        sentAt = performance.now();
        s.write(request);
        return true;
      };
      Bun.connect({
        hostname: host,
        port,
        socket: {
          open(s) {
            if (!send(s)) s.end();
          },
          data(s, chunk) {
            buf = Buffer.concat([buf, chunk]);
            for (;;) {
              const head = buf.indexOf('\r\n\r\n');
              if (head < 0) return;
              const headers = buf.subarray(0, head).toString('latin1');
              const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(headers)?.[1] ?? NaN);
              if (!Number.isFinite(length)) {
                fail('no content-length');
                pending = false;
                return void s.end();
              }
              if (buf.length < head + 4 + length) return;
              buf = buf.subarray(head + 4 + length);
              pending = false;
              latenciesMs.push(performance.now() - sentAt);
              const status = Number(headers.slice(9, 12));
              if (status >= 200 && status < 300) ok++;
              else fail(`status ${status}`);
              if (/\r\nconnection:\s*close/i.test(headers) || !send(s)) return void s.end();
            }
          },
          close(_s, err) {
            finish(err ? `reset (${err.message || 'error'})` : 'closed with a request pending');
          },
          error(_s, err) {
            finish(`error (${err.message})`);
          },
          connectError(_s, err) {
            // a refused connection is a failed request too
            requests++;
            pending = true;
            finish(`connect (${err.message})`);
          },
        },
      }).catch((err: Error) => {
        requests++;
        pending = true;
        finish(`connect (${err.message})`);
      });
    });
  const loop = async () => {
    while (performance.now() < end) await connection();
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { requests, ok, failures: requests - ok, reasons, latenciesMs, elapsedMs: performance.now() - t0 };
}
