/**
 * A worker process, started by the supervisor (never on its own). It registers its IPC and
 * signal handlers before anything slow, boots the server on the shared port with reusePort,
 * reports `ready`, purges abandoned temp uploads (at boot, then every upload_purge_interval),
 * heartbeats, counts requests for max_requests, writes the access log, records request metrics
 * and answers `GET /metrics` with the sum over all workers (asked of the supervisor;
 * src/metrics/registry.ts), and stops the way gunicorn workers do:
 * - TERM: stop accepting, finish in-flight requests (uploads too) for up to graceful_timeout,
 *   then force-close, exit 0;
 * - INT, QUIT: force-close at once, exit 0;
 * - the supervisor gone (IPC disconnect, or a changed parent pid): stop accepting at once and
 *   exit within 2 s, so no orphan keeps serving the port;
 * - HUP, USR2, WINCH: ignored; USR1: reopen log files.
 * A failure before the server listens exits with code 3 (boot failure).
 */
import type { Server } from 'bun';
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { accessLine, Logger } from '../log/logger.ts';
import { Replies } from '../metrics/client.ts';
import { METRICS_CONTENT_TYPE, WorkerMetrics } from '../metrics/registry.ts';
import { EXIT_BOOT_FAILURE, WORKER_ENV, type MasterMessage, type WorkerMessage } from '../ipc/protocol.ts';
import { badTargetReply, requestUrl } from '../http/app.ts';
import { Drain } from './drain.ts';
import { startServer, type RunningServer } from './serve.ts';

const PARENT_GONE_GRACE_MS = 1500;

