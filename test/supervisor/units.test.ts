import { afterAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accessLine, gunicornTime, Logger } from '../../src/log/logger.ts';
import { isAlive, Pidfile, PidfileError } from '../../src/supervisor/pidfile.ts';

const dir = mkdtempSync(join(tmpdir(), 'registry-units-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('pidfile (gunicorn rules)', () => {
  test('writes "pid\\n" with mode 0644, refuses a live pid, takes over a stale one, removes only its own', () => {
    const path = join(dir, 'a.pid');
    const p = new Pidfile(path);
    p.create(process.pid);
    expect(readFileSync(path, 'utf8')).toBe(`${process.pid}\n`);
    expect(statSync(path).mode & 0o777).toBe(0o644);
    // another live process (our parent) holds it
    writeFileSync(path, `${process.ppid}\n`);
    expect(() => p.create(process.pid)).toThrow(PidfileError);
    expect(() => p.create(process.pid)).toThrow(`Already running on PID ${process.ppid}`);
    // not ours: unlink leaves it
    p.unlink(process.pid);
    expect(existsSync(path)).toBe(true);
    // stale
    writeFileSync(path, '999999\n');
    p.create(process.pid);
    expect(readFileSync(path, 'utf8')).toBe(`${process.pid}\n`);
    p.unlink(process.pid);
    expect(existsSync(path)).toBe(false);
    // garbage content counts as stale
    writeFileSync(path, 'not a pid');
    p.create(process.pid);
    expect(readFileSync(path, 'utf8')).toBe(`${process.pid}\n`);
  });

  test('isAlive', () => {
    expect(isAlive(process.pid)).toBe(true);
    expect(isAlive(999_999)).toBe(false);
  });
});

describe('log formats', () => {
  test("gunicorn's time format", () => {
    expect(gunicornTime(new Date('2026-11-27T18:30:05Z'))).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [+-]\d{4}$/);
  });

  test('error log lines: [time] [pid] [LEVEL] message, filtered by level', () => {
    const file = join(dir, 'error.log');
    const log = new Logger({ errorlog: file, accesslog: 'off', loglevel: 'warning' });
    log.info('hidden');
    log.warning('shown');
    log.critical('WORKER TIMEOUT (pid:1)');
    log.close();
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^\\[\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2} [+-]\\d{4}\\] \\[${process.pid}\\] \\[WARNING\\] shown$`));
    expect(lines[1]).toEndWith('[CRITICAL] WORKER TIMEOUT (pid:1)');
  });

  test('access line: remote, time, request, status, bytes, agent, duration, X-Docker-Size', () => {
    const line = accessLine(
      {
        remote: '127.0.0.1',
        method: 'GET',
        path: '/v1/images/abc/json',
        status: 200,
        bytes: 123,
        durationMs: 4.56,
        dockerSize: '1024',
        userAgent: 'docker/1.0 "quoted"',
      },
      new Date('2026-11-27T18:30:05Z'),
    );
    expect(line).toMatch(
      /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/v1\/images\/abc\/json" 200 123 "-" "docker\/1\.0 \\"quoted\\"" 4\.6ms size=1024$/,
    );
    expect(accessLine({ remote: '::1', method: 'PUT', path: '/x\n', status: 413, bytes: null, durationMs: 0, dockerSize: null, userAgent: null })).toMatch(
      /"PUT \/x\?" 413 - "-" "-" 0\.0ms size=-$/,
    );
  });
});
