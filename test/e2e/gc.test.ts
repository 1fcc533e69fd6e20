/**
 * Garbage collection under load, end to end: the real supervisor (2 workers, fs + SQLite)
 * collecting every second with a 3 s grace period while 16 clients push, pull and delete V1 and
 * V2 images that share layers (test/helpers/gc-load.ts). No pull may fail; every image whose push
 * succeeded must stay complete; once the clients stop and the grace period has passed, one more
 * pass (the admin CLI) must leave storage holding exactly the reachable content, counted against
 * what the test itself computed from what it pushed and deleted.
 */
import { expect, test } from 'bun:test';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { contentOfKeys, expectedContent, runGcLoad, verifyAll } from '../helpers/gc-load.ts';
import { useSupervisors } from '../helpers/supervisor.ts';

const ROOT = join(import.meta.dir, '..', '..');
const GRACE = 3;
const sup = useSupervisors();

/** Every file under the storage root, as keys (the fs driver's temp folder aside). */
function storedKeys(data: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else out.push(relative(data, path));
    }
  };
  for (const top of ['images', 'blobs', 'uploads']) {
    try {
      walk(join(data, top));
    } catch {
      // not created (yet)
    }
  }
  return out;
}

/** A /metrics value summed over label sets matching `labels`. */
async function metric(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}${labels ? `{${labels}}` : ''} `) || (labels === '' && line.startsWith(`${name}{`))) sum += Number(line.split(' ').pop());
  return sum;
}

test(
  'GC every second while 16 clients push, pull and delete V1 and V2 images sharing layers: no pull fails, nothing pushed breaks, storage ends exactly reachable',
  async () => {
    const s = await sup.start({ REGISTRY_GC_INTERVAL: '1', REGISTRY_GC_GRACE: String(GRACE), REGISTRY_LOGLEVEL: 'info' });
    const data = join(s.dir, 'data');
    const load = await runGcLoad([s.url], { clients: 16, durationMs: 16_000 });
    // the load was real, and so was the collection running beside it
    expect(load.failures).toEqual([]);
    expect(load.pushes).toBeGreaterThan(150);
    expect(load.pulls).toBeGreaterThan(300);
    expect(load.deletes).toBeGreaterThan(60);
    // a refusal is a collection winning a race the push lost by waiting too long: rare, and clear
    expect(load.refusedPushes.length).toBeLessThanOrEqual(Math.ceil(load.pushes / 20));
    expect(await metric(s.url, 'registry_gc_runs_total', 'outcome="ran"')).toBeGreaterThan(5);
    const deletedDuringLoad = await metric(s.url, 'registry_gc_deleted_total', 'kind="objects"');
    expect(deletedDuringLoad).toBeGreaterThan(20);
    expect(s.log()).toMatch(/Garbage collection by \S+ started \S+ deleted \d+ images, \d+ blobs/);

    // every image whose push succeeded (and was not deleted) is complete
    expect(await verifyAll(s.url, load)).toEqual([]);

    // past the grace period, one more pass: storage holds exactly what the test says is reachable
    await Bun.sleep((GRACE + 1.5) * 1000);
    const proc = Bun.spawn([process.execPath, join(ROOT, 'scripts', 'admin.ts'), 'gc', '--wait', '30', '--json'], {
      cwd: ROOT,
      env: { ...process.env, STORAGE_PATH: data, REGISTRY_DB: '', REGISTRY_CONFIG: '', REGISTRY_GC_GRACE: String(GRACE) },
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect(`${code} ${err}`).toStartWith('0 ');
    expect(JSON.parse(out)).toMatchObject({ dryRun: false, grace: GRACE, aborted: false });
    const stored = contentOfKeys(storedKeys(data));
    const expected = expectedContent(load);
    expect(stored.other).toEqual([]);
    expect(stored.v1Images.length).toBe(expected.v1Images.length);
    expect(stored.v1Images).toEqual(expected.v1Images);
    expect(stored.blobs.length).toBe(expected.blobs.length);
    expect(stored.blobs).toEqual(expected.blobs);
    // and it all still pulls
    expect(await verifyAll(s.url, load)).toEqual([]);
    console.log(
      `gc e2e: ${load.pushes} pushes (${load.refusedPushes.length} refused), ${load.pulls} pulls, ${load.deletes} deletes; ` +
        `${deletedDuringLoad} objects collected under load; kept ${expected.v1Images.length} V1 layers and ${expected.blobs.length} blobs`,
    );
  },
  90_000,
);
