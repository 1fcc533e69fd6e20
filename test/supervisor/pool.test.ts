/** The supervisor's worker decisions (src/supervisor/pool.ts), driven without processes. */
import { describe, expect, test } from 'bun:test';
import { backoffMs, Pool, type Decision, type PoolSettings } from '../../src/supervisor/pool.ts';

const SETTINGS: PoolSettings = { workers: 2, timeout: 30, boot_timeout: 60, graceful_timeout: 30, max_boot_failures: 3 };

/** A pool plus a fake process table: `spawn` decisions get the next pid. */
function harness(settings: Partial<PoolSettings> = {}) {
  const pool = new Pool({ ...SETTINGS, ...settings });
  let nextPid = 100;
  let t = 0;
  const spawned: number[] = [];
  const run = (ds: Decision[]) => {
    for (const d of ds) {
      if (d.do === 'spawn') {
        const pid = nextPid++;
        spawned.push(pid);
        pool.started(pid, t);
      }
    }
    return ds;
  };
  const of = (ds: Decision[], kind: Decision['do']) => ds.filter((d) => d.do === kind);
  const pids = (ds: Decision[], kind: 'term' | 'kill') => ds.flatMap((d) => (d.do === kind ? [d.pid] : []));
  return {
    pool,
    spawned,
    run,
    of,
    pids,
    at: (ms: number) => (t = ms),
    get t() {
      return t;
    },
    /** starts the pool and makes every started worker ready */
    boot() {
      run(pool.manage(t));
      for (const pid of [...spawned]) run(pool.ready(pid, t));
    },
    state: (pid: number) => pool.workers.get(pid)?.state,
  };
}

describe('pool: boot and boot failures', () => {
  test('fills the slots at start; nothing more once they are ready', () => {
    const h = harness();
    h.boot();
    expect(h.spawned).toEqual([100, 101]);
    expect(h.run(h.pool.tick(1000))).toEqual([]);
  });

  test('a boot failure before any worker was ever ready halts with 3', () => {
    const h = harness();
    h.run(h.pool.manage(0));
    const ds = h.pool.exited(100, 3, null, 50);
    expect(h.of(ds, 'halt')).toEqual([{ do: 'halt', reason: 'Worker failed to boot.', status: 3 }]);
    expect(h.of(ds, 'boot-failed')).toHaveLength(1);
    expect(h.of(ds, 'spawn')).toHaveLength(0);
  });

  test('after a good start, K boot failures in a row back off 1 s, 2 s… and then halt', () => {
    const h = harness({ max_boot_failures: 3 });
    h.boot();
    // a worker crashes: replaced at once
    let ds = h.run(h.pool.exited(100, 1, null, h.at(1000)));
    expect(h.of(ds, 'spawn')).toHaveLength(1);
    const first = h.spawned.at(-1)!;
    // the replacement fails to boot: back off 1 s, no start before that
    ds = h.run(h.pool.exited(first, 3, null, h.at(1100)));
    expect(h.of(ds, 'wake')).toEqual([{ do: 'wake', ms: 1010 }]);
    expect(h.of(ds, 'spawn')).toHaveLength(0);
    expect(h.run(h.pool.manage(h.at(1500)))).toEqual([]);
    ds = h.run(h.pool.manage(h.at(2200)));
    expect(h.of(ds, 'spawn')).toHaveLength(1);
    // second failure: 2 s
    ds = h.run(h.pool.exited(h.spawned.at(-1)!, 3, null, h.at(2300)));
    expect(h.of(ds, 'wake')).toEqual([{ do: 'wake', ms: 2010 }]);
    h.run(h.pool.manage(h.at(4400)));
    // third: halt with 3
    ds = h.pool.exited(h.spawned.at(-1)!, 3, null, h.at(4500));
    expect(h.of(ds, 'halt')).toEqual([{ do: 'halt', reason: '3 workers in a row failed to boot.', status: 3 }]);
  });

  test('a ready worker resets the count of boot failures in a row', () => {
    const h = harness({ max_boot_failures: 2 });
    h.boot();
    h.run(h.pool.exited(100, 1, null, h.at(0)));
    h.run(h.pool.exited(h.spawned.at(-1)!, 3, null, h.at(10)));
    h.run(h.pool.manage(h.at(2000)));
    h.run(h.pool.ready(h.spawned.at(-1)!, h.at(2100)));
    h.run(h.pool.exited(101, 1, null, h.at(2200)));
    const ds = h.pool.exited(h.spawned.at(-1)!, 3, null, h.at(2300));
    expect(h.of(ds, 'halt')).toHaveLength(0);
    expect(h.of(ds, 'wake')).toHaveLength(1);
  });

  test('backoff doubles up to 60 s', () => {
    expect([1, 2, 3, 6, 7, 20].map(backoffMs)).toEqual([1000, 2000, 4000, 32_000, 60_000, 60_000]);
  });
});

describe('pool: crashes', () => {
  test('a crash is replaced at once and counted as a restart; more than 10 in 60 s back off', () => {
    const h = harness({ workers: 1 });
    h.boot();
    for (let i = 0; i < 10; i++) {
      const ds = h.run(h.pool.exited(h.spawned.at(-1)!, 1, null, h.at(i * 100)));
      expect(ds).toContainEqual({ do: 'spawn', replacement: true });
      expect(h.of(ds, 'wake')).toHaveLength(0);
      h.run(h.pool.ready(h.spawned.at(-1)!, h.t));
    }
    const ds = h.run(h.pool.exited(h.spawned.at(-1)!, 1, null, h.at(1000)));
    expect(h.of(ds, 'wake')).toEqual([{ do: 'wake', ms: 1010 }]);
    expect(h.of(ds, 'spawn')).toHaveLength(0);
    expect(h.of(h.run(h.pool.manage(h.at(2001))), 'spawn')).toHaveLength(1);
  });

  test('crash messages: a SIGKILL we did not send suggests OOM', () => {
    const h = harness();
    h.boot();
    expect(h.pool.exited(100, null, 'SIGKILL', 0)).toContainEqual({
      do: 'log',
      level: 'error',
      message: 'Worker (pid:100) was sent SIGKILL! Perhaps out of memory?',
    });
    expect(h.pool.exited(101, 1, null, 0)).toContainEqual({ do: 'log', level: 'error', message: 'Worker (pid:101) exited with code 1.' });
  });
});

