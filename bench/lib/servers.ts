/**
 * The three servers of bench/compare.ts, each a child process on a free loopback port:
 *  - ours: `bun src/main.ts` (supervisor + N workers, access log off unless asked for);
 *  - nginx: its own prefix, config and pid file under a temp dir, `daemon off;` (access log off
 *    unless asked for);
 *  - distribution (V2): `docker-registry serve <config.yml>`, filesystem storage in a temp dir
 *    (started by dev/distribution.ts, shared with the client-compatibility tests).
 * `servingPids()` is what CPU and RSS are read from (the master and its workers, or the one Go
 * process); `stop()` ends the process and checks that every pid seen is gone.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { startDistribution as startDist } from '../../dev/distribution.ts';
import { freePort } from '../../dev/ports.ts';
import { children, killAll, stop as stopProc } from '../../dev/processes.ts';
import { alive } from './procs.ts';
import { ROOT } from './env.ts';

export const HOST = '127.0.0.1';

export interface Server {
  name: string;
  url: string;
  port: number;
  proc: Subprocess;
  servingPids(): number[];
  /** stops the server; returns pids that were still alive afterwards (killed with SIGKILL) */
  stop(): Promise<number[]>;
}

/** Every server started and not yet stopped, for the signal handler and the final check. */
export const live = new Set<Server>();

export function which(bin: string): string | null {
  for (const dir of (process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const p = join(dir, bin);
    if (existsSync(p)) return p;
  }
  for (const p of [`/usr/sbin/${bin}`, `/usr/bin/${bin}`]) if (existsSync(p)) return p;
  return null;
}

async function waitFor(url: string, proc: Subprocess, ok: () => boolean = () => true, timeoutMs = 20_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && proc.exitCode === null) {
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      if (r.ok && ok()) return true;
    } catch {
      // not listening yet
    }
    await Bun.sleep(100);
  }
  return false;
}

/** Stops `proc`, then SIGKILLs any of `seen` (pids with `needle` in their cmdline) still alive after 3 s. */
async function stopAll(server: Server, signal: NodeJS.Signals, seen: Set<number>, needle: string): Promise<number[]> {
  for (const p of server.servingPids()) seen.add(p);
  await stopProc(server.proc, signal);
  live.delete(server);
  let left = [...seen].filter((p) => alive(p, needle));
  for (let i = 0; i < 30 && left.length > 0; i++) {
    await Bun.sleep(100);
    left = left.filter((p) => alive(p, needle));
  }
  killAll(left);
  return left;
}

/** The command and environment every benchmark starts our registry with (access log off). */
export const REGISTRY_COMMAND = [process.execPath, 'src/main.ts'];
export const REGISTRY_CWD = ROOT;
export function registryEnv(port: number, storagePath: string, workers: number, extra: Record<string, string> = {}) {
  return {
    ...process.env,
    REGISTRY_HOST: HOST,
    REGISTRY_PORT: String(port),
    STORAGE_PATH: storagePath,
    REGISTRY_WORKERS: String(workers),
    REGISTRY_ACCESSLOG: 'off',
    ...extra,
  };
}

/**
 * Our registry with `workers` workers, its error log in `logFile`. With `accessLog`, the access log
 * is on in the default configuration (`accesslog: -`, lines on stdout) and stdout goes to that
 * file, so every line is real I/O as in a deployment whose stdout is a file or a pipe.
 */
export async function startOurs(storagePath: string, workers: number, logFile: string, mark: Record<string, string> = {}, accessLog?: string): Promise<Server> {
  const port = await freePort();
  const proc = Bun.spawn(REGISTRY_COMMAND, {
    cwd: REGISTRY_CWD,
    env: registryEnv(port, storagePath, workers, accessLog === undefined ? mark : { ...mark, REGISTRY_ACCESSLOG: '-' }),
    stdout: accessLog === undefined ? 'ignore' : Bun.file(accessLog),
    stderr: Bun.file(logFile),
  });
  const seen = new Set<number>();
  const server: Server = {
    name: `ours (${workers} worker${workers > 1 ? 's' : ''})`,
    url: `http://${HOST}:${port}`,
    port,
    proc,
    servingPids: () => [proc.pid, ...children(proc.pid)],
    stop: () => stopAll(server, 'SIGTERM', seen, 'src/main.ts'),
  };
  live.add(server);
  if (!(await waitFor(`${server.url}/v1/_ping`, proc, () => children(proc.pid).length === workers))) {
    await server.stop();
    throw new Error(`registry did not start (see ${logFile})`);
  }
  for (const p of server.servingPids()) seen.add(p);
  return server;
}

/**
 * nginx serving `www` with sendfile, 2 workers. No access log, or with `accessLog` the default
 * (combined) format into that file, buffered as a busy deployment would (`buffer=64k flush=1s`).
 * Needs root for `user root;` (temp dirs are 0700).
 */
export async function startNginx(nginx: string, dir: string, www: string, workers = 2, accessLog?: string): Promise<Server> {
  const port = await freePort();
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const conf = join(dir, 'nginx.conf');
  const temp = (k: string) => `  ${k}_temp_path ${join(dir, k)};`;
  writeFileSync(
    conf,
    [
      ...(process.getuid?.() === 0 ? ['user root;'] : []),
      `worker_processes ${workers};`,
      'daemon off;',
      `pid ${join(dir, 'nginx.pid')};`,
      `error_log ${join(dir, 'error.log')};`,
      'events {}',
      'http {',
      accessLog === undefined ? '  access_log off;' : `  access_log ${accessLog} combined buffer=64k flush=1s;`,
      '  sendfile on;',
      '  tcp_nopush on;',
      temp('client_body'),
      temp('proxy'),
      temp('fastcgi'),
      temp('uwsgi'),
      temp('scgi'),
      `  server { listen ${HOST}:${port}; root ${www}; location / {} }`,
      '}',
      '',
    ].join('\n'),
  );
  const proc = Bun.spawn([nginx, '-p', dir, '-c', conf, '-e', join(dir, 'error.log')], { stdout: 'ignore', stderr: Bun.file(join(dir, 'stderr.log')) });
  const seen = new Set<number>();
  const server: Server = {
    name: 'nginx',
    url: `http://${HOST}:${port}`,
    port,
    proc,
    servingPids: () => [proc.pid, ...children(proc.pid)],
    stop: () => stopAll(server, 'SIGTERM', seen, 'nginx'),
  };
  live.add(server);
  if (!(await waitFor(`${server.url}/ping.json`, proc, () => children(proc.pid).length === workers))) {
    await server.stop();
    throw new Error(`nginx did not start (see ${dir}/error.log)`);
  }
  for (const p of server.servingPids()) seen.add(p);
  return server;
}

/**
 * The distribution registry (V2) on filesystem storage under `dir` (dev/distribution.ts: the stock
 * config's in-memory blob descriptor cache, access log off).
 */
export async function startDistribution(dir: string): Promise<Server> {
  const d = await startDist({ dir });
  const seen = new Set<number>([d.proc.pid]);
  const server: Server = {
    name: 'distribution',
    url: d.url,
    port: d.port,
    proc: d.proc,
    servingPids: () => [d.proc.pid],
    stop: () => stopAll(server, 'SIGTERM', seen, 'docker-registry'),
  };
  live.add(server);
  return server;
}
