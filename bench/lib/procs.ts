/**
 * /proc helpers and bounded child processes for the comparison benchmark (bench/compare.ts):
 * CPU ticks and peak RSS of a process tree, and `run()` for short commands (curl, wrk, getconf)
 * with a hard timeout (children and stop are in dev/processes.ts). Linux only.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** utime + stime of one process (all its threads), in clock ticks; 0 if it is gone. */
function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the `(comm)`: state is field 3, utime field 14, stime field 15
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]);
  } catch {
    return 0;
  }
}

/**
 * On-CPU nanoseconds of one process: the sum over its threads of /proc/<pid>/task/<tid>/schedstat
 * (field 1). Finer than the 10 ms ticks of utime + stime (an nginx sendfile of 100 MiB costs less
 * than one tick), but threads that exit between two readings are lost; 0 if the process is gone.
 */
function cpuNs(pid: number): number {
  try {
    let sum = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        sum += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // thread gone
      }
    }
    return sum;
  } catch {
    return 0;
  }
}

/** Per-pid tick snapshot of a set of processes; `ticksSince` sums the deltas (new pids count from 0). */
export interface CpuSnapshot {
  ticks: Map<number, number>;
  ns: Map<number, number>;
}

export function snapshot(pids: number[]): CpuSnapshot {
  return { ticks: new Map(pids.map((p) => [p, cpuTicks(p)])), ns: new Map(pids.map((p) => [p, cpuNs(p)])) };
}

/** Sum of utime + stime deltas in clock ticks since `before` (pids new since then count from 0). */
export function ticksSince(before: CpuSnapshot, pids: number[]): number {
  let sum = 0;
  for (const p of new Set([...before.ticks.keys(), ...pids])) sum += Math.max(0, cpuTicks(p) - (before.ticks.get(p) ?? 0));
  return sum;
}

/** Sum of on-CPU nanosecond deltas (schedstat) since `before`. */
export function nsSince(before: CpuSnapshot, pids: number[]): number {
  let sum = 0;
  for (const p of new Set([...before.ns.keys(), ...pids])) sum += Math.max(0, cpuNs(p) - (before.ns.get(p) ?? 0));
  return sum;
}

/** A `/proc/<pid>/status` field in bytes (VmRSS, VmHWM); NaN if missing. */
export function statusBytes(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Whether `pid` is still a process whose command line contains `needle` (guards against pid reuse). */
export function alive(pid: number, needle: string): boolean {
  try {
    if (!existsSync(`/proc/${pid}`)) return false;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/\) Z /.test(stat)) return false;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle);
  } catch {
    return false;
  }
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command to completion (in `env`, default this process's); killed (SIGKILL) after `timeoutMs`. */
export async function run(cmd: string[], timeoutMs: number, env?: Record<string, string | undefined>): Promise<RunResult> {
  const t = performance.now();
  const p = Bun.spawn(cmd, { stdout: 'pipe', stderr: 'pipe', ...(env ? { env } : {}) });
  const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
  try {
    const [stdout, stderr, code] = await Promise.all([
      new Response(p.stdout as ReadableStream).text(),
      new Response(p.stderr as ReadableStream).text(),
      p.exited,
    ]);
    return { code, stdout, stderr, ms: performance.now() - t };
  } finally {
    clearTimeout(timer);
    if (p.exitCode === null) p.kill('SIGKILL');
  }
}

export interface TimedResult extends RunResult {
  /** wall seconds as /usr/bin/time measured them (the run's own clock if time wrote nothing) */
  elapsedS: number;
  /** the command's user + system CPU seconds (NaN when it was killed) */
  cpuS: number;
}

/** `run` under `/usr/bin/time`: also the command's own wall and CPU seconds (the generator's CPU). */
export async function timed(cmd: string[], timeoutMs: number, env?: Record<string, string | undefined>): Promise<TimedResult> {
  const f = join(tmpdir(), `bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const r = await run(['/usr/bin/time', '-f', '%e %U %S', '-o', f, ...cmd], timeoutMs, env);
  let elapsedS = r.ms / 1000;
  let cpuS = Number.NaN;
  try {
    const [e, u, s] = readFileSync(f, 'utf8').trim().split('\n').pop()!.split(/\s+/).map(Number);
    elapsedS = e!;
    cpuS = u! + s!;
  } catch {
    // time did not write (killed)
  }
  rmSync(f, { force: true });
  return { ...r, elapsedS, cpuS };
}

export const median = (xs: number[]): number => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
};

/**
 * The rule every benchmark applies to a measured window (CPU as % of one core, on a 2-core
 * machine): the generator at ≥ 90 % of a core is the bottleneck; generator and servers together at
 * ≥ 170 % saturate the machine. Null when neither holds (the caller says what else it sees).
 */
export function loadVerdict(generatorPct: number, serversPct: number): string | null {
  const busy = generatorPct + serversPct >= 170;
  if (generatorPct >= 90) return `generator-bound (generator ≥ 90 % of a core${busy ? ', both cores busy' : ''})`;
  if (busy) return 'machine saturated (both cores busy), generator < 90 % of a core';
  return null;
}
