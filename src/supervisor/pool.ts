/**
 * The supervisor's decisions about its workers, without processes: events go in (a worker was
 * started, is ready, asked to retire, exited; a tick; a reload; a new worker count) and come out
 * as decisions (start one, TERM one, SIGKILL one, halt, wake me later, log this) for arbiter.ts
 * to carry out. Times are passed in (ms, any monotonic clock), so tests drive it directly.
 *
 * Rules (../shared/supervisor-and-bun.md §2.4–§2.6):
 * - keep `desired` serving slots filled; a draining or retiring worker holds none;
 * - a retiring worker (HUP, max_requests) keeps serving until enough new ones are ready, then is
 *   drained, so replacing one never lowers capacity; TTOU drains the oldest at once;
 * - a worker that never became ready, before any ever did, halts the supervisor with 3; after
 *   that, K boot failures in a row halt it, and each one backs the next start off 1 s, 2 s, 4 s…
 *   (at most 60 s); more than 10 crashes of ready workers within 60 s back off the same way;
 * - SIGKILL a worker that did not boot in boot_timeout, stopped beating for timeout, or drained
 *   for longer than graceful_timeout + 1 s.
 */
import { EXIT_BOOT_FAILURE } from '../ipc/protocol.ts';

type WorkerState = 'booting' | 'ready' | 'draining';
type Level = 'debug' | 'info' | 'warning' | 'error' | 'critical';

export interface PoolSettings {
  workers: number;
  /** seconds without a message before a ready worker is killed; 0: never */
  timeout: number;
  boot_timeout: number;
  graceful_timeout: number;
  max_boot_failures: number;
}

export type Decision =
  /** start a worker and report it with `started`; `replacement`: it refills a slot a worker left */
  | { do: 'spawn'; replacement: boolean }
  /** SIGTERM: drain and exit */
  | { do: 'term'; pid: number }
  /** SIGKILL, by us (its death is not a surprise) */
  | { do: 'kill'; pid: number }
  /** stop everything and exit with `status` */
  | { do: 'halt'; reason: string; status: number }
  /** call `manage` again after `ms` (a backoff ended) */
  | { do: 'wake'; ms: number }
  /** a worker failed to boot (a metric) */
  | { do: 'boot-failed' }
  | { do: 'log'; level: Level; message: string };

export interface WorkerRec {
  pid: number;
  /** start order: lower is older */
  age: number;
  state: WorkerState;
  /** to be replaced: holds no slot, drained once enough new workers are ready */
  retiring: boolean;
  spawnedAt: number;
  lastBeat: number;
  termSentAt: number | null;
  killedByUs: boolean;
}

const CRASH_WINDOW_MS = 60_000;
const CRASHES_BEFORE_BACKOFF = 10;
const MAX_BACKOFF_MS = 60_000;

export const backoffMs = (n: number) => Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (n - 1));

export class Pool {
  settings: PoolSettings;
  desired: number;
  readonly workers = new Map<number, WorkerRec>();
  stopping = false;
  #age = 0;
  #everReady = false;
  #bootFailuresInRow = 0;
  #crashTimes: number[] = [];
  #nextSpawnAt = 0;
  /**
   * Serving slots emptied by a death or a recycling and not refilled yet: the starts that fill
   * them are restarts (registry_worker_restarts_total). Never more than the slots missing, so a
   * slot given up (TTOU) is not refilled later as a "restart".
   */
  #replacementsOwed = 0;

  constructor(settings: PoolSettings) {
    this.settings = settings;
    this.desired = settings.workers;
  }

  /** The worker that `spawn` asked for is running as `pid`. */
  started(pid: number, t: number): void {
    this.workers.set(pid, {
      pid,
      age: ++this.#age,
      state: 'booting',
      retiring: false,
      spawnedAt: t,
      lastBeat: t,
      termSentAt: null,
      killedByUs: false,
    });
  }

  /** Any message from a worker proves it alive. */
  beat(pid: number, t: number): void {
    const w = this.workers.get(pid);
    if (w) w.lastBeat = t;
  }

  ready(pid: number, t: number): Decision[] {
    const w = this.workers.get(pid);
    if (!w || w.state !== 'booting') return [];
    w.state = 'ready';
    w.lastBeat = t;
    this.#everReady = true;
    this.#bootFailuresInRow = 0;
    const out: Decision[] = [];
    // a new worker is listening: the oldest replaced one may go now
    const replaced = this.#list()
      .filter((o) => o.retiring && o.state === 'ready')
      .sort((a, b) => a.age - b.age)[0];
    if (replaced) this.#drain(replaced, t, out);
    return [...out, ...this.manage(t)];
  }

  /** max_requests reached: replace it, new one first. */
  retire(pid: number, t: number): Decision[] {
    const w = this.workers.get(pid);
    if (!w || w.state !== 'ready' || w.retiring) return [];
    this.#retire(w);
    return this.manage(t);
  }

  /** HUP: replace every worker, new ones first; `workers` from the re-read configuration, if it could be read. */
  reload(t: number, workers?: number): Decision[] {
    if (this.stopping) return [];
    if (workers !== undefined) this.desired = workers;
    for (const w of this.workers.values()) this.#retire(w);
    return this.manage(t);
  }

  /** TTIN/TTOU: one more or one fewer (never fewer than 1). */
  resize(delta: number, t: number): Decision[] {
    if (this.desired + delta < 1) return [];
    this.desired += delta;
    return this.manage(t);
  }

  /** Every second: kill the stuck, then fill or trim the slots. */
  tick(t: number): Decision[] {
    return [...this.murder(t), ...this.manage(t)];
  }

