/** The garbage collection schedule (src/worker/collect.ts): runs every interval, never two at once, and a stop ends the run in progress before it returns. */
import { expect, test } from 'bun:test';
import { loadConfig } from '../../src/config/load.ts';
import type { GarbageCollector, GcOptions, GcOutcome } from '../../src/services/gc.ts';
import { startCollecting } from '../../src/worker/collect.ts';

test('every interval one run at a time; stop aborts the run in progress and waits for it', async () => {
  const calls: GcOptions[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let finished = 0;
  const collector = {
    async collect(options: GcOptions): Promise<GcOutcome> {
      calls.push(options);
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      // a long run: until stopped
      await new Promise<void>((resolve) => options.signal!.addEventListener('abort', () => resolve(), { once: true }));
      inFlight--;
      finished++;
      return { ran: false, holder: 'x', expiresAt: 0 };
    },
  } as unknown as GarbageCollector;
  const skipped: string[] = [];
  const stop = startCollecting(collector, loadConfig({ env: {}, overrides: { gc_interval: 1, gc_grace: 7 } }), { onDebug: (m) => skipped.push(m) });
  await Bun.sleep(2600);
  // the first run still goes on: no second one started beside it
  expect(calls).toHaveLength(1);
  expect(calls[0]!.grace).toBe(7);
  expect(maxInFlight).toBe(1);
  await stop();
  expect(finished).toBe(1);
  expect(calls[0]!.signal!.aborted).toBe(true);
  expect(skipped).toEqual(['Garbage collection skipped: another collector (x) holds the lease']);
});

test('gc_interval 0: no schedule', async () => {
  let called = false;
  const collector = { collect: async () => ((called = true), { ran: false, holder: '', expiresAt: 0 }) } as unknown as GarbageCollector;
  const stop = startCollecting(collector, loadConfig({ env: {}, overrides: { gc_interval: 0 } }), {});
  await Bun.sleep(50);
  await stop();
  expect(called).toBe(false);
});
