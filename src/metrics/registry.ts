/**
 * Prometheus metrics (`GET /metrics`, text format 0.0.4). Every worker process records its own
 * requests in its own prom-client Registry (`WorkerMetrics`, below); on each scrape the worker
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
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { methodLabel, routeLabel } from './route-label.ts';

/** A registry as JSON (`Registry.getMetricsAsJSON()`), the form that travels over IPC. */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** The Content-Type of the Prometheus text format. */
export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

/** Seconds: from a cached ping to a multi-gigabyte layer over a slow link. */
export const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** the route whose requests are layer uploads */
export const LAYER_UPLOAD_ROUTE = '/v1/images/{id}/layer';

/** Ends the measurement of one request: with its response, or null when the handler threw. */
export type FinishRequest = (response: Response | null) => void;

/** One worker's metrics. */
export class WorkerMetrics {
  readonly registry = new Registry();
  readonly #requests = new Counter({
    name: 'registry_http_requests_total',
    help: 'HTTP requests answered, by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly #duration = new Histogram({
    name: 'registry_http_request_duration_seconds',
    help: 'Time to produce a response (for a download, until its body starts), by method and route template',
    labelNames: ['method', 'route'] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly #bytesIn = new Counter({
    name: 'registry_http_request_bytes_total',
    help: 'Request body bytes (Content-Length, or the bytes read of a chunked body), by method and route template',
    labelNames: ['method', 'route'] as const,
    registers: [this.registry],
  });
  readonly #bytesOut = new Counter({
    name: 'registry_http_response_bytes_total',
    help: 'Response body bytes (from Content-Length), by method and route template',
    labelNames: ['method', 'route'] as const,
    registers: [this.registry],
  });
  readonly #uploads = new Gauge({
    name: 'registry_uploads_in_progress',
    help: 'Layer uploads being received',
    registers: [this.registry],
  });

  /**
   * Starts measuring `request` (whose URL path is `pathname`). Returns the request to hand to
   * the app (the same one, or for a chunked body a copy whose body counts the bytes read) and
   * the function to call once the response is produced.
   */
  begin(request: Request, pathname: string): { request: Request; finish: FinishRequest } {
    const started = performance.now();
    const method = methodLabel(request.method);
    const route = routeLabel(request.method, pathname);
    const bytesIn = this.#bytesIn.labels(method, route);
    const declared = request.headers.has('transfer-encoding') ? null : request.headers.get('content-length');
    if (declared !== null) {
      const n = Number(declared);
      if (Number.isSafeInteger(n) && n > 0) bytesIn.inc(n);
    } else if (request.body) {
      const counter = new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          bytesIn.inc(chunk.byteLength);
          controller.enqueue(chunk);
        },
      });
      request = new Request(request, { body: request.body.pipeThrough(counter) });
    }
    const upload = request.method === 'PUT' && route === LAYER_UPLOAD_ROUTE;
    if (upload) this.#uploads.inc();
    let finished = false;
    const finish: FinishRequest = (response) => {
      if (finished) return;
      finished = true;
      if (upload) this.#uploads.dec();
      const status = response?.status ?? 500;
      this.#requests.inc({ method, route, status: String(status) });
      this.#duration.observe({ method, route }, (performance.now() - started) / 1000);
      const length = Number(response?.headers.get('content-length') ?? 0);
      const bodiless = request.method === 'HEAD' || status === 204 || status === 304;
      if (!bodiless && Number.isSafeInteger(length) && length > 0) this.#bytesOut.inc({ method, route }, length);
    };
    return { request, finish };
  }

  /** This worker's metrics alone, in the text format, after a `# ` comment line saying why. */
  async ownText(why: string): Promise<string> {
    return `# ${why}\n${await this.registry.metrics()}`;
  }
}
