/**
 * Reload under load: how many requests a rolling reload (HUP), a killed worker, TTOU and
 * max_requests recycling cost clients that open a new connection per request, and clients that
 * keep their connections alive (wrk, Bun's fetch), with and without the net.ipv4.tcp_migrate_req
 * sysctl.
 *
 *   bun bench/reload.ts
 *
 * Every scenario gets a fresh registry (supervisor + 2 workers) on a free loopback port with its
 * own storage directory, and `bench/lib/load.ts` drives `GET /v1/_ping` from 127.0.0.1 with
 * 32 closed loops for 6 s:
 *   baseline     no disturbance
 *   hup          SIGHUP to the master at 1.5, 3.0 and 4.5 s
 *   kill         SIGKILL to one current worker at 1.5, 3.0 and 4.5 s
 *   max_requests REGISTRY_MAX_REQUESTS=2000, REGISTRY_MAX_REQUESTS_JITTER=500
 * and then, with keep-alive clients (16 connections: `wrk -t1 -c16` if wrk is installed, and a
 * loop of 16 Bun fetches, which reuse their connections):
 *   hup          as above
 *   ttou         SIGTTIN, then SIGTTOU 0.5 s later (the oldest worker is drained), ×3
 *   max_requests as above
 * The master's children are sampled every 100 ms to count the distinct workers seen (recycles =
 * workers seen - 2), together with the sysctl value. As root, every scenario runs twice: with
 * tcp_migrate_req=1 and with it forced to 0 (and REGISTRY_TCP_MIGRATE_REQ=false, so the
 * supervisor leaves it alone); the original value is restored at the end. Otherwise only the
 * current value is measured. Prints a markdown table and writes `.bench-out/reload.json`.
 *
 * The sysctl is per network namespace: a registry started elsewhere in the same namespace during
 * a `0` run (a test suite, say) turns it back on. The value is therefore sampled during the run
 * and every value seen is reported.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { fetchLoop } from '../dev/load.ts';
import { freePort } from '../dev/ports.ts';
import { children, killAll, stop } from '../dev/processes.ts';
import { percentile, runLoad, type LoadResult } from './lib/load.ts';
import { HOST, REGISTRY_COMMAND, REGISTRY_CWD, registryEnv } from './lib/servers.ts';
import { envNumber, OUT_DIR } from './lib/env.ts';
import { machineInfo, markedPids } from './lib/session.ts';

const SYSCTL = '/proc/sys/net/ipv4/tcp_migrate_req';
const PATH = '/v1/_ping';
const WORKERS = 2;
const CONCURRENCY = envNumber('BENCH_RELOAD_CONCURRENCY', 32, 1, 4096);
const DURATION_MS = envNumber('BENCH_RELOAD_SECONDS', 6, 1, 3600) * 1000;
const MAX_REQUESTS = 1_000_000;
const DISTURB_AT_MS = [1500, 3000, 4500];
const SAMPLE_EVERY_MS = 100;
/** runs of one scenario when the sysctl was changed under it by someone else */
const MAX_ATTEMPTS = 3;
/** marks every process of this run (the registry's env is inherited by its workers) */
const RUN_MARK = `BENCH_RELOAD_RUN=${crypto.randomUUID()}`;

/** the sysctl's value when the benchmark started: restored after every forced run and at the end */
const original = readSysctl();

type ScenarioName = 'baseline' | 'hup' | 'kill' | 'ttou' | 'max_requests';
/** new-conn: bench/lib/load.ts, a new connection per request; wrk and fetch keep connections alive */
type Client = 'new-conn' | 'wrk' | 'fetch';
const KEEPALIVE_CONNECTIONS = 16;
const WRK = ['/usr/bin/wrk', '/usr/local/bin/wrk'].find((p) => existsSync(p)) ?? null;
const MAX_REQUESTS_ENV = { REGISTRY_MAX_REQUESTS: '2000', REGISTRY_MAX_REQUESTS_JITTER: '500' };
interface Scenario {
  name: ScenarioName;
  client: Client;
  what: string;
  env?: Record<string, string>;
}
const KEEPALIVE: { name: ScenarioName; what: string; env?: Record<string, string> }[] = [
  { name: 'hup', what: 'SIGHUP to the master ×3, 1.5 s apart' },
  { name: 'ttou', what: 'SIGTTIN then SIGTTOU 0.5 s later, ×3, 1.5 s apart' },
  { name: 'max_requests', what: 'max_requests 2000 + jitter 0–500', env: MAX_REQUESTS_ENV },
];
const SCENARIOS: Scenario[] = [
  { name: 'baseline', client: 'new-conn', what: 'no disturbance' },
  { name: 'hup', client: 'new-conn', what: 'SIGHUP to the master ×3, 1.5 s apart' },
  { name: 'kill', client: 'new-conn', what: 'SIGKILL to one worker ×3, 1.5 s apart' },
  { name: 'max_requests', client: 'new-conn', what: 'max_requests 2000 + jitter 0–500', env: MAX_REQUESTS_ENV },
  ...(['wrk', 'fetch'] as const).flatMap((client) =>
    client === 'wrk' && !WRK ? [] : KEEPALIVE.map((k) => ({ ...k, client })),
  ),
];

