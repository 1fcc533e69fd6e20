/**
 * The supervisor: gunicorn's arbiter for Bun (../shared/supervisor-and-bun.md §1–§2). It keeps
 * `workers` worker processes serving one port (each binds it with SO_REUSEPORT), replaces the
 * dead, kills the silent, and is steered with gunicorn's signals:
 *   TERM graceful stop · INT/QUIT quick stop · HUP rolling reload · TTIN/TTOU ±1 worker ·
 *   USR1 reopen logs · USR2/WINCH ignored.
 * Where gunicorn loses capacity (HUP, max_requests, TTOU of a retiring worker), a replacement is
 * started first and the old worker is only told to drain once the new one is listening.
 * It also answers the workers' metrics scrapes (src/metrics/supervisor.ts) and counts restarts.
 * It never imports the HTTP stack.
 */
import type { Subprocess } from 'bun';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { Logger } from '../log/logger.ts';
import { SupervisorMetrics } from '../metrics/supervisor.ts';
import { Pidfile } from './pidfile.ts';
import { EXIT_BOOT_FAILURE, WORKER_ENV, type MasterMessage, type WorkerMessage } from './protocol.ts';

type State = 'booting' | 'ready' | 'draining';

interface WorkerRec {
  proc: Subprocess;
  pid: number;
  /** spawn order: lower is older */
  age: number;
  state: State;
  /** to be replaced: does not hold a slot, drained once a replacement is ready */
  retiring: boolean;
  spawnedAt: number;
  lastBeat: number;
  termSentAt: number | null;
  /** the supervisor killed it (timeout, drain limit): its SIGKILL is not a surprise */
  killedByUs: boolean;
  nr: number;
}

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

export class HaltError extends Error {
  constructor(
    readonly reason: string,
    readonly status: number,
  ) {
    super(reason);
  }
}

export class Arbiter {
  config: Config;
  log: Logger;
  numWorkers: number;
  port = 0;
  readonly workers = new Map<number, WorkerRec>();
  #age = 0;
  #stopping = false;
  #everReady = false;
  #bootFailuresInRow = 0;
  #crashTimes: number[] = [];
  #nextSpawnAt = 0;
  /**
   * Serving slots emptied by a death or a recycling and not refilled yet: the spawns that fill
   * them are restarts (registry_worker_restarts_total). Never more than the slots missing, so
   * a slot given up (TTOU) is not refilled later as a "restart".
   */
  #replacementsOwed = 0;
  readonly metrics = new SupervisorMetrics(() => ({ live: this.workers.size, desired: this.numWorkers }));
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
    this.numWorkers = this.config.workers;
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
    const port = await this.#probe(c.host, c.port);
    if (port === null) return this.#halt(`Can't connect to ${c.host}:${c.port}`, 1);
    this.port = port;
    try {
      await this.#opts.prepare?.(c);
    } catch (e) {
      return this.#halt(`Startup failed: ${(e as Error).message}`, 1);
    }
    this.#checkMigrateReq();
    this.log.info(`Listening at: http://${c.host}:${port} (${process.pid})`);
    this.log.info('Using worker: bun (Bun.serve, reusePort)');
    for (const sig of SIGNALS) process.on(sig, () => this.#onSignal(sig));
    this.#manage();
    this.#tick = setInterval(() => this.#loop(), 1000);
  }

