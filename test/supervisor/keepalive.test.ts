/**
 * Replacing workers under clients that keep their connections alive (docker, skopeo, load
 * balancers do): a draining worker answers with `Connection: close` before it closes idle
 * connections (src/worker/drain.ts), so neither a wrk-like raw keep-alive loop nor Bun's fetch
 * loses a request in HUP, TTOU or max_requests recycling.
 */
import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { fetchLoop, keepAliveLoop } from '../../dev/load.ts';
import { type Supervisor, useSupervisors, waitFor } from '../helpers/supervisor.ts';

const supervisors = useSupervisors();

const migrateReq = () => {
  try {
    return readFileSync('/proc/sys/net/ipv4/tcp_migrate_req', 'utf8').trim();
  } catch {
    return 'unavailable';
  }
};
const bootCount = (s: Supervisor) => s.log().match(/Booting worker with pid/g)?.length ?? 0;

/** a raw keep-alive loop and a fetch loop side by side, 6 connections each */
const load = (s: Supervisor, durationMs: number) =>
  Promise.all([keepAliveLoop('127.0.0.1', s.port, '/v1/_ping', 6, durationMs), fetchLoop(`${s.url}/v1/_ping`, 6, durationMs)]);

describe('keep-alive clients lose no request when workers are replaced', () => {
  test('HUP twice, then TTOU', async () => {
    const s = await supervisors.start({ REGISTRY_WORKERS: '3' });
    // without the sysctl, connections queued on a closing listener are reset (reload.test.ts)
    if (migrateReq() !== '1') return console.warn(`tcp_migrate_req=${migrateReq()}: skipping`);
    const before = s.workers();
    // each signal waits for the previous reload's workers to have booted (a slow, shared machine
    // may take over a second per boot), all within the load window
    const running = load(s, 8000);
    await Bun.sleep(700);
    process.kill(s.pid, 'SIGHUP');
    await waitFor('the first reload', () => bootCount(s) >= 6, 3500);
    process.kill(s.pid, 'SIGHUP');
    await waitFor('the second reload', () => bootCount(s) >= 9, 3500);
    process.kill(s.pid, 'SIGTTOU');
    const [raw, fetched] = await running;
    expect(raw.requests).toBeGreaterThan(1000);
    expect(fetched.requests).toBeGreaterThan(1000);
    expect(raw.reasons).toEqual({});
    expect(fetched.reasons).toEqual({});
    expect(raw.failures + fetched.failures).toBe(0);
    await waitFor('2 workers after TTOU', () => s.workers().length === 2);
    expect(s.workers().some((w) => before.includes(w))).toBe(false);
    expect(bootCount(s)).toBeGreaterThanOrEqual(9);
  }, 30_000);

  test('max_requests recycling', async () => {
    const s = await supervisors.start({ REGISTRY_WORKERS: '2', REGISTRY_MAX_REQUESTS: '2000', REGISTRY_MAX_REQUESTS_JITTER: '500' });
    if (migrateReq() !== '1') return console.warn(`tcp_migrate_req=${migrateReq()}: skipping`);
    const [raw, fetched] = await load(s, 3000);
    expect(raw.reasons).toEqual({});
    expect(fetched.reasons).toEqual({});
    expect(raw.failures + fetched.failures).toBe(0);
    // several recycles happened during the load
    expect(bootCount(s)).toBeGreaterThanOrEqual(4);
    await waitFor('back to 2 workers', () => s.workers().length === 2);
  }, 30_000);
});