/** Runs `wrk --latency` and reads its summary; every socket error and non-2xx reply is a failure. `cpuMs` is wrk's own CPU time. */
async function runWrk(url: string, connections: number, durationMs: number): Promise<LoadResult & { cpuMs: number }> {
  const proc = Bun.spawn([WRK!, '-t1', `-c${connections}`, `-d${Math.round(durationMs / 1000)}s`, '--latency', url], {
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [out] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  const requests = Number(/(\d+) requests in ([\d.]+)(m?s)/.exec(out)?.[1] ?? 0);
  const elapsed = /\d+ requests in ([\d.]+)(ms|s|m)\b/.exec(out);
  const elapsedMs = elapsed ? Number(elapsed[1]) * (elapsed[2] === 'ms' ? 1 : elapsed[2] === 'm' ? 60_000 : 1000) : durationMs;
  const reasons: Record<string, number> = {};
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  if (socket) {
    for (const [i, kind] of ['connect', 'read', 'write', 'timeout'].entries()) {
      const n = Number(socket[i + 1]);
      if (n > 0) reasons[`wrk ${kind} error`] = n;
    }
  }
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  if (non2xx > 0) reasons['non-2xx'] = non2xx;
  const failures = Object.values(reasons).reduce((a, b) => a + b, 0);
  // wrk prints percentiles, not samples: keep them as stand-ins for percentile() (50, 99, max)
  const ms = (v: string, unit: string) => Number(v) * (unit === 'us' ? 0.001 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 1);
  const pct = (p: number) => {
    const m = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s|m)`).exec(out);
    return m ? ms(m[1]!, m[2]!) : NaN;
  };
  const max = /Latency\s+[\d.]+\w+\s+[\d.]+\w+\s+([\d.]+)(us|ms|s|m)/.exec(out);
  const latenciesMs = [pct(50), pct(99), max ? ms(max[1]!, max[2]!) : NaN].filter(Number.isFinite);
  const usage = proc.resourceUsage();
  const cpuMs = usage ? Number(usage.cpuTime.user + usage.cpuTime.system) / 1000 : NaN;
  return { requests, ok: requests - failures, failures, reasons, latenciesMs, failureAtMs: [], elapsedMs, cpuMs };
}

interface Row {
  scenario: ScenarioName;
  client: Client;
  what: string;
  /** the sysctl value this run asked for */
  migrateReq: string;
  /** every value sampled during the load window */
  migrateReqSeen: string[];
  requests: number;
  ok: number;
  failures: number;
  reasons: Record<string, number>;
  failureRatePct: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  elapsedMs: number;
  reqPerSec: number;
  /** the load generator's own CPU time (user + system) during the window */
  generatorCpuMs: number;
  disturbances: { atMs: number; action: string }[];
  workersSeen: number;
  recycles: number;
  /** supervisor log lines worth knowing about, counted */
  logCounts: Record<string, number>;
  leftovers: number[];
  /** runs needed to get one during which the sysctl kept its value (at most MAX_ATTEMPTS) */
  attempts: number;
}

const clean = (r: Row) => r.migrateReqSeen.every((v) => v === r.migrateReq);

// ---------------------------------------------------------------- processes of this run

const live = new Set<Subprocess>();

/** Pids of every process that carries this run's mark (registry masters and their workers). */
const runPids = () => markedPids(RUN_MARK);

function readSysctl(): string | null {
  try {
    return readFileSync(SYSCTL, 'utf8').trim();
  } catch {
    return null;
  }
}

function writeSysctl(value: string): boolean {
  try {
    writeFileSync(SYSCTL, value);
    return readSysctl() === value;
  } catch {
    return false;
  }
}

/** SIGTERM, SIGKILL after 5 s; then makes sure no marked process (an orphaned worker) is left. */
async function stopRegistry(proc: Subprocess): Promise<number[]> {
  await stop(proc);
  live.delete(proc);
  // workers leave within ~2 s of their master; give them 3 s, then kill by pid
  let left = runPids();
  for (let i = 0; i < 30 && left.length > 0; i++) {
    await Bun.sleep(100);
    left = runPids();
  }
  killAll(left);
  return left;
}

interface Registry {
  proc: Subprocess;
  port: number;
  storagePath: string;
  log: () => string;
}

async function startRegistry(env: Record<string, string>): Promise<Registry> {
  const storagePath = mkdtempSync(join(tmpdir(), 'registry-bench-reload-'));
  const port = await freePort();
  let log = '';
  const [markKey, markValue] = RUN_MARK.split('=') as [string, string];
  const proc = Bun.spawn(REGISTRY_COMMAND, {
    cwd: REGISTRY_CWD,
    env: registryEnv(port, storagePath, WORKERS, { [markKey]: markValue, ...env }),
    stdout: 'ignore',
    stderr: 'pipe',
  });
  live.add(proc);
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) {
      if (log.length < 4 * 1024 * 1024) log += decoder.decode(chunk, { stream: true });
    }
  })().catch(() => {});
  const reg: Registry = { proc, port, storagePath, log: () => log };
  // ready: both workers are running and _ping answers (bounded: 20 s)
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && proc.exitCode === null) {
    const ready = (log.match(/Booting worker with pid/g) ?? []).length >= WORKERS;
    if (ready && children(proc.pid).length === WORKERS) {
      try {
        if ((await fetch(`http://${HOST}:${port}${PATH}`)).ok) return reg;
      } catch {
        // not yet
      }
    }
    await Bun.sleep(100);
  }
  await stopRegistry(proc);
  rmSync(storagePath, { recursive: true, force: true });
  throw new Error(`registry did not start on ${HOST}:${port}:\n${log}`);
}

