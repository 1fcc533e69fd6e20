/**
 * The supervisor's side of the metrics (names and meanings: registry.ts): its own worker
 * counts, and the scrape that collects every worker's registry and sums them.
 *
 * A scrape asks each listed worker for its registry (as JSON) and waits for the answers, at
 * most `timeoutMs`. Every answer is kept as that worker's latest values: a worker that does not
 * answer in time is summed with its previous values, and a worker that exits stays in the sums
 * with its last values (counters and histograms only; its gauges go). So the sums never go
 * down between two scrapes, whatever workers die, recycle or lag. A worker that stops normally
 * (recycling, reload, TTOU) sends its final registry first, so nothing it counted is lost; one
 * that dies (kill -9, crash) loses what it counted since the last scrape. Transport-free: the
 * caller sends the questions and hands the answers in.
 */
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import type { MetricsJson } from './registry.ts';

export interface WorkerCounts {
  /** worker processes alive */
  live: number;
  /** workers asked for */
  desired: number;
}

/** Keeps what a dead worker counted; drops its gauges, which described a process that is gone. */
const lasting = (json: MetricsJson): MetricsJson => json.filter((m) => String(m.type) !== 'gauge');

export class SupervisorMetrics {
  readonly registry = new Registry();
  readonly #restarts = new Counter({
    name: 'registry_worker_restarts_total',
    help: 'Workers started to replace one that died, failed to boot or was recycled (max_requests, reload)',
    registers: [this.registry],
  });
  readonly #bootFailures = new Counter({
    name: 'registry_worker_boot_failures_total',
    help: 'Workers that exited before listening',
    registers: [this.registry],
  });
  #seq = 0;
  /** scrape id → the workers not answered yet, and how to end the wait */
  readonly #waiting = new Map<number, { pending: Set<number>; done: () => void }>();
  /** each live worker's latest answer */
  readonly #last = new Map<number, MetricsJson>();
  /** the summed lasting metrics of the workers that exited */
  #departed: MetricsJson = [];
  /** folds of exited workers into #departed, in order */
  #folding: Promise<void> = Promise.resolve();

  constructor(
    counts: () => WorkerCounts,
    readonly timeoutMs = 1000,
  ) {
    new Gauge({
      name: 'registry_workers',
      help: 'Worker processes alive (booting, serving or draining)',
      registers: [this.registry],
      collect() {
        this.set(counts().live);
      },
    });
    new Gauge({
      name: 'registry_workers_desired',
      help: 'Workers asked for (configuration, TTIN/TTOU)',
      registers: [this.registry],
      collect() {
        this.set(counts().desired);
      },
    });
  }

  /** A worker was started; `replacement`: it takes the place of another (see registry.ts). */
  workerStarted(replacement: boolean): void {
    if (replacement) this.#restarts.inc();
  }

  /** A worker exited before listening. */
  bootFailed(): void {
    this.#bootFailures.inc();
  }

  /**
   * Collects the registries of `workers` by sending each a question with `ask(pid, id)` (false:
   * could not be sent), and returns the sum over all workers plus the supervisor's own metrics,
   * in the Prometheus text format.
   */
  async scrape(workers: number[], ask: (pid: number, id: number) => boolean): Promise<string> {
    const id = ++this.#seq;
    const pending = new Set<number>();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => done(), this.timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#waiting.delete(id);
        resolve();
      };
      this.#waiting.set(id, { pending, done });
      for (const pid of workers) if (ask(pid, id)) pending.add(pid);
      if (pending.size === 0) done();
    });
    const own = await this.registry.getMetricsAsJSON();
    await this.#settled();
    // from here on synchronous: #last and #departed are read in one consistent state
    const sum = AggregatorRegistry.aggregate([...this.#last.values(), this.#departed, own]);
    const late = pending.size > 0 ? `# registry: ${pending.size} of ${workers.length} workers did not answer within ${this.timeoutMs} ms; their previous values are used\n` : '';
    return late + (await sum.metrics());
  }

  /** A worker's answer to scrape `id`. */
  collected(pid: number, id: number, json: MetricsJson): void {
    if (Array.isArray(json)) this.#last.set(pid, json);
    this.#answered(pid, id);
  }

  /** A worker's final registry, sent as it exits: kept in the sums once it is gone. */
  final(pid: number, json: MetricsJson): void {
    if (Array.isArray(json)) this.#last.set(pid, json);
  }

  /** The worker exited: stop waiting for it, and keep what it counted. */
  gone(pid: number): void {
    for (const [id] of this.#waiting) this.#answered(pid, id);
    const last = this.#last.get(pid);
    if (!last) return;
    this.#last.delete(pid);
    this.#folding = this.#folding
      .then(async () => {
        this.#departed = await AggregatorRegistry.aggregate([this.#departed, lasting(last)]).getMetricsAsJSON();
      })
      .catch(() => {
        // malformed metrics from a worker: keep the sums we have
      });
  }

  #answered(pid: number, id: number): void {
    const wait = this.#waiting.get(id);
    if (!wait?.pending.delete(pid)) return;
    if (wait.pending.size === 0) wait.done();
  }

  /** Waits until every fold started so far, and any started meanwhile, is done. */
  async #settled(): Promise<void> {
    for (let f = this.#folding; ; f = this.#folding) {
      await f;
      if (f === this.#folding) return;
    }
  }
}