  /**
   * Checks that nothing serves the port, as gunicorn's bind does (5 tries, 1 s apart). Without
   * it a stale reusePort listener of the same user would silently share the traffic. Returns
   * the port (resolved when 0 was asked for), or null.
   */
  async #probe(hostname: string, port: number): Promise<number | null> {
    for (let attempt = 1; attempt <= 5; attempt++) {
      try {
        const probe = Bun.serve({ hostname, port, reusePort: false, fetch: () => new Response(null) });
        const bound = probe.port ?? port;
        probe.stop(true);
        return bound;
      } catch (e) {
        this.log.error(`Connection in use: ${hostname}:${port} (${(e as Error).message})`);
        if (attempt < 5) await Bun.sleep(1000);
      }
    }
    return null;
  }

  /**
   * Closing a worker's reusePort listener resets the connections still in its accept queue
   * unless net.ipv4.tcp_migrate_req is 1 (Linux ≥ 5.14, per network namespace); with it, reloads
   * and recycling lose no request. Turn it on where we may, and say so either way.
   */
  #checkMigrateReq(): void {
    const path = '/proc/sys/net/ipv4/tcp_migrate_req';
    let value: string;
    try {
      value = readFileSync(path, 'utf8').trim();
    } catch {
      this.log.warning('net.ipv4.tcp_migrate_req is not available (Linux < 5.14?): a reload may reset queued connections');
      return;
    }
    if (value === '1') return this.log.info('net.ipv4.tcp_migrate_req=1: reloads keep queued connections');
    if (this.config.tcp_migrate_req) {
      try {
        writeFileSync(path, '1');
        return this.log.info('Set net.ipv4.tcp_migrate_req=1: reloads keep queued connections');
      } catch {
        // not allowed (not root, or a read-only /proc in a container): fall through to the warning
      }
    }
    this.log.warning(
      'net.ipv4.tcp_migrate_req=0: a reload or worker recycle may reset connections queued on the stopping worker; set it to 1 (sysctl, or --sysctl in a container)',
    );
  }

  #onSignal(sig: (typeof SIGNALS)[number]): void {
    const name = sig.slice(3).toLowerCase();
    this.log.info(`Handling signal: ${name}`);
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
        this.numWorkers++;
        this.#manage();
        break;
      case 'SIGTTOU':
        if (this.numWorkers > 1) {
          this.numWorkers--;
          this.#manage();
        }
        break;
      case 'SIGUSR1':
        this.log.reopen();
        for (const w of this.workers.values()) this.#kill(w, 'SIGUSR1');
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
    if (this.#stopping) return;
    this.log.info('Hang up: Master');
    try {
      const next = this.#opts.load();
      const old = this.config;
      this.config = next;
      this.numWorkers = next.workers;
      if (next.host !== old.host || next.port !== old.port) {
        this.log.warning('host and port changes need a restart; keeping the current address');
      }
      this.log.reopen();
      if (this.#pidfile) this.#pidfile.create();
    } catch (e) {
      this.log.error(`Reload failed, keeping the previous configuration: ${(e as Error).message}`);
    }
    for (const w of this.workers.values()) this.#retire(w);
    this.#manage();
  }

  #loop(): void {
    this.#murder();
    this.#manage();
  }

  /** Kills workers that stopped beating, never booted, or overran their drain. */
  #murder(): void {
    const t = now();
    const { timeout, boot_timeout: bootTimeout, graceful_timeout: grace } = this.config;
    for (const w of this.workers.values()) {
      if (w.killedByUs) continue;
      if (w.state === 'booting' && t - w.spawnedAt > bootTimeout * 1000) {
        this.log.error(`Worker (pid:${w.pid}) did not boot within ${bootTimeout}s`);
        this.#kill(w, 'SIGKILL', true);
      } else if (w.state === 'draining' && w.termSentAt !== null && t - w.termSentAt > grace * 1000 + 1000) {
        this.log.warning(`Worker (pid:${w.pid}) overran graceful_timeout; killing it`);
        this.#kill(w, 'SIGKILL', true);
      } else if (timeout > 0 && w.state !== 'booting' && t - w.lastBeat > timeout * 1000) {
        this.log.critical(`WORKER TIMEOUT (pid:${w.pid})`);
        this.#kill(w, 'SIGKILL', true);
      }
    }
  }

  /** Keeps `numWorkers` serving slots filled; drains extras and replaced workers. */
  #manage(): void {
    if (this.#stopping) return;
    const live = [...this.workers.values()];
    const slots = live.filter((w) => w.state !== 'draining' && !w.retiring);
    const missing = this.numWorkers - slots.length;
    this.#replacementsOwed = Math.min(this.#replacementsOwed, Math.max(0, missing));
    if (missing > 0 && now() >= this.#nextSpawnAt) {
      for (let i = 0; i < missing; i++) this.#spawn();
    } else if (missing < 0) {
      const extras = slots.sort((a, b) => a.age - b.age).slice(0, -missing);
      for (const w of extras) this.#drain(w);
    }
    // replaced workers go once enough fresh ones are listening
    const fresh = live.filter((w) => w.state === 'ready' && !w.retiring).length;
    if (fresh >= this.numWorkers) {
      for (const w of live) if (w.retiring && w.state !== 'draining') this.#drain(w);
    }
  }

  /** Marks a serving worker for replacement (it keeps serving until a new one is ready). */
  #retire(w: WorkerRec): void {
    if (w.state === 'draining' || w.retiring) return;
    w.retiring = true;
    this.#replacementsOwed++;
  }

  #spawn(): void {
    const age = ++this.#age;
    const { max_requests: maxReq, max_requests_jitter: jitter } = this.config;
    const maxRequests = maxReq > 0 ? maxReq + Math.floor(Math.random() * (jitter + 1)) : 0;
    const proc: Subprocess = Bun.spawn(this.#opts.workerCommand, {
      env: {
        ...process.env,
        [WORKER_ENV.port]: String(this.port),
        [WORKER_ENV.maxRequests]: String(maxRequests),
        [WORKER_ENV.role]: 'worker',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
      serialization: 'json',
      ipc: (message, child) => this.#onMessage(child.pid, message as WorkerMessage),
      onExit: (child, code, signal) => this.#onExit(child.pid, code, signal === null ? null : String(signal)),
    });
    const t = now();
    this.workers.set(proc.pid, {
      proc,
      pid: proc.pid,
      age,
      state: 'booting',
      retiring: false,
      spawnedAt: t,
      lastBeat: t,
      termSentAt: null,
      killedByUs: false,
      nr: 0,
    });
    const replacement = this.#replacementsOwed > 0;
    if (replacement) this.#replacementsOwed--;
    this.metrics.workerStarted(replacement);
    this.log.debug(`${this.workers.size} workers`);
  }

  #onMessage(pid: number, m: WorkerMessage): void {
    const w = this.workers.get(pid);
    if (!w) return;
    w.lastBeat = now();
    switch (m.t) {
      case 'ready': {
        if (w.state !== 'booting') return;
        w.state = 'ready';
        this.#everReady = true;
        this.#bootFailuresInRow = 0;
        // a new worker is listening: one replaced worker may go now
        const replaced = [...this.workers.values()]
          .filter((o) => o.retiring && o.state === 'ready')
          .sort((a, b) => a.age - b.age)[0];
        if (replaced) this.#drain(replaced);
        this.#manage();
        break;
      }
      case 'hb':
        w.nr = m.nr;
        break;
      case 'retire':
        if (w.state === 'ready' && !w.retiring) {
          this.#retire(w);
          this.#manage();
        }
        break;
      case 'metrics?': {
        const serving = [...this.workers.values()].filter((o) => o.state !== 'booting').map((o) => o.pid);
        void this.metrics
          .scrape(serving, (to, id) => this.#send(to, { t: 'collect', id }))
          .then((text) => this.#send(pid, { t: 'metrics', id: m.id, text }))
          // unanswered, the worker falls back to its own metrics
          .catch((e: unknown) => this.log.error(`Metrics aggregation failed: ${(e as Error).message}`));
        break;
      }
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
    const w = this.workers.get(pid);
    if (!w) return false;
    try {
      w.proc.send(m);
      return true;
    } catch {
      // the channel is closed: the worker is exiting
      return false;
    }
  }

  #onExit(pid: number, code: number | null, signal: string | null): void {
    const w = this.workers.get(pid);
    if (!w) return;
    this.workers.delete(pid);
    this.metrics.gone(pid);
    if (w.state === 'booting' && !this.#stopping) this.metrics.bootFailed();
    // a worker holding a serving slot died (crash, kill, timeout, boot failure): its slot is refilled by a restart
    if (!this.#stopping && w.state !== 'draining' && !w.retiring) this.#replacementsOwed++;
    const expected = w.state === 'draining' || this.#stopping;
    if (signal) {
      const unexpectedKill = signal === 'SIGKILL' && !w.killedByUs;
      const msg = `Worker (pid:${pid}) was sent ${signal}!${unexpectedKill ? ' Perhaps out of memory?' : ''}`;
      if (signal === 'SIGKILL') this.log.error(msg);
      else if (signal === 'SIGTERM') this.log.info(msg);
      else this.log.warning(msg);
    } else if (code !== 0) {
      this.log.error(`Worker (pid:${pid}) exited with code ${code}.`);
    }
    if (this.#stopping) return;
    if (w.state === 'booting') {
      if (!this.#everReady) {
        void this.#halt('Worker failed to boot.', EXIT_BOOT_FAILURE);
        return;
      }
      this.#bootFailuresInRow++;
      if (this.#bootFailuresInRow >= this.config.max_boot_failures) {
        void this.#halt(`${this.#bootFailuresInRow} workers in a row failed to boot.`, EXIT_BOOT_FAILURE);
        return;
      }
      this.#backoff(this.#bootFailuresInRow);
    } else if (!expected) {
      // a crash after booting: replace it, backing off when crashes come in a burst
      const t = now();
      this.#crashTimes = [...this.#crashTimes.filter((c) => t - c < 60_000), t];
      if (this.#crashTimes.length > 10) this.#backoff(this.#crashTimes.length - 10);
    }
    this.#manage();
  }

  #backoff(n: number): void {
    const delay = Math.min(60_000, 1000 * 2 ** (n - 1));
    this.#nextSpawnAt = now() + delay;
    this.log.warning(`Next worker start in ${(delay / 1000).toFixed(0)}s`);
    setTimeout(() => this.#manage(), delay + 10);
  }

  #drain(w: WorkerRec): void {
    if (w.state === 'draining') return;
    w.state = 'draining';
    w.termSentAt = now();
    this.#kill(w, 'SIGTERM');
  }

  #kill(w: WorkerRec, signal: NodeJS.Signals, byUs = false): void {
    if (byUs) w.killedByUs = true;
    try {
      w.proc.kill(signal);
    } catch {
      // already gone; onExit will clean up
    }
  }

  /** Graceful (TERM): workers finish in-flight requests up to graceful_timeout. Quick: QUIT. */
  async stop(graceful: boolean): Promise<void> {
    if (this.#stopping) {
      if (!graceful) {
        this.log.info('Quick shutdown requested');
        for (const w of this.workers.values()) this.#kill(w, 'SIGQUIT');
        this.#deadline = Math.min(this.#deadline, now() + 2000);
      }
      return;
    }
    this.#stopping = true;
    this.#deadline = now() + this.config.graceful_timeout * 1000 + (graceful ? 1000 : 0);
    for (const w of this.workers.values()) {
      w.state = 'draining';
      this.#kill(w, graceful ? 'SIGTERM' : 'SIGQUIT');
    }
    while (this.workers.size > 0 && now() < this.#deadline) await Bun.sleep(100);
    for (const w of this.workers.values()) this.#kill(w, 'SIGKILL', true);
    await Promise.all([...this.workers.values()].map((w) => w.proc.exited));
    this.#finish(0);
  }

  async #halt(reason: string, status: number): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      for (const w of this.workers.values()) this.#kill(w, 'SIGTERM');
      const deadline = now() + this.config.graceful_timeout * 1000;
      while (this.workers.size > 0 && now() < deadline) await Bun.sleep(100);
      for (const w of this.workers.values()) this.#kill(w, 'SIGKILL', true);
      await Promise.all([...this.workers.values()].map((w) => w.proc.exited));
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
