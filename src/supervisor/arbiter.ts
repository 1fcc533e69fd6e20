/**
 * The supervisor: gunicorn's arbiter for Bun (../shared/supervisor-and-bun.md §1–§2). It keeps
 * `workers` worker processes serving one port (each binds it with SO_REUSEPORT), replaces the
 * dead, kills the silent, and is steered with gunicorn's signals:
 *   TERM graceful stop · INT/QUIT quick stop · HUP rolling reload · TTIN/TTOU ±1 worker ·
 *   USR1 reopen logs · USR2/WINCH ignored.
 * What to do with the workers is decided in pool.ts (no processes there); this file is the
 * plumbing: configuration, pidfile, startup checks, signals, processes, IPC and the two ways of
 * stopping. It also answers the workers' metrics scrapes (src/metrics/supervisor.ts) and counts
 * restarts. It never imports the HTTP stack.
 */
import type { Subprocess } from 'bun';
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { WORKER_ENV, type MasterMessage, type WorkerMessage } from '../ipc/protocol.ts';
import { Logger } from '../log/logger.ts';
import { SupervisorMetrics } from '../metrics/supervisor.ts';
import { Pidfile } from './pidfile.ts';
import { Pool, type Decision } from './pool.ts';
import { checkMigrateReq, probePort } from './startup.ts';

export interface ArbiterOptions {
  /** command that starts one worker process */
  workerCommand: string[];
  /** loads the configuration (again on HUP) */
  load?: () => Config;
  /** runs once before any worker starts (database migrations) */
  prepare?: (config: Config) => void | Promise<void>;
  /** exits the process; replaced in tests */
  exit?: (code: number) => never;
}

const now = () => performance.now();
const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGTTIN', 'SIGTTOU', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'] as const;

export class Arbiter {
  config: Config;
  log: Logger;
  port = 0;
  readonly pool: Pool;
  readonly #procs = new Map<number, Subprocess>();
  readonly metrics: SupervisorMetrics;
  /** when a stopping supervisor SIGKILLs the workers that are left */
  #deadline = 0;
  #tick: ReturnType<typeof setInterval> | null = null;
  #pidfile: Pidfile | null = null;
  #exited: Promise<number>;
  #resolveExit!: (code: number) => void;
  readonly #opts: Required<Omit<ArbiterOptions, 'prepare'>> & Pick<ArbiterOptions, 'prepare'>;

