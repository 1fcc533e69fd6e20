/**
 * The buffered access log (src/log/logger.ts): lines are held in memory and written by size, by
 * interval, on reopen and on every exit path, in order, none lost.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '../../src/log/logger.ts';
import { useSupervisors, waitFor } from '../helpers/supervisor.ts';

const dir = mkdtempSync(join(tmpdir(), 'registry-accesslog-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
const lines = (f: string) => read(f).split('\n').filter(Boolean);
let n = 0;
const logger = (buffer: ConstructorParameters<typeof Logger>[1]) => {
  const file = join(dir, `access-${++n}.log`);
  return { file, log: new Logger({ errorlog: join(dir, 'error.log'), accesslog: file, loglevel: 'info' }, buffer) };
};

describe('buffered access log (in process)', () => {
  test('held until flush, then written in order', () => {
    const { file, log } = logger({ bufferBytes: 1 << 20, flushMs: 0 });
    for (let i = 0; i < 100; i++) log.access(`line ${i}`);
    expect(read(file)).toBe('');
    log.flush();
    expect(lines(file)).toEqual(Array.from({ length: 100 }, (_, i) => `line ${i}`));
    log.close();
  });

  test('written once the buffer passes its size', () => {
    const { file, log } = logger({ bufferBytes: 1000, flushMs: 0 });
    const line = 'x'.repeat(99); // 100 bytes with the newline
    for (let i = 0; i < 9; i++) log.access(line);
    expect(read(file)).toBe('');
    log.access(line);
    expect(lines(file)).toHaveLength(10);
    log.close();
  });

  test('written on the interval', async () => {
    const { file, log } = logger({ bufferBytes: 1 << 20, flushMs: 100 });
    log.access('soon');
    expect(read(file)).toBe('');
    await waitFor('interval flush', () => read(file) === 'soon\n', 2000);
    log.close();
  });

  test('reopen writes the held lines to the old file first; close flushes', () => {
    const { file, log } = logger({ bufferBytes: 1 << 20, flushMs: 0 });
    log.access('before rotation');
    renameSync(file, `${file}.1`);
    log.reopen();
    log.access('after rotation');
    log.close();
    expect(read(`${file}.1`)).toBe('before rotation\n');
    expect(read(file)).toBe('after rotation\n');
  });

  test('process.exit() flushes', async () => {
    const file = join(dir, 'exit.log');
    const code = `
      import { Logger } from ${JSON.stringify(join(import.meta.dir, '../../src/log/logger.ts'))};
      const log = new Logger({ errorlog: '-', accesslog: ${JSON.stringify(file)}, loglevel: 'info' }, { flushMs: 60000 });
      for (let i = 0; i < 1000; i++) log.access('line ' + i);
      process.exit(0);`;
    const p = Bun.spawn([process.execPath, '-e', code], { stdout: 'ignore', stderr: 'inherit' });
    expect(await p.exited).toBe(0);
    expect(lines(file)).toEqual(Array.from({ length: 1000 }, (_, i) => `line ${i}`));
  });

  test('stdout on a pipe: several writers, every line whole (writes cut at line ends within PIPE_BUF)', async () => {
    const code = `
      import { Logger } from ${JSON.stringify(join(import.meta.dir, '../../src/log/logger.ts'))};
      const log = new Logger({ errorlog: '-', accesslog: '-', loglevel: 'info' }, { flushMs: 0 });
      const id = process.argv[1];
      for (let i = 0; i < 3000; i++) log.access(id + ' ' + i + ' ' + 'y'.repeat(i % 7 === 0 ? 5000 : i % 200));
      log.close();`;
    // both children write into one pipe, as workers share the supervisor's stdout: a launcher
    // whose stdout is the pipe starts them with its stdout inherited
    const launcher = `
      const writers = ['a', 'b'].map((id) => Bun.spawn([process.execPath, '-e', process.argv[1], id], { stdout: 'inherit', stderr: 'inherit' }));
      const codes = await Promise.all(writers.map((w) => w.exited));
      process.exit(codes.every((c) => c === 0) ? 0 : 1);`;
    const reader = Bun.spawn([process.execPath, '-e', launcher, code], {
      stdout: 'pipe',
      stderr: 'inherit',
    });
    const out = await new Response(reader.stdout).text();
    expect(await reader.exited).toBe(0);
    const got = out.split('\n').filter(Boolean);
    expect(got).toHaveLength(6000);
    const next: Record<string, number> = { a: 0, b: 0 };
    for (const line of got) {
      const [id, i, pad] = line.split(' ');
      const k = Number(i);
      expect(next[id!]).toBe(k);
      next[id!] = k + 1;
      expect(pad).toBe('y'.repeat(k % 7 === 0 ? 5000 : k % 200));
    }
  });
});

describe('buffered access log (real worker processes)', () => {
  const supervisors = useSupervisors();
  const requestLines = (f: string) => lines(f).filter((l) => l.includes('/v1/_ping?n='));

  for (const [how, signal] of [
    ['graceful stop (TERM)', 'SIGTERM'],
    ['quick stop (QUIT)', 'SIGQUIT'],
  ] as const) {
    test(`every line arrives, in order, after a ${how}`, async () => {
      const file = join(dir, `workers-${signal}.log`);
      const s = await supervisors.start({ REGISTRY_WORKERS: '1', REGISTRY_ACCESSLOG: file });
      for (let i = 0; i < 300; i++) expect((await fetch(`${s.url}/v1/_ping?n=${i}`)).status).toBe(200);
      // nothing forced it out yet: far below 64 KiB, and (most likely) within the 1 s interval
      process.kill(s.pid, signal);
      expect(await s.exited).toBe(0);
      expect(requestLines(file).map((l) => /n=(\d+)/.exec(l)?.[1])).toEqual(Array.from({ length: 300 }, (_, i) => String(i)));
    }, 30_000);
  }

  test('a worker recycled by max_requests leaves all its lines', async () => {
    const file = join(dir, 'workers-max.log');
    const s = await supervisors.start({ REGISTRY_WORKERS: '1', REGISTRY_ACCESSLOG: file, REGISTRY_MAX_REQUESTS: '100' });
    for (let i = 0; i < 250; i++) expect((await fetch(`${s.url}/v1/_ping?n=${i}`)).status).toBe(200);
    await s.waitLog('Autorestarting worker');
    await waitFor('a recycled worker exited', () => s.log().includes('Worker exiting'));
    process.kill(s.pid, 'SIGTERM');
    expect(await s.exited).toBe(0);
    expect(requestLines(file).map((l) => Number(/n=(\d+)/.exec(l)?.[1])).sort((a, b) => a - b)).toEqual(Array.from({ length: 250 }, (_, i) => i));
  }, 30_000);
});
