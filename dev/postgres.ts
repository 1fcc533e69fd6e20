/**
 * Throwaway PostgreSQL 15 servers for tests (see /work/shared/scale-out.md §1.2).
 *
 * `startPostgres()` gives the test process ONE shared cluster, started on first use: `initdb`
 * (no fsync) in a temp directory (in /dev/shm when possible), `postgres` on 127.0.0.1 and a free port, its socket in that
 * directory. Each `newDatabase()` is a fresh database copied from a template migrated once
 * (`CREATE DATABASE … TEMPLATE`), so a test never sees another's rows and pays no migration.
 * Callers pair `startPostgres()` with `stop()` (in `afterAll`); the last `stop()` shuts the server
 * down and removes its directory.
 *
 * Nothing can outlive the test process: the server runs in the foreground under
 * `setpriv --pdeathsig` (killed with its parent, even when `bun test` is SIGKILLed), and
 * 'exit'/SIGINT/SIGTERM/SIGHUP handlers stop any cluster still running and delete its directory.
 * A directory left by a SIGKILLed process is swept by the next start.
 *
 * We run as root and initdb/postgres refuse root: both run as the `postgres` user (`runuser`),
 * which must be able to enter the directory (mkdtemp makes it 0700, hence the chmod).
 */
import { SQL } from 'bun';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { migratePostgres } from '../src/db/pg/migrate.ts';
import { freePort } from './ports.ts';
import { alive } from './processes.ts';

const BIN = '/usr/lib/postgresql/15/bin';
const TEMPLATE = 'migrated_template';

export interface PgCluster {
  port: number;
  dir: string;
  /** `postgres://postgres@127.0.0.1:<port>/<database>` (default database: `postgres`) */
  url(database?: string): string;
  /** Fast shutdown, keeping the data: the port refuses connections until `startServer()`. */
  stopServer(): Promise<void>;
  /** Starts the server again on the same port and data. */
  startServer(): Promise<void>;
  /** Stops the server and removes its directory. */
  destroy(): Promise<void>;
}

export interface TestPostgres {
  /** the cluster's `postgres` database, as the superuser */
  url: string;
  cluster: PgCluster;
  /** A new database with every migration applied; returns its URL. */
  newDatabase(): Promise<string>;
  /** A new database with nothing in it (no migrations); returns its URL. */
  newEmptyDatabase(): Promise<string>;
  /** Drops a database made here, disconnecting whoever is still on it. */
  dropDatabase(url: string): Promise<void>;
  /** Releases this handle; the last one stops the cluster and removes its directory. */
  stop(): Promise<void>;
}