// ---------------------------------------------------------------- one scenario

const LOG_PATTERNS: [string, RegExp][] = [
  ['Handling signal: hup', /Handling signal: hup/g],
  ['Booting worker', /Booting worker with pid/g],
  ['Autorestarting worker', /Autorestarting worker/g],
  ['was sent SIGTERM', /was sent SIGTERM/g],
  ['was sent SIGKILL', /was sent SIGKILL/g],
  ['exited with code', /exited with code/g],
  ['graceful timeout', /graceful timeout|overran graceful_timeout/g],
  ['WORKER TIMEOUT', /WORKER TIMEOUT/g],
  ['Next worker start', /Next worker start/g],
];

async function runScenario(s: Scenario, migrateReq: string, canWrite: boolean): Promise<Row> {
  if (canWrite && !writeSysctl(migrateReq)) throw new Error(`could not set ${SYSCTL}=${migrateReq}`);
  const reg = await startRegistry({
    REGISTRY_TCP_MIGRATE_REQ: migrateReq === '1' ? 'true' : 'false',
    ...s.env,
  });
  const master = reg.proc.pid;
  const pidsSeen = new Set(children(master));
  const sysctlSeen = new Set<string>([readSysctl() ?? 'n/a']);
  const disturbances: Row['disturbances'] = [];
  const timers: ReturnType<typeof setTimeout>[] = [];
  let row: Row | undefined;
  let sampling = true;
  try {
    // sampler: children of the master and the sysctl, every 100 ms, bounded in count
    const maxSamples = Math.ceil((DURATION_MS + 10_000) / SAMPLE_EVERY_MS);
    const sampler = (async () => {
      for (let i = 0; i < maxSamples && sampling; i++) {
        for (const pid of children(master)) pidsSeen.add(pid);
        sysctlSeen.add(readSysctl() ?? 'n/a');
        await Bun.sleep(SAMPLE_EVERY_MS);
      }
    })();

    const t0 = performance.now();
    if (s.name === 'ttou') {
      for (const at of DISTURB_AT_MS) {
        const signal = (sig: 'SIGTTIN' | 'SIGTTOU') => () => {
          reg.proc.kill(sig);
          disturbances.push({ atMs: Math.round(performance.now() - t0), action: `${sig} master ${master}` });
        };
        timers.push(setTimeout(signal('SIGTTIN'), at - 500), setTimeout(signal('SIGTTOU'), at));
      }
    }
    if (s.name === 'hup' || s.name === 'kill') {
      for (const at of DISTURB_AT_MS) {
        timers.push(
          setTimeout(() => {
            const atMs = Math.round(performance.now() - t0);
            if (s.name === 'hup') {
              reg.proc.kill('SIGHUP');
              disturbances.push({ atMs, action: `SIGHUP master ${master}` });
            } else {
              const current = children(master);
              // a current worker: any child that is still there (random, not always the oldest)
              const victim = current[Math.floor(Math.random() * current.length)];
              if (victim === undefined) {
                disturbances.push({ atMs, action: 'SIGKILL skipped: no worker' });
                return;
              }
              try {
                process.kill(victim, 'SIGKILL');
                disturbances.push({ atMs, action: `SIGKILL worker ${victim} (of ${current.join(',')})` });
              } catch (e) {
                disturbances.push({ atMs, action: `SIGKILL worker ${victim} failed: ${(e as Error).message}` });
              }
            }
          }, at),
        );
      }
    }
    const cpu0 = process.cpuUsage();
    const url = `http://${HOST}:${reg.port}${PATH}`;
    const load: LoadResult & { cpuMs?: number } =
      s.client === 'wrk'
        ? await runWrk(url, KEEPALIVE_CONNECTIONS, DURATION_MS)
        : s.client === 'fetch'
          ? { ...(await fetchLoop(url, KEEPALIVE_CONNECTIONS, DURATION_MS)), failureAtMs: [] }
          : await runLoad({ host: HOST, port: reg.port, path: PATH, concurrency: CONCURRENCY, durationMs: DURATION_MS, maxRequests: MAX_REQUESTS });
    const cpu = process.cpuUsage(cpu0);
    sampling = false;
    await sampler;
    for (const pid of children(master)) pidsSeen.add(pid);
    sysctlSeen.add(readSysctl() ?? 'n/a');

    const log = reg.log();
    const logCounts: Record<string, number> = {};
    for (const [label, re] of LOG_PATTERNS) {
      const n = (log.match(re) ?? []).length;
      if (n > 0) logCounts[label] = n;
    }
    row = {
      scenario: s.name,
      client: s.client,
      what: s.what,
      migrateReq,
      migrateReqSeen: [...sysctlSeen].sort(),
      requests: load.requests,
      ok: load.ok,
      failures: load.failures,
      reasons: load.reasons,
      failureRatePct: load.requests ? (100 * load.failures) / load.requests : 0,
      // wrk reports its own percentiles: [p50, p99, max]
      p50Ms: s.client === 'wrk' ? (load.latenciesMs[0] ?? NaN) : percentile(load.latenciesMs, 50),
      p99Ms: s.client === 'wrk' ? (load.latenciesMs[1] ?? NaN) : percentile(load.latenciesMs, 99),
      maxMs: s.client === 'wrk' ? (load.latenciesMs[2] ?? NaN) : load.latenciesMs.reduce((a, b) => Math.max(a, b), 0),
      elapsedMs: load.elapsedMs,
      reqPerSec: load.requests / (load.elapsedMs / 1000),
      generatorCpuMs: load.cpuMs ?? (cpu.user + cpu.system) / 1000,
      disturbances,
      workersSeen: pidsSeen.size,
      recycles: Math.max(0, pidsSeen.size - WORKERS),
      logCounts,
      leftovers: [],
      attempts: 1,
    };
    return row;
  } finally {
    sampling = false;
    for (const t of timers) clearTimeout(t);
    const leftovers = await stopRegistry(reg.proc);
    if (row) row.leftovers = leftovers;
    if (leftovers.length > 0) console.error(`warning: killed leftover registry processes ${leftovers.join(', ')}`);
    rmSync(reg.storagePath, { recursive: true, force: true });
    // the sysctl is shared by the whole network namespace: keep the forced value no longer than needed
    if (canWrite && original !== null && readSysctl() !== original) writeSysctl(original);
  }
}

