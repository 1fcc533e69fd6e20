/**
 * A worker process, started by the supervisor (never on its own). It registers its IPC and
 * signal handlers before anything slow, boots the server on the shared port with reusePort,
 * reports `ready`, heartbeats, and stops the way gunicorn workers do:
 * - TERM: stop taking requests on kept-alive connections without resetting them (drain.ts), finish
 *   in-flight requests (uploads too) for up to graceful_timeout, then force-close, exit 0;
 * - INT, QUIT: force-close at once, exit 0;
 * - the supervisor gone (IPC disconnect, or a changed parent pid): stop the same way but within
 *   1.5 s, so no orphan keeps serving the port;
 * - HUP, USR2, WINCH: ignored; USR1: reopen log files.
 * A failure before the server listens exits with code 3 (boot failure). What each request goes
 * through is in request.ts, the IPC end in channel.ts, the decisions in policy.ts.
 */
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { EXIT_BOOT_FAILURE, WORKER_ENV, type MasterMessage } from '../ipc/protocol.ts';
import { Logger } from '../log/logger.ts';
import { WorkerMetrics } from '../metrics/registry.ts';
import { Channel } from './channel.ts';
import { Drain } from './drain.ts';
import { HeartbeatClock, RequestLimit, stopGraceMs } from './policy.ts';
import { wrapRoute } from './request.ts';
import { startServer, type RunningServer } from './serve.ts';

export async function runWorker(): Promise<void> {
  const parentPid = process.ppid;
  let running: RunningServer | null = null;
  let logger: Logger | null = null;
  let stopping = false;
  let config: Config | null = null;
  const channel = new Channel(new WorkerMetrics());
  const drain = new Drain();
  const graceS = () => config?.graceful_timeout ?? 30;

  const exit = (code: number) => {
    logger?.info(`Worker exiting (pid: ${process.pid})`);
    // buffered access lines are written by the logger's exit hook
    process.exit(code);
  };

  /** Drains, gives in-flight requests `graceMs` in all, then force-closes and exits. */
  const stop = async (graceMs: number) => {
    if (stopping) return;
    stopping = true;
    if (!running) return exit(0);
    const server = running;
    const deadline = performance.now() + graceMs;
    // kept-alive connections are told to close before the server closes the idle ones (drain.ts)
    await drain.window(() => server.server.pendingRequests, graceMs);
    const graceful = server.stop(false);
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), Math.max(0, deadline - performance.now())));
    if ((await Promise.race([graceful.then(() => 'done' as const), timer])) === 'timeout') {
      logger?.warning(`Worker graceful timeout (pid:${process.pid})`);
      await server.stop(true).catch(() => {});
    }
    await channel.handOver();
    exit(0);
  };
  const quick = () => {
    stopping = true;
    void (running?.stop(true) ?? Promise.resolve())
      .catch(() => {})
      .then(() => channel.handOver())
      .finally(() => exit(0));
  };
  const parentGone = () => {
    logger?.info('Parent changed, shutting down');
    void stop(stopGraceMs('parent-gone', graceS()));
  };

  // 1. handlers first: a signal or the master's death during boot must not be missed
  process.on('SIGTERM', () => void stop(stopGraceMs('term', graceS())));
  process.on('SIGINT', quick);
  process.on('SIGQUIT', quick);
  process.on('SIGUSR1', () => logger?.reopen());
  for (const sig of ['SIGHUP', 'SIGUSR2', 'SIGWINCH'] as const) process.on(sig, () => {});
  process.on('disconnect', parentGone);
  process.on('message', (m: MasterMessage) => channel.onMessage(m));

  // 2. boot
  try {
    config = loadConfig();
    logger = new Logger(config);
    const log = logger;
    const limit = new RequestLimit(Number(process.env[WORKER_ENV.maxRequests] ?? 0) || 0);
    running = await startServer(config, {
      reusePort: true,
      onError: (message, fields) => log.error(`${message} ${JSON.stringify(fields)}`),
      onInfo: (message) => log.info(message),
      onDebug: (message) => log.debug(message),
      onGc: (outcome) => channel.metrics.gcRun(outcome === null ? 'failed' : outcome.ran ? 'ran' : 'skipped', outcome?.ran ? outcome.report : undefined),
      metrics: () => channel.metricsResponse(),
      onStorageCall: channel.metrics.storageCall,
      wrap: wrapRoute({
        log,
        metrics: channel.metrics,
        drain,
        limit,
        onLimit: () => {
          log.info('Autorestarting worker after current request.');
          channel.send({ t: 'retire', reason: `max_requests (${limit.max})` });
        },
      }),
    });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (logger) logger.error(`Exception in worker process: ${message}`);
    else console.error(`Exception in worker process: ${message}`);
    process.exit(EXIT_BOOT_FAILURE);
  }
  if (stopping) return;
  logger.info(`Booting worker with pid: ${process.pid}`);
  channel.send({ t: 'ready', port: running.server.port ?? config.port });

  // 3. heartbeat (and the parent check, which the disconnect event normally beats)
  const beats = new HeartbeatClock(config.timeout);
  setInterval(() => {
    if (process.ppid !== parentPid) return parentGone();
    if (beats.due(performance.now())) channel.send({ t: 'hb' });
  }, 1000);
}
