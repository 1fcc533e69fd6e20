/**
 * The supervisor with real processes (`bun src/main.ts`): worker count, signals, replacement of
 * dead workers, startup refusals and the master's own death.
 */
import { describe, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive, children } from '../../dev/processes.ts';
import { startSupervisor, waitFor, useSupervisors } from '../helpers/supervisor.ts';

const supervisors = useSupervisors();
const start = supervisors.start;


describe('supervisor', () => {
  test('starts REGISTRY_WORKERS workers that all serve the port; TTIN adds one, TTOU removes the oldest, never below 1', async () => {
    const s = await start({ REGISTRY_WORKERS: '2' });
    expect(s.workers()).toHaveLength(2);
    expect((await fetch(`${s.url}/v1/_ping`)).status).toBe(200);
    await s.waitLog(/\[INFO\] Listening at: http:\/\/127\.0\.0\.1:\d+ \(\d+\)/);

    process.kill(s.pid, 'SIGTTIN');
    await waitFor('3 workers', () => s.workers().length === 3);
    const [oldest] = s.workers().sort((a, b) => a - b);

    process.kill(s.pid, 'SIGTTOU');
    await waitFor('2 workers', () => s.workers().length === 2);
    expect(s.workers()).not.toContain(oldest);
    process.kill(s.pid, 'SIGTTOU');
    await waitFor('1 worker', () => s.workers().length === 1);
    process.kill(s.pid, 'SIGTTOU');
    await Bun.sleep(1500);
    expect(s.workers()).toHaveLength(1);
    expect((await fetch(`${s.url}/v1/_ping`)).status).toBe(200);
    await s.waitLog('Handling signal: ttin');
    await s.waitLog('Handling signal: ttou');
  }, 60_000);

  test('GUNICORN_WORKERS is accepted as an alias', async () => {
    const s = await start({ REGISTRY_WORKERS: '', GUNICORN_WORKERS: '3' }, { waitWorkers: 3 });
    expect(s.workers()).toHaveLength(3);
  }, 60_000);

  test('kill -9 of a worker: it is replaced, and the log says so', async () => {
    const s = await start({ REGISTRY_WORKERS: '2' });
    const [victim] = s.workers();
    process.kill(victim!, 'SIGKILL');
    await waitFor('replacement', () => s.workers().length === 2 && !s.workers().includes(victim!));
    await s.waitLog(`Worker (pid:${victim}) was sent SIGKILL! Perhaps out of memory?`);
    await waitFor('3 boots', () => (s.log().match(/Booting worker/g)?.length ?? 0) >= 3);
    expect((await fetch(`${s.url}/v1/_ping`)).status).toBe(200);
  }, 60_000);

  test('SIGKILL of the master: its workers exit within 2 s and nothing serves the port', async () => {
    const s = await start({ REGISTRY_WORKERS: '2' });
    const workers = s.workers();
    expect(workers).toHaveLength(2);
    process.kill(s.pid, 'SIGKILL');
    const t = performance.now();
    await waitFor('workers gone', () => workers.every((w) => !alive(w)), 2000);
    expect(performance.now() - t).toBeLessThan(2000);
    await expect(fetch(`${s.url}/v1/_ping`)).rejects.toThrow();
  }, 60_000);

  test('a busy port: a clear error and exit 1, after gunicorn-style retries', async () => {
    const s = await start({ REGISTRY_WORKERS: '1' });
    const other = await startSupervisor({ REGISTRY_PORT: String(s.port), REGISTRY_WORKERS: '1' }, { expectExit: true });
    supervisors.track(other);
    const code = await other.exited;
    expect(code).toBe(1);
    expect(other.log()).toContain(`Connection in use: 127.0.0.1:${s.port}`);
    expect(other.log()).toContain(`Reason: Can't connect to 127.0.0.1:${s.port}`);
    // the first one is untouched
    expect((await fetch(`${s.url}/v1/_ping`)).status).toBe(200);
  }, 30_000);

  test('REGISTRY_PIDFILE: written, a live one refused, removed on exit', async () => {
    const s = await start({ REGISTRY_WORKERS: '1', REGISTRY_PIDFILE: '' });
    const pidfile = join(s.dir, 'registry.pid');
    const a = await start({ REGISTRY_WORKERS: '1', REGISTRY_PIDFILE: pidfile });
    expect(readFileSync(pidfile, 'utf8')).toBe(`${a.pid}\n`);
    const b = await startSupervisor({ REGISTRY_WORKERS: '1', REGISTRY_PIDFILE: pidfile }, { expectExit: true });
    supervisors.track(b);
    expect(await b.exited).toBe(1);
    expect(b.log()).toContain(`Already running on PID ${a.pid}`);
    expect(readFileSync(pidfile, 'utf8')).toBe(`${a.pid}\n`);
    process.kill(a.pid, 'SIGTERM');
    expect(await a.exited).toBe(0);
    expect(existsSync(pidfile)).toBe(false);
    // a stale pidfile (dead pid) is taken over
    writeFileSync(pidfile, '999999\n');
    const c = await start({ REGISTRY_WORKERS: '1', REGISTRY_PIDFILE: pidfile });
    expect(readFileSync(pidfile, 'utf8')).toBe(`${c.pid}\n`);
  }, 30_000);

  test('TERM: graceful stop, exit 0, workers gone, "Shutting down: Master"', async () => {
    const s = await start({ REGISTRY_WORKERS: '2' });
    const workers = s.workers();
    process.kill(s.pid, 'SIGTERM');
    expect(await s.exited).toBe(0);
    expect(workers.every((w) => !alive(w))).toBe(true);
    expect(s.log()).toContain('Handling signal: term');
    expect(s.log()).toContain('Shutting down: Master');
  }, 60_000);

  for (const sig of ['SIGINT', 'SIGQUIT'] as const) {
    test(`${sig.slice(3)}: quick stop`, async () => {
      const s = await start({ REGISTRY_WORKERS: '2' });
      const workers = s.workers();
      const t = performance.now();
      process.kill(s.pid, sig);
      expect(await s.exited).toBe(0);
      expect(performance.now() - t).toBeLessThan(3000);
      expect(workers.every((w) => !alive(w))).toBe(true);
      expect(s.log()).toContain(`Handling signal: ${sig.slice(3).toLowerCase()}`);
    }, 60_000);
  }

  test('the master migrates the database before any worker starts', async () => {
    const s = await start({ REGISTRY_WORKERS: '2', REGISTRY_LOGLEVEL: 'debug' });
    expect(existsSync(join(s.dir, 'data', 'registry.db'))).toBe(true);
    const { Database } = await import('bun:sqlite');
    const db = new Database(join(s.dir, 'data', 'registry.db'), { readonly: true });
    const rows = db.query('SELECT count(*) AS n FROM __drizzle_migrations').get() as { n: number };
    db.close();
    expect(rows.n).toBeGreaterThan(0);
    expect(children(s.pid)).toHaveLength(2);
  }, 60_000);
});

