/**
 * Runs wrk (bounded: -d seconds, killed after d + 15 s) under /usr/bin/time to get its own CPU
 * time, and reads the serving processes' CPU ticks before and after, so that every result says
 * whether the generator or the server was the busy one.
 */
import { snapshot, ticksSince, timed } from './procs.ts';

export interface WrkOptions {
  threads: number;
  connections: number;
  seconds: number;
  latency?: boolean;
  headers?: string[];
}

export interface WrkResult {
  url: string;
  requests: number;
  reqPerSec: number;
  /** bytes read per second, as wrk reports it (headers included) */
  transferPerSec: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  socketErrors: number;
  elapsedS: number;
  /** wrk's user + system CPU seconds */
  wrkCpuS: number;
  /** the serving processes' CPU seconds over the same window */
  serverCpuS: number;
}

const UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const SIZES: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

function latencyMs(text: string, pct: string): number {
  const m = new RegExp(`^\\s+${pct}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, 'm').exec(text);
  return m ? Number(m[1]) * UNITS[m[2]!]! : Number.NaN;
}

export async function wrk(bin: string, url: string, o: WrkOptions, servingPids: () => number[], clkTck: number): Promise<WrkResult> {
  const args = [
    bin, `-t${o.threads}`, `-c${o.connections}`, `-d${o.seconds}s`, '--timeout', '10s',
    ...(o.latency ? ['--latency'] : []),
    ...(o.headers ?? []).flatMap((h) => ['-H', h]),
    url,
  ];
  const before = snapshot(servingPids());
  const r = await timed(args, (o.seconds + 15) * 1000);
  const serverTicks = ticksSince(before, servingPids());
  if (r.code !== 0) throw new Error(`wrk failed (${r.code}): ${r.stderr}${r.stdout}`);
  const out = r.stdout;
  const num = (re: RegExp) => {
    const m = re.exec(out);
    return m ? Number(m[1]) : Number.NaN;
  };
  const tr = /Transfer\/sec:\s+([\d.]+)(B|KB|MB|GB|TB)/.exec(out);
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    url,
    requests: num(/(\d+) requests in/),
    reqPerSec: num(/Requests\/sec:\s+([\d.]+)/),
    transferPerSec: tr ? Number(tr[1]) * SIZES[tr[2]!]! : Number.NaN,
    p50Ms: latencyMs(out, '50'),
    p99Ms: latencyMs(out, '99'),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/) || 0,
    socketErrors: se ? se.slice(1).map(Number).reduce((a, b) => a + b, 0) : 0,
    elapsedS: r.elapsedS,
    wrkCpuS: r.cpuS,
    serverCpuS: serverTicks / clkTck,
  };
}