// ---------------------------------------------------------------- output

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const reasonsText = (r: Record<string, number>) =>
  Object.entries(r)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ×${v}`)
    .join(', ') || '–';

function table(rows: Row[]): string {
  const lines = [
    '| scenario | client | tcp_migrate_req (seen) | requests | req/s | failures | failure rate | reasons | p50 ms | p99 ms | max ms | workers seen (recycles) | generator CPU / elapsed |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.scenario} | ${r.client} | ${r.migrateReq}${r.migrateReqSeen.join(',') !== r.migrateReq ? ` (${r.migrateReqSeen.join(',')}!)` : ''} | ${r.requests} | ${fmt(r.reqPerSec, 0)} | ${r.failures} | ${fmt(r.failureRatePct, 2)} % | ${reasonsText(r.reasons)} | ${fmt(r.p50Ms)} | ${fmt(r.p99Ms)} | ${fmt(r.maxMs)} | ${r.workersSeen} (${r.recycles}) | ${fmt(r.generatorCpuMs / 1000, 2)} s / ${fmt(r.elapsedMs / 1000, 2)} s (${fmt((100 * r.generatorCpuMs) / r.elapsedMs, 0)} %) |`,
    );
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------- main

let restored = false;
const restore = () => {
  if (restored) return;
  restored = true;
  if (original !== null && readSysctl() !== original) writeSysctl(original);
};
/** Ctrl-C / TERM of the benchmark: the finally blocks would not run, so clean up here. */
const onSignal = (sig: NodeJS.Signals) => {
  for (const p of live) p.kill('SIGKILL');
  killAll(runPids());
  restore();
  console.error(`interrupted (${sig}); registry processes killed, sysctl restored to ${original}`);
  process.exit(130);
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const host = machineInfo();
const machine = `${host.nproc} × ${host.cpu}`;
const canWrite = original !== null && writeSysctl(original);
const modes = (canWrite ? ['1', '0'] : [original ?? 'n/a']).filter(
  (m) => !canWrite || !process.env.BENCH_RELOAD_MODES || process.env.BENCH_RELOAD_MODES.split(',').includes(m),
);
const only = process.env.BENCH_RELOAD_ONLY?.split(',');
const clients = process.env.BENCH_RELOAD_CLIENTS?.split(',');
const scenarios = SCENARIOS.filter((s) => (!only || only.includes(s.name)) && (!clients || clients.includes(s.client)));
const rows: Row[] = [];
let exitCode = 0;
try {
  console.log(`machine: ${machine}; bun ${Bun.version}; ${process.platform} ${host.kernel}`);
  console.log(
    canWrite
      ? `tcp_migrate_req: originally ${original}; every scenario runs with 1 and with 0`
      : original === null
        ? 'tcp_migrate_req: not available (Linux < 5.14?); one run per scenario'
        : `tcp_migrate_req: ${original}, not writable (not root?); one run per scenario with the current value`,
  );
  console.log(
    `load: GET ${PATH} from ${HOST}, ${DURATION_MS / 1000} s, ${WORKERS} workers; new-conn: ${CONCURRENCY} loops, a new connection per request; ` +
      `keep-alive: ${KEEPALIVE_CONNECTIONS} connections (${WRK ? 'wrk -t1, and ' : 'wrk not installed; only '}a Bun fetch loop)\n`,
  );
  for (const mode of modes) {
    for (const s of scenarios) {
      // another registry in this network namespace may turn the sysctl on during a 0 run: retry
      let row = await runScenario(s, mode, canWrite);
      for (let attempt = 2; attempt <= MAX_ATTEMPTS && !clean(row); attempt++) {
        console.error(`  ${s.name}/${s.client} tcp_migrate_req=${mode}: the sysctl changed during the run (${row.migrateReqSeen.join(',')}); attempt ${attempt}`);
        row = await runScenario(s, mode, canWrite);
        row.attempts = attempt;
      }
      rows.push(row);
      console.error(
        `  ${row.scenario}/${row.client} tcp_migrate_req=${row.migrateReq}: ${row.requests} requests, ${row.failures} failures (${reasonsText(row.reasons)}), workers seen ${row.workersSeen}; log ${JSON.stringify(row.logCounts)}${row.disturbances.length ? `; ${row.disturbances.map((d) => `${d.atMs} ms ${d.action}`).join('; ')}` : ''}`,
      );
    }
  }
  console.log(table(rows));
  const contaminated = rows.filter((r) => !clean(r));
  if (contaminated.length) {
    console.log(
      `\nwarning: the sysctl changed during ${contaminated.map((r) => `${r.scenario}/${r.migrateReq}`).join(', ')} (another registry in this network namespace?); those rows are not clean`,
    );
  }
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(
    join(OUT_DIR, 'reload.json'),
    JSON.stringify(
      {
        date: new Date().toISOString(),
        machine: { cpus: host.nproc, model: host.cpu, bun: Bun.version },
        tcpMigrateReq: { original, writable: canWrite, modes },
        load: { host: HOST, path: PATH, concurrency: CONCURRENCY, keepAliveConnections: KEEPALIVE_CONNECTIONS, wrk: WRK, durationMs: DURATION_MS, workers: WORKERS },
        rows,
      },
      null,
      2,
    ) + '\n',
  );
  console.log(`\nwritten: ${join(OUT_DIR, 'reload.json')}`);
} catch (e) {
  console.error(e);
  exitCode = 1;
} finally {
  for (const p of live) await stopRegistry(p);
  restore();
  const left = runPids();
  if (left.length > 0) {
    console.error(`error: registry processes of this run still alive: ${left.join(', ')}`);
    exitCode = 1;
  }
  console.log(`tcp_migrate_req restored to ${readSysctl()}; no src/main.ts process of this run left: ${left.length === 0}`);
}
process.exit(exitCode);
