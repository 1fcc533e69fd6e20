/**
 * S3-compatible servers for tests (see ../shared/scale-out.md §2–3):
 * - `startFauxqs()`: fauxqs inside the test process, on a free port, in memory. Fast, enforces
 *   the 5 MiB part minimum, but checks no signature and no presign expiry.
 * - `startRadosGateway()`: a throwaway Ceph cluster with one RADOS Gateway
 *   (scripts/ceph-start.sh, apt-installs Ceph when missing), a strict server that checks
 *   signatures. About 15 s to start (plus about 25 s of apt on a fresh machine).
 *
 * Both hand back an {@link S3TestServer} with one fresh bucket, credentials, a way to make more
 * buckets, and SigV4-signed raw requests for the calls Bun's client lacks (CreateBucket,
 * ListMultipartUploads).
 */
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFauxqs as startFauxqsServer } from 'fauxqs';
import type { S3DriverOptions } from '../src/storage/s3/driver.ts';

export interface S3Credentials {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface S3TestServer extends S3Credentials {
  /** A bucket made for this server start, empty at first. */
  readonly bucket: string;
  /** Makes another empty bucket and returns its name. */
  newBucket(): Promise<string>;
  /** Driver options for `bucket` (or `overrides.bucket`) on this server. */
  driverOptions(overrides?: Partial<S3DriverOptions>): S3DriverOptions;
  /**
   * Keys of unfinished multipart uploads in a bucket (under `prefix`), from ListMultipartUploads;
   * null when the server does not offer that call (fauxqs).
   */
  pendingUploads(bucket: string, prefix?: string): Promise<string[] | null>;
  /** Stops the server and removes everything it stored. */
  stop(): Promise<void>;
}

const REGION = 'us-east-1';
let bucketCounter = 0;

/** A valid, unique bucket name (3–63 lowercase characters). */
function uniqueBucketName(tag = 'reg'): string {
  bucketCounter += 1;
  return `${tag}-${process.pid}-${Date.now().toString(36)}-${bucketCounter}`;
}

// ---- SigV4 for the few calls Bun's S3 client has no method for --------------------------------

const sha256Hex = (data: string): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();

/** RFC 3986 encoding as SigV4 wants it (encodeURIComponent leaves `!'()*` alone). */
const encode = (s: string): string =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * A SigV4-signed request with an empty body, path-style: `path` is `/<bucket>[/<key>]` and must
 * not need escaping (the bucket names made here never do).
 */
export async function signedRequest(
  creds: S3Credentials,
  method: string,
  path: string,
  query: Record<string, string> = {},
): Promise<Response> {
  const url = new URL(path, creds.endpoint);
  const canonicalQuery = Object.keys(query)
    .sort()
    .map((k) => `${encode(k)}=${encode(query[k]!)}`)
    .join('&');
  const now = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const day = now.slice(0, 8);
  const payloadHash = sha256Hex('');
  const headers = { host: url.host, 'x-amz-content-sha256': payloadHash, 'x-amz-date': now };
  const signedHeaders = Object.keys(headers).join(';');
  const canonicalHeaders = Object.entries(headers)
    .map(([k, v]) => `${k}:${v}\n`)
    .join('');
  const canonicalRequest = [method, url.pathname, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const scope = `${day}/${creds.region}/s3/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', now, scope, sha256Hex(canonicalRequest)].join('\n');
  let key = hmac(`AWS4${creds.secretAccessKey}`, day);
  for (const part of [creds.region, 's3', 'aws4_request']) key = hmac(key, part);
  const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
  const authorization = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  const target = canonicalQuery === '' ? url.href : `${url.origin}${url.pathname}?${canonicalQuery}`;
  return fetch(target, {
    method,
    headers: { 'x-amz-content-sha256': payloadHash, 'x-amz-date': now, authorization },
  });
}

async function createBucketSigned(creds: S3Credentials, name: string): Promise<void> {
  const r = await signedRequest(creds, 'PUT', `/${name}`);
  if (!r.ok) throw new Error(`CreateBucket ${name}: ${r.status} ${await r.text()}`);
}

async function listMultipartUploads(creds: S3Credentials, bucket: string, prefix: string): Promise<string[]> {
  const r = await signedRequest(creds, 'GET', `/${bucket}`, prefix ? { prefix, uploads: '' } : { uploads: '' });
  const text = await r.text();
  if (!r.ok) throw new Error(`ListMultipartUploads ${bucket}: ${r.status} ${text}`);
  const keys: string[] = [];
  for (const m of text.matchAll(/<Upload>[\s\S]*?<Key>([^<]*)<\/Key>[\s\S]*?<\/Upload>/g)) keys.push(m[1]!);
  return keys;
}

function optionsFor(creds: S3Credentials, bucket: string) {
  return (overrides: Partial<S3DriverOptions> = {}): S3DriverOptions => ({
    endpoint: creds.endpoint,
    region: creds.region,
    accessKeyId: creds.accessKeyId,
    secretAccessKey: creds.secretAccessKey,
    bucket,
    ...overrides,
  });
}

/** The handle both servers return; `stop` runs once however often it is called. */
function testServer(
  creds: S3Credentials,
  bucket: string,
  newBucket: () => Promise<string>,
  pendingUploads: S3TestServer['pendingUploads'],
  stop: () => Promise<void>,
): S3TestServer {
  let stopped = false;
  return {
    ...creds,
    bucket,
    newBucket,
    driverOptions: optionsFor(creds, bucket),
    pendingUploads,
    async stop() {
      if (stopped) return;
      stopped = true;
      await stop();
    },
  };
}

// ---- fauxqs -------------------------------------------------------------------------------------

/** fauxqs in this process on a free port, with one fresh bucket. Any credentials are accepted. */
export async function startFauxqs(): Promise<S3TestServer> {
  const server = await startFauxqsServer({ port: 0, logger: false });
  const creds: S3Credentials = {
    endpoint: `http://127.0.0.1:${server.port}`,
    region: REGION,
    accessKeyId: 'test',
    secretAccessKey: 'test',
  };
  const newBucket = async (): Promise<string> => server.createBucket(uniqueBucketName('fx')).bucketName;
  const bucket = await newBucket();
  return testServer(creds, bucket, newBucket, async () => null, () => server.stop());
}

// ---- Ceph RADOS Gateway -------------------------------------------------------------------------

const SCRIPTS = join(import.meta.dir, '..', 'scripts');

/** A port P with P and P + 10000 (the monitor's) both free, as ceph-start.sh needs. */
async function freeCephPort(): Promise<number> {
  const free = (port: number): boolean => {
    try {
      Bun.listen({ hostname: '127.0.0.1', port, socket: { data() {} } }).stop(true);
      return true;
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 30000);
    if (free(port) && free(port + 10000)) return port;
  }
  throw new Error('no free port pair for ceph');
}

/**
 * A single-node Ceph cluster with one RADOS Gateway (scripts/ceph-start.sh; Ceph is installed
 * from apt when missing), with one fresh bucket. `stop()` ends every daemon's process group and
 * removes the data; it also runs when the test process exits without calling it.
 */
export async function startRadosGateway(): Promise<S3TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'registry-ceph-'));
  const stopSync = () => {
    Bun.spawnSync(['bash', join(SCRIPTS, 'ceph-stop.sh'), dir], { stdout: 'ignore', stderr: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', stopSync);
  const port = await freeCephPort();
  const proc = Bun.spawn(['bash', join(SCRIPTS, 'ceph-start.sh'), join(dir, 'ceph'), String(port)], {
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  const stop = async () => {
    process.removeListener('exit', stopSync);
    const p = Bun.spawn(['bash', join(SCRIPTS, 'ceph-stop.sh'), join(dir, 'ceph')], { stdout: 'ignore', stderr: 'ignore' });
    await p.exited;
    rmSync(dir, { recursive: true, force: true });
  };
  if (code !== 0) {
    await stop();
    throw new Error(`ceph-start.sh failed (${code}): ${err.trim()}`);
  }
  const creds: S3Credentials = {
    endpoint: out.trim(),
    region: REGION,
    accessKeyId: 'TESTKEY',
    secretAccessKey: 'TESTSECRET',
  };
  const newBucket = async (): Promise<string> => {
    const name = uniqueBucketName('rgw');
    await createBucketSigned(creds, name);
    return name;
  };
  let bucket: string;
  try {
    // The first bucket also makes RGW create its data pools (a few seconds).
    bucket = await newBucket();
  } catch (e) {
    await stop();
    throw e;
  }
  return testServer(creds, bucket, newBucket, (b, prefix = '') => listMultipartUploads(creds, b, prefix), stop);
}

// ---- a recording proxy (fauxqs only: it re-addresses requests, so signatures would break) ------

interface RecordedRequest {
  method: string;
  /** path without the query, e.g. `/bucket/key` */
  path: string;
  query: URLSearchParams;
  /** request body bytes */
  bytes: number;
  status: number;
}

export interface RecordingProxy {
  /** Point the driver here instead of at the server. */
  readonly endpoint: string;
  /** Answered requests, in the order their answers came back. */
  readonly requests: RecordedRequest[];
  /** Holds every UploadPart request until the returned function is called. */
  holdParts(): () => void;
  /**
   * Holds every request that `match` selects (before it reaches the server) until the returned
   * function is called; `held()` counts those waiting.
   */
  hold(match: (method: string, url: URL) => boolean): { release: () => void; held: () => number };
  stop(): void;
}

/**
 * A pass-through HTTP proxy that records what a client sent (method, path, query, body size) and
 * what the server answered. It lets tests see the S3 calls themselves: multipart or not, how many
 * parts, whether an upload was completed or aborted.
 */
export function recordingProxy(upstream: string): RecordingProxy {
  const requests: RecordedRequest[] = [];
  let gate: Promise<void> | null = null;
  const holds = new Set<{ match: (method: string, url: URL) => boolean; gate: Promise<void>; waiting: number }>();
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await req.arrayBuffer();
      if (gate && url.searchParams.has('partNumber')) await gate;
      for (const h of holds) {
        if (!h.match(req.method, url)) continue;
        h.waiting++;
        await h.gate;
        h.waiting--;
      }
      const headers = new Headers(req.headers);
      headers.delete('host');
      const r = await fetch(`${upstream}${url.pathname}${url.search}`, { method: req.method, headers, body, redirect: 'manual' });
      const answer = await r.arrayBuffer();
      requests.push({ method: req.method, path: url.pathname, query: url.searchParams, bytes: body?.byteLength ?? 0, status: r.status });
      return new Response(req.method === 'HEAD' ? null : answer, { status: r.status, headers: r.headers });
    },
  });
  return {
    endpoint: `http://127.0.0.1:${server.port}`,
    requests,
    holdParts() {
      let release!: () => void;
      gate = new Promise<void>((resolve) => (release = resolve));
      return () => {
        gate = null;
        release();
      };
    },
    hold(match) {
      let release!: () => void;
      const h = { match, gate: new Promise<void>((resolve) => (release = resolve)), waiting: 0 };
      holds.add(h);
      return {
        release() {
          holds.delete(h);
          release();
        },
        held: () => h.waiting,
      };
    },
    stop() {
      server.stop(true);
    },
  };
}
