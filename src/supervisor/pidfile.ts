/** gunicorn's pidfile rules (`--pid`): refuse a live pid, write atomically, remove only our own. */
import { chmodSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';

export class PidfileError extends Error {}

/** True when `pid` names a live process (kill 0 succeeds, or fails only for permission). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readPid(path: string): number | null {
  try {
    const n = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isSafeInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

export class Pidfile {
  constructor(readonly path: string) {}

  create(pid = process.pid): void {
    const existing = readPid(this.path);
    if (existing !== null && existing !== pid && isAlive(existing)) {
      throw new PidfileError(`Already running on PID ${existing} (or pid file '${this.path}' is stale)`);
    }
    const tmp = `${this.path}.${process.pid}.${Math.random().toString(36).slice(2)}`;
    writeFileSync(tmp, `${pid}\n`);
    chmodSync(tmp, 0o644);
    renameSync(tmp, this.path);
  }

  /** Removes the file if it still holds our pid. */
  unlink(pid = process.pid): void {
    if (readPid(this.path) !== pid) return;
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}
