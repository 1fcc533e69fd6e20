/**
 * Peak memory of a registry process while a large layer is pushed and pulled.
 *
 *   bun bench/upload-memory.ts [sizeMiB=1024]
 *
 * Starts the registry (supervisor + one worker) on a free loopback port with its own storage
 * directory, streams a generated layer of the given size (never held in memory by the client
 * either), completes the image, pulls the layer back, and prints wall times, throughput and the
 * worker's peak RSS (VmHWM from /proc) next to its RSS when idle.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { hex } from '../dev/ids.ts';
import { freePort } from '../dev/ports.ts';
import { children, stop } from '../dev/processes.ts';
import { statusBytes } from './lib/procs.ts';

const MiB = 1024 * 1024;
const sizeMiB = Number(process.argv[2] ?? 1024);
const total = sizeMiB * MiB;

/** The supervisor's single worker (REGISTRY_WORKERS=1): the process that serves. */
function workerPid(master: number): number {
  const pid = children(master)[0];
  if (!pid) throw new Error('no worker process found');
  return pid;
}

const storagePath = mkdtempSync(join(tmpdir(), 'registry-bench-'));
const port = await freePort();
const proc = Bun.spawn([process.execPath, 'src/main.ts'], {
  cwd: join(import.meta.dir, '..'),
  env: {
    ...process.env,
    REGISTRY_HOST: '127.0.0.1',
    REGISTRY_PORT: String(port),
    STORAGE_PATH: storagePath,
    REGISTRY_WORKERS: '1',
    REGISTRY_ACCESSLOG: 'off',
  },
  stdout: 'ignore',
  stderr: 'inherit',
});
const url = `http://127.0.0.1:${port}`;
try {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${url}/_ping`)).ok) break;
    } catch {}
    await Bun.sleep(100);
  }
  const worker = workerPid(proc.pid);
  const idleRss = statusBytes(worker, 'VmRSS');
  const id = hex(16);
  const json = JSON.stringify({ id });
  await fetch(`${url}/v1/images/${id}/json`, { method: 'PUT', body: json });

  const chunk = crypto.getRandomValues(new Uint8Array(MiB));
  const hasher = new Bun.CryptoHasher('sha256').update(json).update('\n');
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent >= total) return c.close();
      hasher.update(chunk);
      sent += chunk.byteLength;
      c.enqueue(chunk);
    },
  });
  let t = performance.now();
  const put = await fetch(`${url}/v1/images/${id}/layer`, {
    method: 'PUT',
    body,
    headers: { 'content-length': String(total) },
  });
  const putSeconds = (performance.now() - t) / 1000;
  if (put.status !== 200) throw new Error(`PUT layer: ${put.status} ${await put.text()}`);
  const peakAfterPut = statusBytes(worker, 'VmHWM');
  const sum = `sha256:${hasher.digest('hex')}`;
  const ck = await fetch(`${url}/v1/images/${id}/checksum`, { method: 'PUT', headers: { 'x-docker-checksum-payload': sum } });
  if (ck.status !== 200) throw new Error(`PUT checksum: ${ck.status} ${await ck.text()}`);

  t = performance.now();
  const get = await fetch(`${url}/v1/images/${id}/layer`);
  let received = 0;
  for await (const c of get.body!) received += c.byteLength;
  const getSeconds = (performance.now() - t) / 1000;
  if (received !== total) throw new Error(`GET layer returned ${received} bytes`);
  const peak = statusBytes(worker, 'VmHWM');

  const mb = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}; bun ${Bun.version}`);
  console.log('| step | size | seconds | MiB/s | server peak RSS |');
  console.log('|---|---|---|---|---|');
  console.log(`| idle | | | | ${mb(idleRss)} (current) |`);
  console.log(`| PUT layer (streamed, Content-Length) | ${sizeMiB} MiB | ${putSeconds.toFixed(2)} | ${(sizeMiB / putSeconds).toFixed(0)} | ${mb(peakAfterPut)} |`);
  console.log(`| GET layer (sendfile) | ${sizeMiB} MiB | ${getSeconds.toFixed(2)} | ${(sizeMiB / getSeconds).toFixed(0)} | ${mb(peak)} |`);
} finally {
  await stop(proc);
  rmSync(storagePath, { recursive: true, force: true });
}