  constructor(options: ArbiterOptions) {
    this.#opts = {
      load: () => loadConfig(),
      exit: (code: number) => process.exit(code),
      ...options,
    };
    this.config = this.#opts.load();
    this.log = new Logger(this.config);
    this.pool = new Pool(this.config);
    this.metrics = new SupervisorMetrics(() => ({ live: this.pool.workers.size, desired: this.pool.desired }));
    this.#exited = new Promise((r) => (this.#resolveExit = r));
  }

  /** Resolves with the exit status once the supervisor has stopped. */
  get exited(): Promise<number> {
    return this.#exited;
  }

  async start(): Promise<void> {
    const c = this.config;
    this.log.info(`Starting registry supervisor (bun ${Bun.version})`);
    if (c.pidfile) {
      this.#pidfile = new Pidfile(c.pidfile);
      try {
        this.#pidfile.create();
      } catch (e) {
        this.#pidfile = null;
        return this.#halt((e as Error).message, 1);
      }
    }
    const port = await probePort(c.host, c.port, this.log);
    if (port === null) return this.#halt(`Can't connect to ${c.host}:${c.port}`, 1);
    this.port = port;
    try {
      await this.#opts.prepare?.(c);
    } catch (e) {
      return this.#halt(`Startup failed: ${(e as Error).message}`, 1);
    }
    checkMigrateReq(c.tcp_migrate_req, this.log);
    this.log.info(`Listening at: http://${c.host}:${port} (${process.pid})`);
    this.log.info('Using worker: bun (Bun.serve, reusePort)');
    for (const sig of SIGNALS) process.on(sig, () => this.#onSignal(sig));
    this.#apply(this.pool.manage(now()));
    this.#tick = setInterval(() => this.#apply(this.pool.tick(now())), 1000);
  }

  #onSignal(sig: (typeof SIGNALS)[number]): void {
    this.log.info(`Handling signal: ${sig.slice(3).toLowerCase()}`);
    switch (sig) {
      case 'SIGTERM':
        void this.stop(true);
        break;
      case 'SIGINT':
      case 'SIGQUIT':
        void this.stop(false);
        break;
      case 'SIGHUP':
        this.reload();
        break;
      case 'SIGTTIN':
        this.#apply(this.pool.resize(1, now()));
        break;
      case 'SIGTTOU':
        this.#apply(this.pool.resize(-1, now()));
        break;
      case 'SIGUSR1':
        this.log.reopen();
        for (const pid of this.#procs.keys()) this.#signal(pid, 'SIGUSR1');
        break;
      case 'SIGUSR2':
        this.log.info('USR2 ignored: start a second supervisor on the same port, then TERM this one');
        break;
      case 'SIGWINCH':
        this.log.debug('SIGWINCH ignored. Not daemonized');
        break;
    }
  }

  /** HUP: re-read the configuration, reopen logs, and replace every worker, new ones first. */
  reload(): void {
    if (this.pool.stopping) return;
    this.log.info('Hang up: Master');
    let workers: number | undefined;
    try {
      const next = this.#opts.load();
      const old = this.config;
      this.config = next;
      this.pool.settings = next;
      workers = next.workers;
      if (next.host !== old.host || next.port !== old.port) {
        this.log.warning('host and port changes need a restart; keeping the current address');
      }
      this.log.reopen();
      if (this.#pidfile) this.#pidfile.create();
    } catch (e) {
      this.log.error(`Reload failed, keeping the previous configuration: ${(e as Error).message}`);
    }
    this.#apply(this.pool.reload(now(), workers));
  }

  /** Carries out the pool's decisions, in order. */
  #apply(decisions: Decision[]): void {
    for (const d of decisions) {
      switch (d.do) {
        case 'spawn':
          this.#spawn(d.replacement);
          break;
        case 'term':
          this.#signal(d.pid, 'SIGTERM');
          break;
        case 'kill':
          this.#signal(d.pid, 'SIGKILL');
          break;
        case 'halt':
          void this.#halt(d.reason, d.status);
          return;
        case 'wake':
          setTimeout(() => this.#apply(this.pool.manage(now())), d.ms);
          break;
        case 'boot-failed':
          this.metrics.bootFailed();
          break;
        case 'log':
          this.log.log(d.level, d.message);
          break;
      }
    }
  }

  #spawn(replacement: boolean): void {
    const { max_requests: maxReq, max_requests_jitter: jitter } = this.config;
    const maxRequests = maxReq > 0 ? maxReq + Math.floor(Math.random() * (jitter + 1)) : 0;
    const proc: Subprocess = Bun.spawn(this.#opts.workerCommand, {
      env: {
        ...process.env,
        [WORKER_ENV.port]: String(this.port),
        [WORKER_ENV.maxRequests]: String(maxRequests),
      },
      stdio: ['ignore', 'inherit', 'inherit'],
      serialization: 'json',
      ipc: (message, child) => this.#onMessage(child.pid, message as WorkerMessage),
      onExit: (child, code, signal) => this.#onExit(child.pid, code, signal === null ? null : String(signal)),
    });
    this.#procs.set(proc.pid, proc);
    this.pool.started(proc.pid, now());
    this.metrics.workerStarted(replacement);
    this.log.debug(`${this.pool.workers.size} workers`);
  }

  #onMessage(pid: number, m: WorkerMessage): void {
    if (!this.pool.workers.has(pid)) return;
    this.pool.beat(pid, now());
    switch (m.t) {
      case 'ready':
        this.#apply(this.pool.ready(pid, now()));
        break;
      case 'retire':
        this.#apply(this.pool.retire(pid, now()));
        break;
      case 'metrics?':
        void this.metrics
          .scrape(this.pool.serving(), (to, id) => this.#send(to, { t: 'collect', id }))
          .then((text) => this.#send(pid, { t: 'metrics', id: m.id, text }))
          // unanswered, the worker falls back to its own metrics
          .catch((e: unknown) => this.log.error(`Metrics aggregation failed: ${(e as Error).message}`));
        break;
      case 'collected':
        this.metrics.collected(pid, m.id, m.json);
        break;
      case 'last':
        this.metrics.final(pid, m.json);
        this.#send(pid, { t: 'kept', id: m.id });
        break;
    }
  }

  /** Sends to a worker over IPC; false when it cannot be reached. */
  #send(pid: number, m: MasterMessage): boolean {
    const proc = this.#procs.get(pid);
    if (!proc) return false;
    try {
      proc.send(m);
      return true;
    } catch {
      // the channel is closed: the worker is exiting
      return false;
    }
  }

  #onExit(pid: number, code: number | null, signal: string | null): void {
    this.#procs.delete(pid);
    if (!this.pool.workers.has(pid)) return;
    this.metrics.gone(pid);
    this.#apply(this.pool.exited(pid, code, signal, now()));
  }

  #signal(pid: number, signal: NodeJS.Signals): void {
    try {
      this.#procs.get(pid)?.kill(signal);
    } catch {
      // already gone; onExit will clean up
    }
  }

  /** SIGKILLs what is left once the deadline passes, and waits for every worker to be gone. */
  async #reap(): Promise<void> {
    while (this.pool.workers.size > 0 && now() < this.#deadline) await Bun.sleep(100);
    for (const w of this.pool.workers.values()) w.killedByUs = true;
    const left = [...this.#procs.values()];
    for (const proc of left) proc.kill('SIGKILL');
    await Promise.all(left.map((p) => p.exited));
  }

  /** Graceful (TERM): workers finish in-flight requests up to graceful_timeout. Quick: QUIT. */
  async stop(graceful: boolean): Promise<void> {
    if (this.pool.stopping) {
      if (!graceful) {
        this.log.info('Quick shutdown requested');
        for (const pid of this.#procs.keys()) this.#signal(pid, 'SIGQUIT');
        this.#deadline = Math.min(this.#deadline, now() + 2000);
      }
      return;
    }
    this.#deadline = now() + this.config.graceful_timeout * 1000 + (graceful ? 1000 : 0);
    for (const pid of this.pool.stop()) this.#signal(pid, graceful ? 'SIGTERM' : 'SIGQUIT');
    await this.#reap();
    this.#finish(0);
  }

  async #halt(reason: string, status: number): Promise<void> {
    if (!this.pool.stopping) {
      this.#deadline = now() + this.config.graceful_timeout * 1000;
      for (const pid of this.pool.stop()) this.#signal(pid, 'SIGTERM');
      await this.#reap();
    }
    this.#finish(status, reason);
  }

  #finish(status: number, reason?: string): void {
    if (this.#tick) clearInterval(this.#tick);
    this.#pidfile?.unlink();
    if (status === 0) this.log.info('Shutting down: Master');
    else this.log.error('Shutting down: Master');
    if (reason) this.log.error(`Reason: ${reason}`);
    this.#resolveExit(status);
    this.log.close();
    this.#opts.exit(status);
  }
}