function run(cmd: string[]): string {
  const r = Bun.spawnSync(cmd, { stdout: 'pipe', stderr: 'pipe' });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(' ')} failed (${r.exitCode}): ${r.stderr.toString()}${r.stdout.toString()}`);
  return r.stdout.toString();
}

const asPostgres = (cmd: string[]) => ['runuser', '-u', 'postgres', '--', ...cmd];

function ensureBinaries(): void {
  if (existsSync(join(BIN, 'initdb'))) return;
  run(['apt-get', 'install', '-y', '--no-install-recommends', 'postgresql-15']);
}

/**
 * Where clusters live: /dev/shm when there is one (memory-backed: creating a database there takes
 * ~20 ms instead of ~300 ms on this kind of disk, even with fsync off), else the temp directory.
 */
function scratchRoot(): string {
  try {
    const st = statSync('/dev/shm');
    if (st.isDirectory() && (st.mode & 0o1777) === 0o1777) return '/dev/shm';
  } catch {
    // no /dev/shm
  }
  return tmpdir();
}

/** Clusters whose server may be running, for the exit handler. */
const live = new Map<string, { postmasterPid: () => number | null }>();

/** The postmaster's pid from `postmaster.pid`, while the file exists. */
function readPostmaster(data: string): { pid: number; ready: boolean } | null {
  try {
    const lines = readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n');
    const pid = Number(lines[0]);
    return Number.isInteger(pid) && pid > 0 ? { pid, ready: lines[7]?.trim() === 'ready' } : null;
  } catch {
    return null;
  }
}

/** Immediate shutdown, synchronously (for the 'exit' handler, where nothing async runs). */
function killSync(pid: number): void {
  try {
    process.kill(pid, 'SIGQUIT');
  } catch {
    return;
  }
  const deadline = Date.now() + 5000;
  while (alive(pid) && Date.now() < deadline) Bun.sleepSync(5);
}

/** Stops every cluster still running and deletes its directory; synchronous, so 'exit' can run it. */
function cleanupAll(): void {
  for (const [dir, cluster] of live) {
    const pid = cluster.postmasterPid();
    if (pid !== null) killSync(pid);
    rmSync(dir, { recursive: true, force: true });
  }
  live.clear();
}

let handlersInstalled = false;

/**
 * 'exit' covers a normal end; a signal that kills the process skips it, so SIGINT/SIGTERM/SIGHUP
 * clean up and then exit with the conventional status (the server itself would die anyway, by
 * pdeathsig, but its directory would stay).
 */
function installCleanupHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', cleanupAll);
  for (const [signal, number] of [
    ['SIGINT', 2],
    ['SIGTERM', 15],
    ['SIGHUP', 1],
  ] as const) {
    process.on(signal, () => {
      cleanupAll();
      process.exit(128 + number);
    });
  }
}

const OWNER_FILE = 'owner.pid';

/** Directories left by test processes that were SIGKILLed (their owner pid is gone). */
function sweepAbandoned(root: string): void {
  for (const name of readdirSync(root)) {
    if (!name.startsWith('registry-pg-')) continue;
    const dir = join(root, name);
    let owner: number;
    try {
      owner = Number(readFileSync(join(dir, OWNER_FILE), 'utf8'));
    } catch {
      continue; // not ours, or still being set up
    }
    if (!Number.isInteger(owner) || owner <= 0 || alive(owner)) continue;
    const pm = readPostmaster(join(dir, 'data'));
    if (pm && alive(pm.pid)) continue;
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A private cluster of its own (for tests that stop and restart the server). */
export async function startCluster(): Promise<PgCluster> {
  ensureBinaries();
  installCleanupHandlers();
  const root = scratchRoot();
  sweepAbandoned(root);
  const dir = mkdtempSync(join(root, 'registry-pg-'));
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, OWNER_FILE), String(process.pid));
  const data = join(dir, 'data');
  const sockets = join(dir, 'run');
  let proc: Subprocess | null = null;
  let port = 0;
  live.set(dir, { postmasterPid: () => readPostmaster(data)?.pid ?? null });
  try {
    const uid = Number(run(['id', '-u', 'postgres']).trim());
    const gid = Number(run(['id', '-g', 'postgres']).trim());
    for (const d of [data, sockets]) {
      mkdirSync(d);
      chownSync(d, uid, gid);
    }
    // the postgres user must be able to reach the directory from /
    run(asPostgres(['test', '-x', dir]));
    run(asPostgres([join(BIN, 'initdb'), '-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '-N']));
  } catch (e) {
    live.delete(dir);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  const logPath = join(dir, 'server.log');
  const launch = async (): Promise<void> => {
    const p = Bun.spawn(
      [
        // setpriv: runuser dies with this process, postgres with runuser (SIGQUIT = immediate shutdown)
        'setpriv', '--pdeathsig', 'KILL', '--',
        ...asPostgres(['setpriv', '--pdeathsig', 'QUIT', '--', join(BIN, 'postgres'), '-D', data, '-p', String(port), '-k', sockets]),
        '-c', 'listen_addresses=127.0.0.1',
        '-c', 'fsync=off',
        '-c', 'synchronous_commit=off',
        '-c', 'full_page_writes=off',
        '-c', 'max_connections=300',
        '-c', 'shared_buffers=32MB',
      ],
      { stdin: 'ignore', stdout: 'ignore', stderr: Bun.file(logPath) },
    );
    proc = p;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (p.exitCode !== null) break;
      const pm = readPostmaster(data);
      if (pm?.ready) return;
      await Bun.sleep(20);
    }
    p.kill('SIGKILL');
    await p.exited;
    proc = null;
    const log = existsSync(logPath) ? readFileSync(logPath, 'utf8') : '';
    throw new Error(`postgres did not start on port ${port}: ${log.slice(-2000)}`);
  };

  const stopServer = async (): Promise<void> => {
    const p = proc;
    if (!p) return;
    const pm = readPostmaster(data);
    if (pm) process.kill(pm.pid, 'SIGINT'); // fast shutdown: disconnect clients, checkpoint, exit
    else p.kill('SIGKILL');
    const timer = setTimeout(() => {
      const again = readPostmaster(data);
      if (again) process.kill(again.pid, 'SIGQUIT');
    }, 10_000);
    await p.exited;
    clearTimeout(timer);
    proc = null;
  };

  try {
    // a free port can be taken between the probe and the bind: try a few
    for (let attempt = 0; ; attempt++) {
      port = await freePort();
      try {
        await launch();
        break;
      } catch (e) {
        if (attempt >= 2 || !String(e).includes('could not bind')) throw e;
      }
    }
  } catch (e) {
    live.delete(dir);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  return {
    port,
    dir,
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    stopServer,
    startServer: async () => {
      if (!proc) await launch();
    },
    destroy: async () => {
      await stopServer();
      live.delete(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface Shared {
  cluster: PgCluster;
  admin: SQL;
  template: Promise<void> | null;
  users: number;
  next: number;
}

let shared: Promise<Shared> | null = null;

const databaseOf = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1));
const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** The process's shared cluster (started on first call); pair with `stop()`. */
export async function startPostgres(): Promise<TestPostgres> {
  shared ??= (async () => {
    const cluster = await startCluster();
    return { cluster, admin: new SQL({ url: cluster.url(), max: 1 }), template: null, users: 0, next: 0 };
  })();
  const s = await shared;
  s.users++;
  let stopped = false;

  const create = async (template: string) => {
    const name = `t${++s.next}`;
    await s.admin.unsafe(`CREATE DATABASE ${ident(name)} TEMPLATE ${ident(template)} STRATEGY FILE_COPY`);
    return s.cluster.url(name);
  };

  return {
    url: s.cluster.url(),
    cluster: s.cluster,
    newDatabase: async () => {
      s.template ??= (async () => {
        await s.admin.unsafe(`CREATE DATABASE ${ident(TEMPLATE)} TEMPLATE template0`);
        await migratePostgres(s.cluster.url(TEMPLATE));
      })();
      await s.template;
      return create(TEMPLATE);
    },
    newEmptyDatabase: () => create('template0'),
    dropDatabase: async (url: string) => {
      await s.admin.unsafe(`DROP DATABASE IF EXISTS ${ident(databaseOf(url))} WITH (FORCE)`);
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      if (--s.users > 0) return;
      shared = null;
      await s.admin.close();
      await s.cluster.destroy();
    },
  };
}
