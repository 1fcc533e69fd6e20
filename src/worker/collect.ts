/**
 * The garbage collection schedule (`gc_interval` > 0; services/gc.ts): every worker of every node
 * tries every interval, the lease in the metadata store lets one run at a time and the others
 * skip (said at debug level: with N workers, N − 1 skips per interval are normal). Each run is
 * logged (what it deleted, bytes, ms) and counted (metrics), and a worker's runs never overlap.
 */
import type { Config } from '../config/schema.ts';
import type { GarbageCollector, GcOutcome, GcReport } from '../services/gc.ts';

export interface CollectHooks {
  onInfo?: (message: string) => void;
  onDebug?: (message: string) => void;
  onError?: (message: string, fields: Record<string, unknown>) => void;
  /** every attempt's outcome (null: it failed) */
  onRun?: (outcome: GcOutcome | null) => void;
}

/** One log line for a run: items, bytes, time. */
function describeRun(r: GcReport): string {
  return (
    `Garbage collection by ${r.holder} started ${new Date(r.startedAt).toISOString()} deleted ${r.images.length} images, ${r.blobs.length} blobs, ${r.uploads.length} uploads, ` +
    `${r.keys.length} storage objects (${r.orphans} no row named), ${r.bytes} bytes freed, ${r.spared} spared, in ${r.durationMs} ms` +
    (r.aborted ? ' (aborted: lease lost)' : '')
  );
}

/**
 * Starts the periodic runs (none when gc_interval is 0). Returns what stops them: a run in
 * progress is told to stop at its next item and awaited, so it releases the lease (a worker
 * leaving mid-run would otherwise hold it, and keep every other collector out, until it expires).
 */
export function startCollecting(collector: GarbageCollector, config: Config, hooks: CollectHooks): () => Promise<void> {
  if (config.gc_interval <= 0) return async () => {};
  let running: Promise<void> | null = null;
  const stopping = new AbortController();
  const run = async () => {
    try {
      const outcome = await collector.collect({ grace: config.gc_grace, signal: stopping.signal });
      hooks.onRun?.(outcome);
      if (outcome.ran) hooks.onInfo?.(describeRun(outcome.report));
      else hooks.onDebug?.(`Garbage collection skipped: another collector (${outcome.holder}) holds the lease`);
    } catch (e) {
      hooks.onRun?.(null);
      hooks.onError?.('Garbage collection failed', { error: e instanceof Error ? e.message : String(e) });
    } finally {
      running = null;
    }
  };
  const timer = setInterval(() => {
    running ??= run();
  }, config.gc_interval * 1000);
  timer.unref();
  return async () => {
    clearInterval(timer);
    stopping.abort();
    await running;
  };
}