describe('pool: replacing workers', () => {
  test('HUP: every old worker is drained only after a new one is ready, oldest first', () => {
    const h = harness();
    h.boot();
    let ds = h.run(h.pool.reload(h.at(1000)));
    expect(h.of(ds, 'spawn')).toEqual([
      { do: 'spawn', replacement: true },
      { do: 'spawn', replacement: true },
    ]);
    expect(h.pids(ds, 'term')).toEqual([]);
    const [n1, n2] = h.spawned.slice(2);
    ds = h.run(h.pool.ready(n1!, h.at(1500)));
    expect(h.pids(ds, 'term')).toEqual([100]);
    expect(h.state(101)).toBe('ready');
    ds = h.run(h.pool.ready(n2!, h.at(1600)));
    expect(h.pids(ds, 'term')).toEqual([101]);
    // the drained ones exiting start nothing new
    expect(h.of(h.run(h.pool.exited(100, 0, null, 2000)), 'spawn')).toHaveLength(0);
    expect(h.of(h.run(h.pool.exited(101, 0, null, 2000)), 'spawn')).toHaveLength(0);
  });

  test('HUP with a new worker count: the count comes from the re-read configuration', () => {
    const h = harness();
    h.boot();
    const ds = h.run(h.pool.reload(0, 3));
    expect(h.of(ds, 'spawn')).toHaveLength(3);
    expect(h.pool.desired).toBe(3);
  });

  test('TTOU drains the oldest at once; never below one; TTIN adds one', () => {
    const h = harness({ workers: 3 });
    h.boot();
    expect(h.pids(h.run(h.pool.resize(-1, 0)), 'term')).toEqual([100]);
    expect(h.pids(h.run(h.pool.resize(-1, 0)), 'term')).toEqual([101]);
    expect(h.run(h.pool.resize(-1, 0))).toEqual([]);
    expect(h.pool.desired).toBe(1);
    expect(h.run(h.pool.resize(1, 0))).toEqual([{ do: 'spawn', replacement: false }]);
  });

  test('max_requests: the replacement starts first; the retiring worker is drained once it is ready', () => {
    const h = harness();
    h.boot();
    let ds = h.run(h.pool.retire(100, h.at(1000)));
    expect(ds).toEqual([{ do: 'spawn', replacement: true }]);
    expect(h.state(100)).toBe('ready');
    // asking twice changes nothing
    expect(h.run(h.pool.retire(100, h.t))).toEqual([]);
    ds = h.run(h.pool.ready(h.spawned.at(-1)!, h.at(1400)));
    expect(h.pids(ds, 'term')).toEqual([100]);
    expect(h.state(100)).toBe('draining');
  });
});

describe('pool: timeouts', () => {
  test('a ready worker that stops beating is killed after timeout', () => {
    const h = harness({ timeout: 5 });
    h.boot();
    h.pool.beat(101, 4000);
    const ds = h.pool.tick(5001);
    expect(h.pids(ds, 'kill')).toEqual([100]);
    expect(ds).toContainEqual({ do: 'log', level: 'critical', message: 'WORKER TIMEOUT (pid:100)' });
    // killed once; its SIGKILL is not called a surprise
    expect(h.pids(h.pool.tick(6000), 'kill')).toEqual([]);
    expect(h.pool.exited(100, null, 'SIGKILL', 6100)).toContainEqual({ do: 'log', level: 'error', message: 'Worker (pid:100) was sent SIGKILL!' });
  });

  test('timeout 0 never kills a silent worker', () => {
    const h = harness({ timeout: 0 });
    h.boot();
    expect(h.pids(h.pool.tick(1e9), 'kill')).toEqual([]);
  });

  test('a worker that does not boot within boot_timeout is killed', () => {
    const h = harness({ boot_timeout: 10 });
    h.run(h.pool.manage(0));
    const ds = h.pool.tick(10_001);
    expect(h.pids(ds, 'kill')).toEqual([100, 101]);
    expect(ds).toContainEqual({ do: 'log', level: 'error', message: 'Worker (pid:100) did not boot within 10s' });
  });

  test('a draining worker that overruns graceful_timeout (+1 s) is killed', () => {
    const h = harness({ graceful_timeout: 2, timeout: 0 });
    h.boot();
    h.run(h.pool.resize(-1, h.at(0)));
    expect(h.pids(h.pool.tick(3000), 'kill')).toEqual([]);
    expect(h.pids(h.pool.tick(3001), 'kill')).toEqual([100]);
  });
});

describe('pool: stopping', () => {
  test('once stopping: no starts, exits are only logged', () => {
    const h = harness();
    h.boot();
    expect(h.pool.stop().sort()).toEqual([100, 101]);
    expect(h.pool.manage(0)).toEqual([]);
    expect(h.pool.reload(0)).toEqual([]);
    expect(h.pool.exited(100, 0, null, 0)).toEqual([]);
    expect(h.pool.exited(101, null, 'SIGTERM', 0)).toEqual([{ do: 'log', level: 'info', message: 'Worker (pid:101) was sent SIGTERM!' }]);
  });
});
