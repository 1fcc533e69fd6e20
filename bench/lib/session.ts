/**
 * What every benchmark run does around its measurements: a temp dir and an environment mark for
 * the processes it starts, finding and killing them (also on Ctrl-C, when `finally` blocks do
 * not run), the machine description, and number formatting. Linux only (reads /proc).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { killAll } from '../../dev/processes.ts';
import { run } from './procs.ts';
import { live, type Server } from './servers.ts';

/**
 * Pids of processes (other than this one) whose environment holds `mark` (`KEY=value`, inherited
 * by a registry's workers) or whose command line names `dir` (when given: nginx, Ceph daemons).
 */
export function markedPids(mark: string, dir?: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (dir !== undefined && readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(dir)) {
        out.push(Number(d));
        continue;
      }
      if (readFileSync(`/proc/${d}/environ`, 'utf8').split('\0').includes(mark)) out.push(Number(d));
    } catch {
      // gone or unreadable
    }
  }
  return out;
}

export interface Session {
  /** temp dir of this run, removed by `finish()` or on a signal */
  tmp: string;
  /** env entry to give every registry started, so that its workers can be found too */
  mark: Record<string, string>;
  /** pids of this run still alive: marked, or naming `tmp` in their command line */
  pids(): number[];
  /** pids that were still alive after a server was stopped (and were killed) */
  leftovers: number[];
  /** stops a server started by this run (no-op when null or already stopped), noting leftovers */
  stopServer(s: Server | null | undefined): Promise<void>;
  /**
   * On these signals: SIGKILL the servers and every process of the run, call `extra` (after the
   * servers, before the sweep), remove `tmp`, exit 130.
   */
  onSignals(signals: NodeJS.Signals[], extra?: () => void): void;
  /**
   * The end of a run: stops the servers still live, then `stopOthers`, then kills whatever of the
   * run is left and removes `tmp`. Returns the pids found left over (empty when clean); prints an
   * error when there were any.
   */
  finish(stopOthers?: () => Promise<void>): Promise<number[]>;
}

/** A run named `name` (`compare` → temp dir `registry-bench-compare-*`, mark `BENCH_COMPARE_RUN`). */
export function startSession(name: string): Session {
  const key = `BENCH_${name.toUpperCase().replace(/[^A-Z0-9]/g, '')}_RUN`;
  const id = crypto.randomUUID();
  const tmp = mkdtempSync(join(tmpdir(), `registry-bench-${name}-`));
  const pids = () => markedPids(`${key}=${id}`, tmp);
  const session: Session = {
    tmp,
    mark: { [key]: id },
    pids,
    leftovers: [],
    async stopServer(s) {
      if (!s || !live.has(s)) return;
      const left = await s.stop();
      if (left.length) {
        console.error(`warning: ${s.name}: killed leftover pids ${left.join(', ')}`);
        session.leftovers.push(...left);
      }
    },
    onSignals(signals, extra) {
      const handler = (sig: NodeJS.Signals) => {
        for (const s of live) killAll(s.servingPids());
        extra?.();
        killAll(pids());
        rmSync(tmp, { recursive: true, force: true });
        console.error(`interrupted (${sig}); servers killed, ${tmp} removed`);
        process.exit(130);
      };
      for (const sig of signals) process.on(sig, handler);
    },
    async finish(stopOthers) {
      for (const s of [...live]) await session.stopServer(s);
      await stopOthers?.();
      // workers leave shortly after their master
      await Bun.sleep(200);
      const left = pids();
      killAll(left);
      rmSync(tmp, { recursive: true, force: true });
      const all = [...left, ...session.leftovers];
      if (all.length) console.error(`error: processes of this run were still alive and were killed: ${all.join(', ')}`);
      return all;
    },
  };
  return session;
}

const MiB = 1024 * 1024;

/** The machine a result was measured on. */
export function machineInfo(): { nproc: number; cpu: string; memGiB: number; kernel: string } {
  const list = cpus();
  return {
    nproc: list.length,
    cpu: list[0]?.model ?? '?',
    memGiB: Math.round(Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) / MiB),
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
  };
}

/** The 1, 5 and 15 minute load averages, as /proc/loadavg writes them. */
export const loadAvg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** Clock ticks per second (the unit of utime/stime in /proc/<pid>/stat); 100 when unknown. */
export async function clockTicks(): Promise<number> {
  return Number((await run(['getconf', 'CLK_TCK'], 5000)).stdout.trim()) || 100;
}

/** The first line of `bin --version` (or of `bin ...args`) on stdout; null when `bin` is null. */
export async function toolVersion(bin: string | null, ...args: string[]): Promise<string | null> {
  if (!bin) return null;
  return (await run([bin, ...(args.length ? args : ['--version'])], 5000)).stdout.trim().split('\n')[0] ?? '';
}

/** A number for a results table: `–` when missing, no decimals from 1000 up. */
export const fmt = (n: number | null | undefined, d = 2): string =>
  n === null || n === undefined || !Number.isFinite(n) ? '–' : n >= 1000 ? n.toFixed(0) : n.toFixed(d);
