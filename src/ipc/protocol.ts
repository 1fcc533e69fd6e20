/**
 * Messages between the supervisor and its workers over Bun's IPC channel (JSON), and what else the
 * two sides agree on (environment, exit codes). Both import it; it imports nothing at run time.
 */
import type { MetricsJson } from '../metrics/registry.ts';

export type WorkerMessage =
  /** the server is bound and listening */
  | { t: 'ready'; port: number }
  /** liveness, every max(1, timeout/2) seconds (any message counts as one) */
  | { t: 'hb' }
  /** max_requests reached: replace me (I keep serving until told to stop) */
  | { t: 'retire'; reason: string }
  /** GET /metrics came in: send me the metrics of all workers (answered with `metrics`) */
  | { t: 'metrics?'; id: number }
  /** the answer to `collect`: this worker's registry */
  | { t: 'collected'; id: number; json: MetricsJson }
  /** I am exiting (no request in flight any more): my final registry (answered with `kept`) */
  | { t: 'last'; id: number; json: MetricsJson };

export type MasterMessage =
  /** send me your registry (answered with `collected`, same id) */
  | { t: 'collect'; id: number }
  /** the answer to `metrics?`: all workers' metrics summed, plus the supervisor's, as text */
  | { t: 'metrics'; id: number; text: string }
  /** the answer to `last`: your counts are kept, you may exit */
  | { t: 'kept'; id: number };

/** Environment variables the supervisor sets for its workers. */
export const WORKER_ENV = {
  /** the port every worker binds (resolved by the supervisor, so port 0 means one port) */
  port: 'REGISTRY_PORT',
  /** this worker's request limit, jitter already applied (0: none) */
  maxRequests: 'REGISTRY_WORKER_MAX_REQUESTS',
} as const;

/** a worker that fails before it listens exits with this; the supervisor halts with it too */
export const EXIT_BOOT_FAILURE = 3;