  murder(t: number): Decision[] {
    const { timeout, boot_timeout: bootTimeout, graceful_timeout: grace } = this.settings;
    const out: Decision[] = [];
    const kill = (w: WorkerRec, level: Level, message: string) => {
      w.killedByUs = true;
      out.push({ do: 'log', level, message }, { do: 'kill', pid: w.pid });
    };
    for (const w of this.workers.values()) {
      if (w.killedByUs) continue;
      if (w.state === 'booting' && t - w.spawnedAt > bootTimeout * 1000) {
        kill(w, 'error', `Worker (pid:${w.pid}) did not boot within ${bootTimeout}s`);
      } else if (w.state === 'draining' && w.termSentAt !== null && t - w.termSentAt > grace * 1000 + 1000) {
        kill(w, 'warning', `Worker (pid:${w.pid}) overran graceful_timeout; killing it`);
      } else if (timeout > 0 && w.state !== 'booting' && t - w.lastBeat > timeout * 1000) {
        kill(w, 'critical', `WORKER TIMEOUT (pid:${w.pid})`);
      }
    }
    return out;
  }

  /** Keeps `desired` serving slots filled; drains extras and replaced workers. */
  manage(t: number): Decision[] {
    if (this.stopping) return [];
    const out: Decision[] = [];
    const live = this.#list();
    const slots = live.filter((w) => w.state !== 'draining' && !w.retiring);
    const missing = this.desired - slots.length;
    this.#replacementsOwed = Math.min(this.#replacementsOwed, Math.max(0, missing));
    if (missing > 0 && t >= this.#nextSpawnAt) {
      for (let i = 0; i < missing; i++) {
        const replacement = this.#replacementsOwed > 0;
        if (replacement) this.#replacementsOwed--;
        out.push({ do: 'spawn', replacement });
      }
    } else if (missing < 0) {
      // TTOU: the oldest go
      for (const w of slots.sort((a, b) => a.age - b.age).slice(0, -missing)) this.#drain(w, t, out);
    }
    // replaced workers go once enough fresh ones are listening
    const fresh = live.filter((w) => w.state === 'ready' && !w.retiring).length;
    if (fresh >= this.desired) {
      for (const w of live) if (w.retiring && w.state !== 'draining') this.#drain(w, t, out);
    }
    return out;
  }

  /** The process is gone (`signal` set when a signal ended it). */
  exited(pid: number, code: number | null, signal: string | null, t: number): Decision[] {
    const w = this.workers.get(pid);
    if (!w) return [];
    this.workers.delete(pid);
    const out: Decision[] = [];
    if (w.state === 'booting' && !this.stopping) out.push({ do: 'boot-failed' });
    // a worker holding a serving slot died (crash, kill, timeout, boot failure): a restart refills it
    if (!this.stopping && w.state !== 'draining' && !w.retiring) this.#replacementsOwed++;
    if (signal) {
      const unexpectedKill = signal === 'SIGKILL' && !w.killedByUs;
      const message = `Worker (pid:${pid}) was sent ${signal}!${unexpectedKill ? ' Perhaps out of memory?' : ''}`;
      out.push({ do: 'log', level: signal === 'SIGKILL' ? 'error' : signal === 'SIGTERM' ? 'info' : 'warning', message });
    } else if (code !== 0) {
      out.push({ do: 'log', level: 'error', message: `Worker (pid:${pid}) exited with code ${code}.` });
    }
    if (this.stopping) return out;
    if (w.state === 'booting') {
      if (!this.#everReady) return [...out, { do: 'halt', reason: 'Worker failed to boot.', status: EXIT_BOOT_FAILURE }];
      this.#bootFailuresInRow++;
      if (this.#bootFailuresInRow >= this.settings.max_boot_failures) {
        return [...out, { do: 'halt', reason: `${this.#bootFailuresInRow} workers in a row failed to boot.`, status: EXIT_BOOT_FAILURE }];
      }
      this.#backoff(this.#bootFailuresInRow, t, out);
    } else if (w.state !== 'draining') {
      // a crash after booting: replace it, backing off when crashes come in a burst
      this.#crashTimes = [...this.#crashTimes.filter((c) => t - c < CRASH_WINDOW_MS), t];
      if (this.#crashTimes.length > CRASHES_BEFORE_BACKOFF) this.#backoff(this.#crashTimes.length - CRASHES_BEFORE_BACKOFF, t, out);
    }
    return [...out, ...this.manage(t)];
  }

  /** Stopping (TERM, INT, QUIT, a halt): no more starts; every worker counts as draining. */
  stop(): number[] {
    this.stopping = true;
    for (const w of this.workers.values()) w.state = 'draining';
    return [...this.workers.keys()];
  }

  /** The workers that answer metrics scrapes (listening or draining). */
  serving(): number[] {
    return this.#list()
      .filter((w) => w.state !== 'booting')
      .map((w) => w.pid);
  }

  #list(): WorkerRec[] {
    return [...this.workers.values()];
  }

  #retire(w: WorkerRec): void {
    if (w.state === 'draining' || w.retiring) return;
    w.retiring = true;
    this.#replacementsOwed++;
  }

  #drain(w: WorkerRec, t: number, out: Decision[]): void {
    if (w.state === 'draining') return;
    w.state = 'draining';
    w.termSentAt = t;
    out.push({ do: 'term', pid: w.pid });
  }

  #backoff(n: number, t: number, out: Decision[]): void {
    const ms = backoffMs(n);
    this.#nextSpawnAt = t + ms;
    out.push({ do: 'log', level: 'warning', message: `Next worker start in ${(ms / 1000).toFixed(0)}s` }, { do: 'wake', ms: ms + 10 });
  }
}
