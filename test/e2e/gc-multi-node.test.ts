/**
 * Garbage collection on PostgreSQL and S3 (fauxqs) with two nodes collecting at once: two real
 * registry nodes (2 workers each, gc_interval 1 s, grace 3 s) over one database and one bucket
 * under a smaller load than test/e2e/gc.test.ts. The lease lets one collector run at a time
 * across nodes: the runs the nodes log never overlap, and two collectors started together in
 * this process (each with its own connection pool and S3 client: two more "nodes") never both
 * run. No pull fails, nothing pushed breaks, and after a last pass past the grace period the
 * bucket holds exactly the reachable content. With REGISTRY_TEST_RGW=1 the bucket is on Ceph's
 * RADOS Gateway instead (dev/s3.ts startRadosGateway), as .ci/run's second step runs it.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { S3Client } from 'bun';
import { join } from 'node:path';
import { startPostgres, type TestPostgres } from '../../dev/postgres.ts';
import { startFauxqs, startRadosGateway, type S3TestServer } from '../../dev/s3.ts';
import { PgMetaStore } from '../../src/db/pg/store.ts';
import { GarbageCollector, type GcOutcome } from '../../src/services/gc.ts';
import { S3Driver } from '../../src/storage/s3/driver.ts';
import { contentOfKeys, expectedContent, runGcLoad, verifyAll } from '../helpers/gc-load.ts';
import { startRegistry, type StartedRegistry } from '../helpers/server.ts';

const ROOT = join(import.meta.dir, '..', '..');
const GRACE = 3;
let pg: TestPostgres;
let s3: S3TestServer;
const nodes: StartedRegistry[] = [];
const stores: PgMetaStore[] = [];
beforeAll(async () => {
  [pg, s3] = await Promise.all([startPostgres(), process.env.REGISTRY_TEST_RGW === '1' ? startRadosGateway() : startFauxqs()]);
});
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  for (const s of stores) s.close();
  await Promise.all([pg?.stop(), s3?.stop()]);
});

async function bucketKeys(bucket: string): Promise<string[]> {
  const c = new S3Client({ endpoint: s3.endpoint, bucket, region: s3.region, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await c.list({ ...(token !== undefined && { continuationToken: token }) });
    for (const o of page.contents ?? []) keys.push(o.key);
    token = page.isTruncated ? page.nextContinuationToken : undefined;
  } while (token);
  return keys;
}

/** The runs a node logged: [start, end] in epoch ms, and who ran them. */
function runsIn(log: string): { holder: string; start: number; end: number }[] {
  return [...log.matchAll(/Garbage collection by (\S+) started (\S+) deleted .* in (\d+) ms/g)].map((m) => {
    const start = Date.parse(m[2]!);
    return { holder: m[1]!, start, end: start + Number(m[3]) };
  });
}

test(
  'two nodes collecting over one PostgreSQL database and one S3 bucket: one collector at a time, nothing in use swept, the bucket ends exactly reachable',
  async () => {
    const [db, bucket] = await Promise.all([pg.newDatabase(), s3.newBucket()]);
    const env = {
      REGISTRY_DB: db,
      STORAGE: 's3',
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: bucket,
      S3_REGION: s3.region,
      S3_ACCESS_KEY_ID: s3.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      S3_PATH_STYLE: 'true',
      REGISTRY_WORKERS: '2',
      REGISTRY_ACCESSLOG: 'off',
      REGISTRY_GC_INTERVAL: '1',
      REGISTRY_GC_GRACE: String(GRACE),
    };
    nodes.push(...(await Promise.all([startRegistry(env), startRegistry(env)])));
    const urls = nodes.map((n) => n.url);
    const load = await runGcLoad(urls, { clients: 8, durationMs: 10_000 });
    expect(load.failures).toEqual([]);
    expect(load.pushes).toBeGreaterThan(40);
    expect(load.deletes).toBeGreaterThan(10);
    expect(load.refusedPushes.length).toBeLessThanOrEqual(Math.ceil(load.pushes / 20));
    expect(await verifyAll(urls[1]!, load)).toEqual([]);

    // two more collectors started together, each its own pool and client: never both run
    const pair = await Promise.all(
      ['a', 'b'].map(async (name) => {
        const store = await PgMetaStore.open(db, { migrate: false, max: 2 });
        stores.push(store);
        const storage = new S3Driver(s3.driverOptions({ bucket }));
        return new GarbageCollector(store, storage, { holder: `test-${name}` });
      }),
    );
    let bothTried = 0;
    for (let round = 0; round < 40 && bothTried < 3; round++) {
      const outcomes: GcOutcome[] = await Promise.all(pair.map((c) => c.collect({ grace: GRACE })));
      const ran = outcomes.filter((o) => o.ran);
      expect(ran.length).toBeLessThanOrEqual(1);
      if (ran.length === 1) {
        bothTried++;
        // the other was told who holds the lease
        const refused = outcomes.find((o) => !o.ran);
        expect(refused && !refused.ran && refused.holder.length > 0).toBe(true);
      }
      await Bun.sleep(50);
    }
    expect(bothTried).toBeGreaterThan(0);

    // past the grace period, a last pass (the admin CLI, waiting for the lease): the bucket holds
    // exactly what the test computed as reachable
    await Bun.sleep((GRACE + 1.5) * 1000);
    const proc = Bun.spawn([process.execPath, join(ROOT, 'scripts', 'admin.ts'), 'gc', '--wait', '90', '--json'], {
      cwd: ROOT,
      env: { ...process.env, ...env, STORAGE_PATH: nodes[0]!.storagePath, REGISTRY_CONFIG: '' },
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect(`${code} ${err}`).toStartWith('0 ');
    expect(JSON.parse(out)).toMatchObject({ dryRun: false, aborted: false });
    const stored = contentOfKeys(await bucketKeys(bucket));
    const expected = expectedContent(load);
    expect(stored.other).toEqual([]);
    expect(stored.v1Images).toEqual(expected.v1Images);
    expect(stored.blobs).toEqual(expected.blobs);
    expect(await verifyAll(urls[0]!, load)).toEqual([]);

    // the nodes' own runs: several, by more than one collector, and never two at once
    const runs = nodes.flatMap((n) => runsIn(n.stderr())).sort((x, y) => x.start - y.start);
    expect(runs.length).toBeGreaterThan(3);
    expect(new Set(runs.map((r) => r.holder)).size).toBeGreaterThan(1);
    for (let i = 1; i < runs.length; i++) expect(runs[i]!.start).toBeGreaterThanOrEqual(runs[i - 1]!.end);
    console.log(`gc multi-node: ${load.pushes} pushes (${load.refusedPushes.length} refused), ${load.pulls} pulls, ${load.deletes} deletes; ${runs.length} node runs by ${new Set(runs.map((r) => r.holder)).size} collectors`);
  },
  120_000,
);
