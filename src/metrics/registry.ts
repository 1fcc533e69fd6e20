/**
 * (A little over 300 lines on purpose: every metric's definition and its help text in one place,
 * the one list operators read.)
 *
 * Prometheus metrics (`GET /metrics`, text format 0.0.4). Every worker process records its own
 * requests (`WorkerMetrics`, below); on each scrape the worker
 * that got the request asks the supervisor, which collects every worker's registry over IPC,
 * sums them (prom-client's `AggregatorRegistry.aggregate`) and adds its own metrics
 * (src/metrics/supervisor.ts), so whichever worker answers, the text covers the whole server.
 *
 * Worker metrics (summed over workers):
 * - `registry_http_requests_total{method,route,status}` counter: requests answered.
 * - `registry_http_request_duration_seconds{method,route}` histogram: time from the request to
 *   its response (for a download, until the body starts to flow), buckets 1 ms … 60 s.
 * - `registry_http_request_bytes_total{method,route}` counter: request body bytes, from
 *   Content-Length; a chunked body (no Content-Length) is counted as the app reads it.
 * - `registry_http_response_bytes_total{method,route}` counter: response body bytes, from the
 *   response's Content-Length (nothing for HEAD, 204 and 304, or a reply without the header).
 * - `registry_uploads_in_progress` gauge: layer uploads (`PUT /v1/images/{id}/layer`) whose
 *   response is not produced yet, i.e. being received.
 * - `registry_storage_operation_duration_seconds{driver,operation,outcome}` histogram: every call
 *   into the storage driver (timed by the driver base, src/storage/base.ts; for a read, until the
 *   stream is handed back), outcome `ok` or `error`.
 * - `registry_gc_runs_total{outcome}` counter: scheduled garbage collections (gc_interval) by
 *   outcome: `ran`, `skipped` (another collector held the lease), `failed`.
 * - `registry_gc_deleted_total{kind}` counter: what those runs deleted, by kind (`images`,
 *   `blobs`, `uploads`, `objects`: storage objects, leftovers included).
 * - `registry_gc_freed_bytes_total` counter: the bytes they freed.
 * - `registry_gc_duration_seconds` histogram: how long the runs that ran took.
 * Supervisor metrics:
 * - `registry_workers` gauge: worker processes alive (booting, serving or draining).
 * - `registry_workers_desired` gauge: the number of workers asked for (config, TTIN/TTOU).
 * - `registry_worker_restarts_total` counter: workers started to take the place of another:
 *   one that died (crash, kill -9, killed for a timeout, failed to boot) or was recycled
 *   (max_requests, HUP reload). Starting the first workers and growing the pool are not restarts.
 * - `registry_worker_boot_failures_total` counter: workers that exited before listening.
 *
 * Labels stay bounded: `route` is a route template such as `/v1/images/{id}/layer`, or `other`
 * for any path no route serves; `method` is a standard method or `other` (route-label.ts).
 * Scrapes of `/metrics` are not counted: the registry_http_* series describe the registry API
 * (Prometheus records its own scrape duration and success).
 *
 * Counts live in worker memory. When a worker exits, the supervisor keeps its counters and
 * histograms, so the sums never go down while the supervisor lives (no false counter resets at
 * every recycle or reload). A worker that stops normally (max_requests, reload, TTOU) hands its
 * final counts over first; one that dies (kill -9, crash) loses what it counted since the last
 * scrape. Gauges of a gone worker are dropped. A supervisor restart resets everything, which
 * Prometheus' rate() and increase() handle as a counter reset.
 */
import type { MetricValue, MetricValueWithName, Registry } from 'prom-client';
import type { CallHook } from '../storage/base.ts';
import type { GcReport } from '../services/gc.ts';
import { methodLabel, routeLabel } from './route-label.ts';

/** A registry as JSON (`Registry.getMetricsAsJSON()`), the form that travels over IPC. */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** The Content-Type of the Prometheus text format (prom-client's `Registry.PROMETHEUS_CONTENT_TYPE`). */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Seconds: from a cached ping to a multi-gigabyte layer over a slow link. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** the route whose requests are layer uploads */
export const LAYER_UPLOAD_ROUTE = '/v1/images/{id}/layer';

/** Ends the measurement of one request: with its response, or null when the handler threw. */
export type FinishRequest = (response: Response | null) => void;

/**
 * Counts kept as plain numbers, keyed by label values: recording a request is a few Map lookups
 * and additions. (prom-client's own Counter/Histogram validate and hash their label objects on
 * every call, a large share of a `_ping`'s CPU, and loading prom-client makes every worker
 * bigger; bench/README.md has the figures.) A worker hands its counts over as the JSON prom-client's `getMetricsAsJSON()`
 * produces; the supervisor sums them with prom-client (src/metrics/supervisor.ts).
 */
class Series<V> {
  readonly #byKey = new Map<string, { labels: Record<string, string>; value: V }>();
  constructor(
    readonly labelNames: readonly string[],
    readonly init: () => V,
  ) {}
  /** The entry for these label values (in `labelNames` order), created on first use. */
  at(...values: string[]): V {
    const key = values.join('\u0000');
    let entry = this.#byKey.get(key);
    if (entry === undefined) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((name, i) => (labels[name] = values[i]!));
      entry = { labels, value: this.init() };
      this.#byKey.set(key, entry);
    }
    return entry.value;
  }
  entries() {
    return this.#byKey.values();
  }
}

