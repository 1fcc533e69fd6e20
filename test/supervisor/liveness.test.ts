/**
 * The supervisor with misbehaving workers (test/fixtures/fake-worker.ts run by the real
 * Arbiter in test/fixtures/supervisor-harness.ts): boot failures halt it with exit code 3, a
 * silent worker is killed and replaced after `timeout`.
 */
import { describe, expect, test } from 'bun:test';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HARNESS, waitFor, useSupervisors } from '../helpers/supervisor.ts';

const supervisors = useSupervisors();

const harness = async (env: Record<string, string>, opts: { waitWorkers?: number; expectExit?: boolean } = {}) => {
  return supervisors.start(env, { command: [process.execPath, HARNESS], ...opts });
};

describe('supervisor liveness', () => {
  test('a worker that never boots at startup halts the supervisor with exit code 3 and the reason', async () => {
    const s = await harness({ FAKE_WORKER_MODE: 'boot-fail', REGISTRY_WORKERS: '2' }, { expectExit: true });
    expect(await s.exited).toBe(3);
    expect(s.log()).toMatch(/Worker \(pid:\d+\) exited with code 3\./);
    expect(s.log()).toContain('Shutting down: Master');
    expect(s.log()).toContain('Reason: Worker failed to boot.');
  }, 60_000);

  test('a worker silent for `timeout` seconds is killed and replaced', async () => {
    const s = await harness({ FAKE_WORKER_MODE: 'silent', REGISTRY_WORKERS: '1', REGISTRY_TIMEOUT: '2' }, { waitWorkers: 0 });
    await waitFor('first worker', () => s.workers().length === 1);
    const [first] = s.workers();
    await waitFor('WORKER TIMEOUT', () => s.log().includes(`WORKER TIMEOUT (pid:${first})`), 8000);
    await waitFor('replacement', () => s.workers().length === 1 && s.workers()[0] !== first, 5000);
    await s.waitLog(/\[CRITICAL\] WORKER TIMEOUT/);
    // the supervisor killed it on purpose: no "Perhaps out of memory?"
    expect(s.log()).not.toContain(`Worker (pid:${first}) was sent SIGKILL! Perhaps`);
  }, 60_000);

  test('K boot failures in a row after a good start: backoff, then halt with exit code 3', async () => {
    const state = join(tmpdir(), `fake-worker-${process.pid}-${Date.now()}`);
    const s = await harness(
      { FAKE_WORKER_MODE: 'flaky', FAKE_WORKER_STATE: state, REGISTRY_WORKERS: '1', REGISTRY_MAX_BOOT_FAILURES: '3' },
      { waitWorkers: 0 },
    );
    await waitFor('healthy worker', () => s.workers().length === 1);
    await Bun.sleep(300);
    const [healthy] = s.workers();
    process.kill(healthy!, 'SIGKILL');
    const code = await s.exited;
    expect(code).toBe(3);
    const log = s.log();
    expect(log.match(/exited with code 3\./g)?.length).toBe(3);
    expect(log).toContain('Next worker start in 1s');
    expect(log).toContain('Next worker start in 2s');
    expect(log).toContain('Reason: 3 workers in a row failed to boot.');
    rmSync(state, { force: true });
  }, 30_000);

  test('a worker that keeps crashing after boot is replaced each time, with backoff once crashes come in a burst', async () => {
    const s = await harness({ FAKE_WORKER_MODE: 'crash', REGISTRY_WORKERS: '1' }, { waitWorkers: 0 });
    await waitFor('11 crashes', () => (s.log().match(/exited with code 1\./g)?.length ?? 0) >= 11, 20_000);
    await waitFor('backoff', () => s.log().includes('Next worker start in'), 5000);
    // still running: crashes after boot never halt the supervisor
    expect(s.proc.exitCode).toBeNull();
  }, 60_000);
});
