/** The worker's decisions (src/worker/policy.ts), without processes. */
import { describe, expect, test } from 'bun:test';
import { drainOver, HeartbeatClock, RequestLimit, stopGraceMs } from '../../src/worker/policy.ts';

describe('worker policy', () => {
  test('max_requests: reached once, after the limit; 0 never', () => {
    const l = new RequestLimit(3);
    const seen: boolean[] = [];
    for (let i = 0; i < 5; i++) {
      l.count();
      seen.push(l.reached());
    }
    expect(seen).toEqual([false, false, true, false, false]);
    const none = new RequestLimit(0);
    for (let i = 0; i < 10; i++) none.count();
    expect(none.reached()).toBe(false);
  });

  test('heartbeat every max(1, timeout/2) s, 5 s without timeouts; the first at once', () => {
    expect(new HeartbeatClock(30).everyMs).toBe(15_000);
    expect(new HeartbeatClock(1).everyMs).toBe(1000);
    expect(new HeartbeatClock(0).everyMs).toBe(5000);
    const h = new HeartbeatClock(4);
    expect(h.due(100)).toBe(true);
    expect(h.due(1100)).toBe(false);
    // a 1 s check that fires a little early still sends
    expect(h.due(2080)).toBe(true);
  });

  test('stop grace: graceful_timeout for TERM, at most 1.5 s when the supervisor is gone', () => {
    expect(stopGraceMs('term', 30)).toBe(30_000);
    expect(stopGraceMs('parent-gone', 30)).toBe(1500);
    expect(stopGraceMs('parent-gone', 1)).toBe(1000);
  });

  test('drain window: over when quiet with nothing in flight, or at its bound', () => {
    const timing = { quietMs: 250, windowMs: 2000 };
    // quiet since the start
    expect(drainOver(249, 0, -1e9, 0, 30_000, timing)).toBe(false);
    expect(drainOver(250, 0, -1e9, 0, 30_000, timing)).toBe(true);
    // a request at 1000: quiet again from then
    expect(drainOver(1200, 0, 1000, 0, 30_000, timing)).toBe(false);
    expect(drainOver(1250, 0, 1000, 0, 30_000, timing)).toBe(true);
    // in flight: not quiet, until the bound
    expect(drainOver(1999, 0, 0, 1, 30_000, timing)).toBe(false);
    expect(drainOver(2000, 0, 0, 1, 30_000, timing)).toBe(true);
    // a shorter graceful bound caps the window
    expect(drainOver(500, 0, 400, 1, 500, timing)).toBe(true);
  });
});