describe('access log', () => {
  test('one line per request: method, path, status, bytes, duration, X-Docker-Size', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'registry-access-'));
    const logfile = join(dir, 'access.log');
    const t = await start({ REGISTRY_WORKERS: '1', REGISTRY_ACCESSLOG: logfile });
    const id = 'abcdefabcdefabcd';
    const json = JSON.stringify({ id });
    const layer = 'x'.repeat(1234);
    await fetch(`${t.url}/v1/images/${id}/json`, { method: 'PUT', body: json });
    await fetch(`${t.url}/v1/images/${id}/layer`, { method: 'PUT', body: layer });
    const sum = `sha256:${new Bun.CryptoHasher('sha256').update(`${json}\n${layer}`).digest('hex')}`;
    await fetch(`${t.url}/v1/images/${id}/checksum`, { method: 'PUT', headers: { 'x-docker-checksum-payload': sum } });
    await (await fetch(`${t.url}/v1/images/${id}/json`, { headers: { 'user-agent': 'docker/1.6.2' } })).text();
    await (await fetch(`${t.url}/v1/images/nope/json`)).text();
    await waitFor('5 access lines', () => existsSync(logfile) && readFileSync(logfile, 'utf8').trim().split('\n').length >= 5);
    const lines = readFileSync(logfile, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/^127\.0\.0\.1 - - \[[^\]]+\] "PUT \/v1\/images\/abcdefabcdefabcd\/json" 200 4 "-" "[^"]*" \d+\.\dms size=-$/);
    expect(lines[3]).toMatch(
      new RegExp(`"GET /v1/images/${id}/json" 200 ${json.length} "-" "docker/1\\.6\\.2" \\d+\\.\\dms size=1234$`),
    );
    expect(lines[4]).toMatch(/"GET \/v1\/images\/nope\/json" 404 \d+ "-" "[^"]*" \d+\.\dms size=-$/);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);
});
