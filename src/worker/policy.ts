/**
 * The worker's decisions, without processes or clocks (times are passed in): when max_requests
 * is reached, when a heartbeat is due, how long a stop may take, and when a drain window is over.
 */
import type { DrainTiming } from './drain.ts';

/** how long a worker whose supervisor is gone keeps draining (it must not serve on as an orphan) */
const PARENT_GONE_GRACE_MS = 1500;

/** Counts requests (`count()` as one starts); `reached()` says true once, after the limit is hit (0: none). */
export class RequestLimit {
  #n = 0;
  #told = false;

  constructor(readonly max: number) {}

  count(): void {
    this.#n++;
  }

  reached(): boolean {
    if (this.max <= 0 || this.#told || this.#n < this.max) return false;
    this.#told = true;
    return true;
  }
}

/** Heartbeats every max(1, timeout/2) s (every 5 s when timeouts are off), checked once a second. */
export class HeartbeatClock {
  readonly everyMs: number;
  #last = -Infinity;

  constructor(timeoutS: number) {
    this.everyMs = timeoutS > 0 ? Math.max(1, timeoutS / 2) * 1000 : 5000;
  }

  /** true when one is due at `t` (and counts it as sent) */
  due(t: number): boolean {
    // a 1 s check interval fires a little early now and then
    if (t - this.#last < this.everyMs - 50) return false;
    this.#last = t;
    return true;
  }
}

/** How long a stop may take: TERM gets graceful_timeout; a lost supervisor at most 1.5 s of it. */
export function stopGraceMs(why: 'term' | 'parent-gone', gracefulTimeoutS: number): number {
  const grace = gracefulTimeoutS * 1000;
  return why === 'term' ? grace : Math.min(PARENT_GONE_GRACE_MS, grace);
}

/**
 * Whether a drain window that began at `start` is over at `t`: no request since `lastRequestAt`
 * for `quietMs` and none in flight, or the window's length (capped by `boundMs`) passed.
 */
export function drainOver(t: number, start: number, lastRequestAt: number, inFlight: number, boundMs: number, timing: DrainTiming): boolean {
  if (t - start >= Math.min(timing.windowMs, boundMs)) return true;
  return inFlight === 0 && t - Math.max(start, lastRequestAt) >= timing.quietMs;
}
