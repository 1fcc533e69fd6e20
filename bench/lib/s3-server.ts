/**
 * One S3 endpoint for bench/scale-out.ts, on 127.0.0.1:
 *  - Ceph RADOS Gateway when `radosgw` is installed: scripts/ceph-start.sh in a directory of the
 *    caller's (1 monitor, 1 memstore OSD, 1 radosgw; it installs nothing here because the check
 *    comes first), bucket made with a SigV4-signed CreateBucket;
 *  - otherwise fauxqs inside this process (dev/s3.ts), which binds 0.0.0.0 (hard-coded
 *    in fauxqs) but is only ever addressed on 127.0.0.1.
 * `pids()` are the processes whose CPU counts as the S3 server's (for fauxqs: this process).
 * `stop()` ends every daemon's process group and removes the directory (scripts/ceph-stop.sh);
 * `stopSync()` does the same synchronously, for signal and exit handlers.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { signedRequest, startFauxqs, type S3Credentials } from '../../dev/s3.ts';
import { freePort } from '../../dev/ports.ts';
import { run } from './procs.ts';
import { which } from './servers.ts';

const SCRIPTS = join(import.meta.dir, '..', '..', 'scripts');

export interface BenchS3 extends S3Credentials {
  kind: 'ceph-rgw' | 'fauxqs';
  /** e.g. "Ceph RADOS Gateway 16.2.15 (memstore OSD)" */
  description: string;
  bucket: string;
  /** processes whose CPU is the S3 server's */
  pids(): number[];
  stop(): Promise<void>;
  stopSync(): void;
}

/** Pids of every process in the given process groups (the ceph daemons each lead one). */
function groupMembers(pgids: number[]): number[] {
  if (pgids.length === 0) return [];
  const want = new Set(pgids);
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (want.has(pgrp)) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

/** A port P with P and P + 10000 (the monitor's) free, as ceph-start.sh needs. */
async function cephPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await freePort();
    if (p + 10000 > 65535) continue;
    try {
      Bun.listen({ hostname: '127.0.0.1', port: p + 10000, socket: { data() {} } }).stop(true);
      return p;
    } catch {
      // taken
    }
  }
  throw new Error('no free port pair for ceph');
}

async function startRgw(dir: string): Promise<BenchS3> {
  const port = await cephPort();
  const version = /ceph version (\S+)/.exec((await run(['radosgw', '--version'], 10_000)).stdout)?.[1] ?? '?';
  const stopSync = () => stopCephSync(dir);
  const stop = async () => {
    await Bun.spawn(['bash', join(SCRIPTS, 'ceph-stop.sh'), dir], { stdout: 'ignore', stderr: 'ignore' }).exited;
  };
  const started = await run(['bash', join(SCRIPTS, 'ceph-start.sh'), dir, String(port)], 240_000);
  if (started.code !== 0) {
    await stop();
    throw new Error(`ceph-start.sh failed (${started.code}): ${started.stderr.trim().slice(-2000)}`);
  }
  const creds: S3Credentials = { endpoint: started.stdout.trim(), region: 'us-east-1', accessKeyId: 'TESTKEY', secretAccessKey: 'TESTSECRET' };
  const bucket = `scaleout-${process.pid}-${Date.now().toString(36)}`;
  try {
    // the first bucket also makes RGW create its data pools (a few seconds)
    const r = await signedRequest(creds, 'PUT', `/${bucket}`);
    if (!r.ok) throw new Error(`CreateBucket: ${r.status} ${await r.text()}`);
  } catch (e) {
    await stop();
    throw e;
  }
  const pgids = () =>
    ['rgw', 'osd', 'mon'].flatMap((n) => {
      const f = join(dir, 'run', `${n}.pid`);
      return existsSync(f) ? [Number(readFileSync(f, 'utf8').trim())] : [];
    });
  return {
    ...creds,
    kind: 'ceph-rgw',
    description: `Ceph RADOS Gateway ${version} (1 mon, 1 memstore OSD, 1 radosgw)`,
    bucket,
    pids: () => groupMembers(pgids()),
    stop,
    stopSync,
  };
}

async function startInProcessFauxqs(): Promise<BenchS3> {
  const s = await startFauxqs();
  let version = '?';
  try {
    version = (JSON.parse(readFileSync(join(import.meta.dir, '..', '..', 'node_modules', 'fauxqs', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    // unknown
  }
  return {
    endpoint: s.endpoint,
    region: s.region,
    accessKeyId: s.accessKeyId,
    secretAccessKey: s.secretAccessKey,
    kind: 'fauxqs',
    description: `fauxqs ${version} (in the benchmark process, in memory)`,
    bucket: s.bucket,
    pids: () => [process.pid],
    stop: () => s.stop(),
    stopSync: () => {
      // in-process: goes with the process
    },
  };
}

/** Stops whatever scripts/ceph-start.sh started in `dir` (if anything), synchronously; removes `dir`. */
export function stopCephSync(dir: string): void {
  if (existsSync(dir)) Bun.spawnSync(['bash', join(SCRIPTS, 'ceph-stop.sh'), dir], { stdout: 'ignore', stderr: 'ignore' });
}

/** Ceph RGW when `radosgw` is installed (data under `dir`), else fauxqs in-process. */
export async function startBenchS3(dir: string): Promise<BenchS3> {
  if (which('radosgw') && which('ceph-osd') && which('ceph-mon') && which('ceph') && which('radosgw-admin') && which('monmaptool')) return startRgw(dir);
  return startInProcessFauxqs();
}
