/**
 * Which registry the client-compatibility tests (test/e2e/skopeo.test.ts,
 * test/e2e/oci-conformance.test.ts) run against, chosen by `REGISTRY_COMPAT_TARGET`:
 *  - `registry` (the default): this registry, its real supervisor (test/helpers/supervisor.ts);
 *  - `distribution`: the reference V2 registry, distribution 2.8 (dev/distribution.ts), to prove
 *    that the harness itself is right: a test that fails against distribution is the test's fault.
 */
import { startDistribution } from '../../dev/distribution.ts';
import { startSupervisor } from './supervisor.ts';

export type CompatTarget = 'registry' | 'distribution';

export const COMPAT_TARGET: CompatTarget = (() => {
  const v = process.env.REGISTRY_COMPAT_TARGET ?? 'registry';
  if (v !== 'registry' && v !== 'distribution') throw new Error(`REGISTRY_COMPAT_TARGET must be registry or distribution, not ${v}`);
  return v;
})();

export interface RunningTarget {
  /** e.g. `http://127.0.0.1:41234` */
  url: string;
  /** `127.0.0.1:41234`, for image references */
  host: string;
  /** what was started, for the test log */
  describe: string;
  stop(): Promise<void>;
}

/**
 * One node in open mode: our supervisor with its defaults (fs + SQLite under a temp
 * STORAGE_PATH, 2 workers), or distribution on filesystem storage in a temp dir.
 */
export async function startOpenTarget(): Promise<RunningTarget> {
  if (COMPAT_TARGET === 'distribution') {
    const d = await startDistribution();
    return { url: d.url, host: `127.0.0.1:${d.port}`, describe: `distribution 2.8 at ${d.url} (filesystem, ${d.dir})`, stop: () => d.stop() };
  }
  const s = await startSupervisor({ STORAGE: 'fs', REGISTRY_AUTH: 'open' });
  return {
    url: s.url,
    host: `127.0.0.1:${s.port}`,
    describe: `registry supervisor at ${s.url} (fs + SQLite, ${s.dir})`,
    stop: async () => {
      await s.stop();
    },
  };
}
