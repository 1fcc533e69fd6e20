/**
 * The reference V2 registry, distribution 2.8 (Debian's `docker-registry` package,
 * `/usr/bin/docker-registry serve <config.yml>`), as a child process on a free loopback port, for
 * the client-compatibility tests (test/e2e/skopeo.test.ts, test/e2e/oci-conformance.test.ts: the
 * same tests run against it to prove the harness) and the benchmarks (bench/lib/servers.ts).
 *
 * Its directory holds `config.yml`, `stderr.log` and `storage/` (filesystem storage). Without
 * `dir` a temp directory is made and removed on `stop()`. Options:
 *  - `htpasswd`: Basic auth for one user (bcrypt hash, as distribution's htpasswd backend requires);
 *  - `rootDirectory`: storage somewhere else, e.g. one directory for several nodes (give them the
 *    same `secret`, which signs upload state, and no in-memory cache);
 *  - `cache`: the stock config's in-memory blob descriptor cache (on by default).
 * No S3 storage: distribution's S3 driver resumes an upload through ListMultipartUploads, which
 * fauxqs (dev/s3.ts) does not offer, so every chunked upload fails there.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { freePort } from './ports.ts';
import { stop as stopProcess } from './processes.ts';

export interface DistributionOptions {
  /** where config.yml, stderr.log and storage/ go; default: a temp dir, removed by stop() */
  dir?: string;
  htpasswd?: { user: string; password: string };
  /**
   * filesystem storage in this directory instead of `<dir>/storage`: several nodes over one
   * directory (a shared volume) need the same `secret` and no cache
   */
  rootDirectory?: string;
  /** http.secret (signs upload state): the same on every node over one storage */
  secret?: string;
  /** the in-memory blob descriptor cache of the stock config (default true) */
  cache?: boolean;
  /** log level (default `error`) and the access log (default off) */
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
  accessLog?: boolean;
}

export interface Distribution {
  url: string;
  port: number;
  dir: string;
  proc: Subprocess;
  /** what it wrote to stderr so far (its log) */
  log(): Promise<string>;
  /** SIGTERM (SIGKILL after 5 s); removes the directory when it was made here */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';

/** The YAML config for one node listening on `port`. */
function config(dir: string, port: number, o: DistributionOptions, htpasswdFile: string | null): string {
  const storage = ['  filesystem:', `    rootdirectory: ${o.rootDirectory ?? join(dir, 'storage')}`];
  return [
    'version: 0.1',
    'log:',
    `  level: ${o.logLevel ?? 'error'}`,
    '  accesslog:',
    `    disabled: ${!o.accessLog}`,
    'storage:',
    ...storage,
    '  delete:',
    '    enabled: true',
    ...(o.cache === false ? [] : ['  cache:', '    blobdescriptor: inmemory']),
    ...(htpasswdFile ? ['auth:', '  htpasswd:', '    realm: distribution', `    path: ${htpasswdFile}`] : []),
    'http:',
    `  addr: ${HOST}:${port}`,
    ...(o.secret ? [`  secret: ${o.secret}`] : []),
    '',
  ].join('\n');
}

/** Starts `docker-registry serve`; resolves once `/v2/` answers (200, or 401 with htpasswd). */
export async function startDistribution(o: DistributionOptions = {}): Promise<Distribution> {
  const bin = Bun.which('docker-registry') ?? '/usr/bin/docker-registry';
  const own = o.dir === undefined;
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'distribution-'));
  mkdirSync(dir, { recursive: true });
  let htpasswdFile: string | null = null;
  if (o.htpasswd) {
    htpasswdFile = join(dir, 'htpasswd');
    const hash = await Bun.password.hash(o.htpasswd.password, { algorithm: 'bcrypt', cost: 5 });
    writeFileSync(htpasswdFile, `${o.htpasswd.user}:${hash}\n`);
  }
  const port = await freePort();
  const conf = join(dir, 'config.yml');
  writeFileSync(conf, config(dir, port, o, htpasswdFile));
  const logFile = join(dir, 'stderr.log');
  // the config file is its only source of settings (its AWS SDK would read AWS_*)
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') && !k.startsWith('REGISTRY_')));
  const proc = Bun.spawn([bin, 'serve', conf], { env, stdout: 'ignore', stderr: Bun.file(logFile) });
  const url = `http://${HOST}:${port}`;
  const d: Distribution = {
    url,
    port,
    dir,
    proc,
    log: () => Bun.file(logFile).text().catch(() => ''),
    async stop() {
      await stopProcess(proc);
      if (own) rmSync(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && proc.exitCode === null) {
    try {
      const r = await fetch(`${url}/v2/`);
      await r.arrayBuffer();
      if (r.ok || (o.htpasswd && r.status === 401)) return d;
    } catch {
      // not listening yet
    }
    await Bun.sleep(50);
  }
  const log = await d.log();
  await d.stop();
  throw new Error(`distribution did not start (${bin} serve ${conf}):\n${log}`);
}
