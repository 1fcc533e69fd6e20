/**
 * `bun run build` output, run the way it ships: the executable alone, started from an empty
 * directory. Its supervisor must migrate the database from the migrations compiled into it,
 * start REGISTRY_WORKERS workers by re-executing itself, serve a push and a pull, and stop
 * cleanly on SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { hex, payload } from '../../dev/ids.ts';
import { freePort } from '../../dev/ports.ts';
import { alive, children } from '../../dev/processes.ts';
import { buildTar, gzip } from '../helpers/tar.ts';

const ROOT = join(import.meta.dir, '..', '..');
const BUILD_TIMEOUT = 180_000;

let tmp: string;
let binary: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'registry-binary-'));
  binary = join(tmp, 'bin', 'registry');
  // What `bun run build` runs, pointed away from the repository's dist/.
  const build = Bun.spawn([process.execPath, join(ROOT, 'scripts', 'build.ts'), '--outfile', binary], {
    cwd: ROOT,
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [code, out, err] = await Promise.all([build.exited, new Response(build.stdout).text(), new Response(build.stderr).text()]);
  if (code !== 0) throw new Error(`build failed (${code}):\n${out}\n${err}`);
  // Bundler warnings (an unresolvable dynamic require, say) would be printed here.
  expect(err).toBe('');
  expect(out).toContain(binary);
}, BUILD_TIMEOUT);

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

describe('the single executable', () => {
  test('is one executable file, run alone from an empty directory', () => {
    expect(readdirSync(join(tmp, 'bin'))).toEqual(['registry']);
  });

  test(
    'supervises two copies of itself, migrates, serves a push and a pull, stops on SIGTERM',
    async () => {
      const cwd = join(tmp, 'cwd');
      const storage = join(tmp, 'storage');
      mkdirSync(cwd);
      const port = await freePort();
      let errText = '';
      const proc: Subprocess = Bun.spawn([binary], {
        cwd,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          REGISTRY_HOST: '127.0.0.1',
          REGISTRY_PORT: String(port),
          REGISTRY_WORKERS: '2',
          STORAGE_PATH: storage,
        },
        stdout: 'ignore',
        stderr: 'pipe',
      });
      void (async () => {
        for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) errText += new TextDecoder().decode(chunk);
      })();
      const url = `http://127.0.0.1:${port}`;
      let workers: number[] = [];
      try {
        await until('_ping', async () => {
          if (proc.exitCode !== null) throw new Error(`registry exited ${proc.exitCode}: ${errText}`);
          return fetch(`${url}/v1/_ping`).then((r) => r.ok, () => false);
        });

        // two workers, both this same executable, started with the worker role
        workers = await until('two workers', () => {
          const c = children(proc.pid);
          return c.length === 2 && c;
        });
        for (const pid of workers) {
          expect(readlinkSync(`/proc/${pid}/exe`)).toBe(binary);
          expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)).toEqual([binary, 'worker']);
        }

        // push (needs the tables the compiled-in migrations create), then pull
        const id = hex(64);
        const json = JSON.stringify({ id, created: '2026-11-27T00:00:00Z', os: 'linux' });
        const layer = gzip(await buildTar([{ name: 'etc/motd', body: 'built into one file\n' }]));
        const checksum = payload(json, layer);
        let r = await fetch(`${url}/v1/images/${id}/json`, { method: 'PUT', body: json, headers: { 'content-type': 'application/json' } });
        expect(r.status).toBe(200);
        r = await fetch(`${url}/v1/images/${id}/layer`, { method: 'PUT', body: layer });
        expect(r.status).toBe(200);
        r = await fetch(`${url}/v1/images/${id}/checksum`, { method: 'PUT', headers: { 'x-docker-checksum-payload': checksum } });
        expect(r.status).toBe(200);
        r = await fetch(`${url}/v1/images/${id}/layer`);
        expect(r.status).toBe(200);
        expect(new Uint8Array(await r.arrayBuffer())).toEqual(layer);
        r = await fetch(`${url}/v1/images/${id}/json`);
        expect(r.status).toBe(200);
        expect(await r.json()).toEqual(JSON.parse(json));

        expect(existsSync(join(storage, 'registry.db'))).toBe(true);
        expect(readdirSync(cwd)).toEqual([]);
      } finally {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
        await proc.exited;
        clearTimeout(timer);
      }
      expect(proc.signalCode).toBeNull();
      expect(proc.exitCode).toBe(0);
      await until('workers gone', () => workers.every((pid) => !alive(pid)), 5_000);
      expect(errText).not.toMatch(/\[(ERROR|CRITICAL)\]/);
    },
    60_000,
  );
});