interface Cell {
  n: number;
}

interface HistogramCell {
  /** observations per bucket (not cumulative); the last slot counts those above every bound */
  buckets: Float64Array;
  sum: number;
  count: number;
}

type MetricJson = MetricsJson[number];

function counterJson(name: string, help: string, series: Series<Cell>): MetricJson {
  const values: MetricValue<string>[] = [...series.entries()].map(({ labels, value }) => ({ labels: { ...labels }, value: value.n }));
  return { name, help, type: 'counter', aggregator: 'sum', values } as unknown as MetricJson;
}

function histogramJson(name: string, help: string, bounds: readonly number[], series: Series<HistogramCell>): MetricJson {
  const values: MetricValueWithName<string>[] = [];
  for (const { labels, value } of series.entries()) {
    let cumulative = 0;
    bounds.forEach((le, i) => {
      cumulative += value.buckets[i]!;
      values.push({ labels: { le, ...labels } as never, value: cumulative, metricName: `${name}_bucket` });
    });
    values.push({ labels: { le: '+Inf', ...labels }, value: value.count, metricName: `${name}_bucket` });
    values.push({ labels: { ...labels }, value: value.sum, metricName: `${name}_sum` });
    values.push({ labels: { ...labels }, value: value.count, metricName: `${name}_count` });
  }
  return { name, help, type: 'histogram', aggregator: 'sum', values } as unknown as MetricJson;
}

/** Counts one observation of `seconds` into a histogram cell (buckets of DURATION_BUCKETS). */
function observe(h: HistogramCell, seconds: number): void {
  let i = 0;
  while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
  h.buckets[i]!++;
  h.sum += seconds;
  h.count++;
}

/** Remembered slots of recent request paths (a pull asks for the same few paths again and again). */
const ROUTE_CACHE_SIZE = 4096;

/** The cells one (method, route) pair counts into, found once per distinct path. */
interface Slot {
  method: string;
  route: string;
  duration: HistogramCell;
  /** created on the first counted byte (no zero series for routes that never send a body) */
  bytesOut: Cell | null;
  byStatus: Map<number, Cell>;
}

