/** Finding, signalling and stopping child processes (Linux: reads /proc). */
import { readFileSync } from 'node:fs';
import type { Subprocess } from 'bun';

/** Direct children of `pid` (a supervisor's workers, nginx's workers). */
export function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Whether `pid` is a live process (a zombie still answers kill 0, so its state is read too). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** SIGKILLs every pid, ignoring those already gone. */
export function killAll(pids: number[]): void {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** `signal` (SIGTERM), then SIGKILL after `graceMs`; resolves when the process has exited. */
export async function stop(p: Subprocess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  p.kill(signal);
  const timer = setTimeout(() => p.kill('SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(timer);
}