export async function runWorker(): Promise<void> {
  const parentPid = process.ppid;
  let running: RunningServer | null = null;
  let logger: Logger | null = null;
  let stopping = false;
  let config: Config | null = null;

  const metrics = new WorkerMetrics();
  const drain = new Drain();
  /** answers to `metrics?` (the sums over all workers) */
  const sums = new Replies<string>(2000);
  /** answers to `last` */
  const kept = new Replies<true>(500);

  /** false when the message could not be sent (a false from process.send only means a backlog) */
  const send = (m: WorkerMessage): boolean => {
    if (!process.send || process.connected === false) return false;
    try {
      process.send(m);
      return true;
    } catch {
      // the channel is gone: the disconnect handler takes over
      return false;
    }
  };
  const onMessage = (m: MasterMessage) => {
    if (m?.t === 'collect') {
      send({ t: 'collected', id: m.id, json: metrics.json() });
    } else if (m?.t === 'metrics') {
      sums.answer(m.id, m.text);
    } else if (m?.t === 'kept') {
      kept.answer(m.id, true);
    }
  };
  /** GET /metrics: the sum over all workers, or this worker's own when the supervisor is silent */
  const metricsResponse = async () => {
    const text =
      (await sums.request((id) => send({ t: 'metrics?', id }))) ??
      (await metrics.ownText(`registry: the sum over workers is unavailable (no answer from the supervisor); metrics of worker ${process.pid} only`));
    return new Response(text, { headers: { 'content-type': METRICS_CONTENT_TYPE } });
  };

  const exit = (code: number) => {
    logger?.info(`Worker exiting (pid: ${process.pid})`);
    process.exit(code);
  };
  /**
   * Hands the final counts to the supervisor, which keeps them in the sums once this worker is
   * gone (else what it counted since the last scrape would be lost); waits for the
   * acknowledgement, at most 500 ms.
   */
  const handOver = async () => {
    const json = metrics.json();
    await kept.request((id) => send({ t: 'last', id, json }));
  };

  /** Stops accepting, gives in-flight requests `graceMs`, then force-closes and exits. */
  const stop = async (graceMs: number) => {
    if (stopping) return;
    stopping = true;
    if (!running) exit(0);
    const deadline = performance.now() + graceMs;
    // kept-alive connections are told to close before the server closes the idle ones (drain.ts)
    await drain.window(() => running!.server.pendingRequests, graceMs);
    const graceful = running!.stop(false);
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), Math.max(0, deadline - performance.now())));
    if ((await Promise.race([graceful.then(() => 'done' as const), timer])) === 'timeout') {
      logger?.warning(`Worker graceful timeout (pid:${process.pid})`);
      await running!.stop(true).catch(() => {});
    }
    await handOver();
    exit(0);
  };
  const quick = () => {
    stopping = true;
    void (running?.stop(true) ?? Promise.resolve())
      .catch(() => {})
      .then(handOver)
      .finally(() => exit(0));
  };
  const parentGone = () => {
    logger?.info('Parent changed, shutting down');
    void stop(Math.min(PARENT_GONE_GRACE_MS, (config?.graceful_timeout ?? 30) * 1000));
  };

  // 1. handlers first: a signal or the master's death during boot must not be missed
  process.on('SIGTERM', () => void stop((config?.graceful_timeout ?? 30) * 1000));
  process.on('SIGINT', quick);
  process.on('SIGQUIT', quick);
  process.on('SIGUSR1', () => logger?.reopen());
  for (const sig of ['SIGHUP', 'SIGUSR2', 'SIGWINCH'] as const) process.on(sig, () => {});
  process.on('disconnect', parentGone);
  process.on('message', onMessage);

  // 2. boot
  let maxRequests = 0;
  let nr = 0;
  let retired = false;
  try {
    config = loadConfig();
    logger = new Logger(config);
    maxRequests = Number(process.env[WORKER_ENV.maxRequests] ?? 0) || 0;
    const log = logger;
    running = await startServer(config, {
      reusePort: true,
      onError: (message, fields) => log.error(`${message} ${JSON.stringify(fields)}`),
      onInfo: (message) => log.info(message),
      metrics: metricsResponse,
      wrap: (route) => async (request: Request, server: Server<undefined>) => {
        const started = performance.now();
        drain.seen(started);
        nr++;
        const url = requestUrl(request);
        if (!url) return drain.mark(badTargetReply(request));
        let response: Response;
        if (url.pathname === '/metrics' && request.method === 'GET') {
          // scrapes are not counted in the request metrics (the app's route calls metricsResponse)
          response = await route(request, url);
        } else {
          const measured = metrics.begin(request, url.pathname);
          try {
            response = await route(measured.request, url);
          } catch (e) {
            measured.finish(null);
            throw e;
          }
          measured.finish(response);
        }
        if (log.accessEnabled) {
          log.access(
            accessLine({
              remote: server.requestIP(request)?.address ?? '-',
              method: request.method,
              path: url.pathname + url.search,
              status: response.status,
              bytes: response.headers.has('content-length') ? Number(response.headers.get('content-length')) : null,
              durationMs: performance.now() - started,
              dockerSize: response.headers.get('x-docker-size'),
              userAgent: request.headers.get('user-agent'),
            }),
          );
        }
        if (maxRequests > 0 && nr >= maxRequests && !retired) {
          retired = true;
          log.info('Autorestarting worker after current request.');
          send({ t: 'retire', reason: `max_requests (${maxRequests})` });
        }
        return drain.mark(response);
      },
    });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (logger) logger.error(`Exception in worker process: ${message}`);
    else console.error(`Exception in worker process: ${message}`);
    process.exit(EXIT_BOOT_FAILURE);
  }
  if (stopping) return;
  logger.info(`Booting worker with pid: ${process.pid}`);
  send({ t: 'ready', port: running.server.port ?? config.port });

  // 3. heartbeat (and the parent check, which the disconnect event normally beats)
  const beatEvery = config.timeout > 0 ? Math.max(1, config.timeout / 2) * 1000 : 5000;
  let lastBeat = 0;
  setInterval(() => {
    if (process.ppid !== parentPid) return parentGone();
    const now = performance.now();
    if (now - lastBeat < beatEvery - 50) return;
    lastBeat = now;
    send({ t: 'hb' });
  }, 1000);
}