/** One worker's metrics. */
export class WorkerMetrics {
  readonly #requests = new Series<Cell>(['method', 'route', 'status'], () => ({ n: 0 }));
  readonly #duration = new Series<HistogramCell>(['method', 'route'], () => ({
    buckets: new Float64Array(DURATION_BUCKETS.length + 1),
    sum: 0,
    count: 0,
  }));
  readonly #bytesIn = new Series<Cell>(['method', 'route'], () => ({ n: 0 }));
  readonly #bytesOut = new Series<Cell>(['method', 'route'], () => ({ n: 0 }));
  #uploads = 0;
  readonly #slots = new Map<string, Slot>();
  readonly #storage = new Series<HistogramCell>(['driver', 'operation', 'outcome'], () => ({
    buckets: new Float64Array(DURATION_BUCKETS.length + 1),
    sum: 0,
    count: 0,
  }));

  readonly #gcRuns = new Series<Cell>(['outcome'], () => ({ n: 0 }));
  readonly #gcDeleted = new Series<Cell>(['kind'], () => ({ n: 0 }));
  readonly #gcBytes = new Series<Cell>([], () => ({ n: 0 }));
  readonly #gcDuration = new Series<HistogramCell>([], () => ({
    buckets: new Float64Array(DURATION_BUCKETS.length + 1),
    sum: 0,
    count: 0,
  }));

  /** One scheduled garbage collection: its outcome and, when it ran, what it deleted. */
  gcRun(outcome: 'ran' | 'skipped' | 'failed', report?: GcReport): void {
    this.#gcRuns.at(outcome).n++;
    if (!report) return;
    const counts = { images: report.images.length, blobs: report.blobs.length, uploads: report.uploads.length, objects: report.keys.length };
    for (const [kind, n] of Object.entries(counts)) this.#gcDeleted.at(kind).n += n;
    this.#gcBytes.at().n += report.bytes;
    observe(this.#gcDuration.at(), report.durationMs / 1000);
  }

  /** The storage driver base's call hook (src/storage/base.ts): one observation per call. */
  readonly storageCall: CallHook = (driver, op, seconds, ok) => {
    observe(this.#storage.at(driver, op, ok ? 'ok' : 'error'), seconds);
  };

  #slot(rawMethod: string, pathname: string): Slot {
    const key = `${rawMethod} ${pathname}`;
    let slot = this.#slots.get(key);
    if (slot === undefined) {
      const method = methodLabel(rawMethod);
      const route = routeLabel(rawMethod, pathname);
      slot = {
        method,
        route,
        duration: this.#duration.at(method, route),
        bytesOut: null,
        byStatus: new Map(),
      };
      if (this.#slots.size >= ROUTE_CACHE_SIZE) this.#slots.clear();
      this.#slots.set(key, slot);
    }
    return slot;
  }

  /**
   * Starts measuring `request` (whose URL path is `pathname`). Returns the request to hand to
   * the app (the same one, or for a chunked body a copy whose body counts the bytes read) and
   * the function to call once the response is produced.
   */
  begin(request: Request, pathname: string): { request: Request; finish: FinishRequest } {
    const started = performance.now();
    const slot = this.#slot(request.method, pathname);
    const { method, route } = slot;
    const bodiless = request.method === 'GET' || request.method === 'HEAD';
    if (!bodiless) {
      const declared = request.headers.get('content-length');
      if (declared !== null && !request.headers.has('transfer-encoding')) {
        const n = Number(declared);
        if (Number.isSafeInteger(n) && n > 0) this.#bytesIn.at(method, route).n += n;
      } else if (request.body) {
        const bytesIn = this.#bytesIn.at(method, route);
        const counter = new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            bytesIn.n += chunk.byteLength;
            controller.enqueue(chunk);
          },
        });
        request = new Request(request, { body: request.body.pipeThrough(counter) });
      }
    }
    const upload = request.method === 'PUT' && route === LAYER_UPLOAD_ROUTE;
    if (upload) this.#uploads++;
    let finished = false;
    const finish: FinishRequest = (response) => {
      if (finished) return;
      finished = true;
      if (upload) this.#uploads--;
      const status = response?.status ?? 500;
      let count = slot.byStatus.get(status);
      if (count === undefined) {
        count = this.#requests.at(method, route, String(status));
        slot.byStatus.set(status, count);
      }
      count.n++;
      observe(slot.duration, (performance.now() - started) / 1000);
      if (request.method === 'HEAD' || status === 204 || status === 304 || !response) return;
      const length = Number(response.headers.get('content-length') ?? 0);
      if (Number.isSafeInteger(length) && length > 0) (slot.bytesOut ??= this.#bytesOut.at(method, route)).n += length;
    };
    return { request, finish };
  }

  /** Everything counted so far, as prom-client's `Registry.getMetricsAsJSON()` would give it. */
  json(): MetricsJson {
    return [
      counterJson('registry_http_requests_total', 'HTTP requests answered, by method, route template and status', this.#requests),
      histogramJson(
        'registry_http_request_duration_seconds',
        'Time to produce a response (for a download, until its body starts), by method and route template',
        DURATION_BUCKETS,
        this.#duration,
      ),
      counterJson(
        'registry_http_request_bytes_total',
        'Request body bytes (Content-Length, or the bytes read of a chunked body), by method and route template',
        this.#bytesIn,
      ),
      counterJson('registry_http_response_bytes_total', 'Response body bytes (from Content-Length), by method and route template', this.#bytesOut),
      histogramJson(
        'registry_storage_operation_duration_seconds',
        'Time of a storage driver call (for a read, until the stream is handed back), by driver, operation and outcome',
        DURATION_BUCKETS,
        this.#storage,
      ),
      counterJson('registry_gc_runs_total', 'Scheduled garbage collections, by outcome (ran, skipped: another collector held the lease, failed)', this.#gcRuns),
      counterJson('registry_gc_deleted_total', 'What scheduled garbage collections deleted, by kind (images, blobs, uploads, objects)', this.#gcDeleted),
      counterJson('registry_gc_freed_bytes_total', 'Bytes freed by scheduled garbage collections', this.#gcBytes),
      histogramJson('registry_gc_duration_seconds', 'Time of the scheduled garbage collections that ran', DURATION_BUCKETS, this.#gcDuration),
      {
        name: 'registry_uploads_in_progress',
        help: 'Layer uploads being received',
        type: 'gauge',
        aggregator: 'sum',
        values: [{ value: this.#uploads, labels: {} }],
      } as unknown as MetricJson,
    ];
  }

  /** This worker's metrics in the text format (prom-client loaded only now: a rare path). */
  async text(): Promise<string> {
    const { AggregatorRegistry } = await import('prom-client');
    return AggregatorRegistry.aggregate([this.json()]).metrics();
  }

  /** This worker's metrics alone, in the text format, after a `# ` comment line saying why. */
  async ownText(why: string): Promise<string> {
    return `# ${why}\n${await this.text()}`;
  }
}
