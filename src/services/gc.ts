/**
 * Online garbage collection: deletes what nothing reaches (the mark: ./gc-plan.ts) while the
 * registry serves, on every storage driver and both metadata stores, one collector at a time.
 *
 * A run takes the lease `gc` in the metadata store (one collector at a time across every worker
 * and node; renewed while it runs; another collector is told who holds it and skips), reads
 * images, tagged image ids and blobs page by page, plans, and sweeps: image rows (children
 * first), blob rows with their links, upload sessions idle since the cut-off, the storage keys
 * no row names any more, and keys no row ever named (crash leftovers) older than the cut-off.
 * A dry run reads and plans the same, takes no lease and deletes nothing.
 *
 * Why nothing in flight is swept (cut-off = start of the run − grace):
 * 1. New is young. Rows are dated by their creation or last update, bytes by their write (a move
 *    dates its target): nothing written in the last grace period is a candidate.
 * 2. Re-used is touched. The checks a push relies on before skipping an upload (HEAD or GET of a
 *    blob, a mount, a PUT of stored bytes, GET json of a V1 image, the parent of a PUT json) make
 *    the row young again; at most once per quarter grace per row and process (recent-use.ts), so
 *    a run starting within ¾ grace of the check cannot take it.
 * 3. Released is touched. Deleting or moving a tag, deleting a manifest or a repository touches
 *    what they pointed at: a pull that started before gets the grace period to finish.
 * 4. Deletes are conditional and atomic in the store (deleteImageIfUnused, deleteBlobIfUnused):
 *    still unused since the cut-off, and no tag, child image or manifest references the row. A
 *    push that committed a touch, a tag or a manifest first wins (PostgreSQL: the collector locks
 *    the row for update and decides in a later statement; the writes lock what they reach).
 * 5. Writes that make content reachable verify it in their transaction (putTag, putManifest,
 *    bridgeTag): a push slower than its touch protects gets a clear 404 (MANIFEST_BLOB_UNKNOWN,
 *    Image not found), never a tag or manifest naming what is gone.
 * 6. Bytes go only once no row names their key (keysInUse, asked after the rows are deleted), and
 *    a key no row names is never named again: new bytes always get a new key (storage/paths.ts),
 *    and the only ways to name existing bytes (linkBlob, putLayerBlob, a layer with `blob`)
 *    require a row naming them, locked, in their transaction. Bytes no row ever named go only
 *    when older than the cut-off (1).
 * Not protected: a client holding on to content nothing reaches, without asking for it, for
 * longer than that (an upload session idle for the whole grace period; a manifest pushed over ¾
 * grace after its last HEAD): it gets the clear error of 5.
 */
import { hostname } from 'node:os';
import type { CollectorStore, UploadStore } from '../db/meta.ts';
import { PathNotFoundError, type StorageDriver } from '../storage/driver.ts';
import { CONTENT_FOLDERS, UPLOADS_FOLDER, isSessionId, uploadPrefix } from '../storage/paths.ts';
import { planCollection, type GcPlan, type KeyToFree } from './gc-plan.ts';
import { eachLimited } from '../each-limited.ts';

const GC_LEASE = 'gc';

export interface GcReport {
  dryRun: boolean;
  /** who ran it (the lease holder's name) */
  holder: string;
  /** epoch ms */
  startedAt: number;
  /** epoch ms: what was last used before this was a candidate */
  cutoff: number;
  durationMs: number;
  /** deleted (a dry run: would be) */
  images: string[];
  blobs: string[];
  uploads: string[];
  /** storage objects deleted (layers, blobs, upload folders, leftovers no row named) */
  keys: KeyToFree[];
  /** of `keys`, those no row ever named (crash leftovers, abandoned upload folders) */
  orphans: number;
  bytes: number;
  /** reachable (or too young) rows left */
  kept: { images: number; blobs: number };
  /** candidates a concurrent push took back before their delete (touched, tagged, referenced) */
  spared: number;
  /** the run stopped early: the lease was lost (expired and taken) or the caller's signal aborted */
  aborted: boolean;
}

export type GcOutcome = { ran: true; report: GcReport } | { ran: false; holder: string; expiresAt: number };

export interface GcOptions {
  /** seconds: what was used less than this long before the run is kept */
  grace: number;
  dryRun?: boolean;
  /** stops the run at the next item (a stopping worker); what was deleted stays deleted */
  signal?: AbortSignal;
}

const PAGE = 1000;

/** Every page of a scan paged by its last key. */
async function scanAll<T>(scan: (after: string | null, limit: number) => Promise<T[]>, keyOf: (t: T) => string): Promise<T[]> {
  const out: T[] = [];
  for (let after: string | null = null; ; ) {
    const page = await scan(after, PAGE);
    out.push(...page);
    if (page.length < PAGE) return out;
    after = keyOf(page[page.length - 1]!);
  }
}

const missing = (e: unknown) => (e instanceof PathNotFoundError ? [] : Promise.reject(e));

export class GarbageCollector {
  readonly holder: string;

  constructor(
    private readonly meta: CollectorStore & Pick<UploadStore, 'staleUploads' | 'deleteUpload' | 'getUpload'>,
    private readonly storage: StorageDriver,
    private readonly options: { leaseTtlMs?: number; holder?: string } = {},
  ) {
    this.holder = options.holder ?? `${hostname()}:${process.pid}:${crypto.randomUUID().slice(0, 8)}`;
  }

  /** One run (see the top); `{ ran: false }` when another collector holds the lease. */
  async collect(options: GcOptions): Promise<GcOutcome> {
    const stopped = () => options.signal?.aborted === true;
    if (options.dryRun) return { ran: true, report: await this.#run(options, stopped) };
    const ttl = this.options.leaseTtlMs ?? 60_000;
    const lease = await this.meta.acquireLease(GC_LEASE, this.holder, ttl);
    if (!lease.held) return { ran: false, holder: lease.holder, expiresAt: lease.expiresAt };
    let lost = false;
    const renew = setInterval(() => {
      this.meta.acquireLease(GC_LEASE, this.holder, ttl).then(
        (l) => (lost ||= !l.held),
        () => {},
      );
    }, Math.max(ttl / 3, 10));
    try {
      return { ran: true, report: await this.#run(options, () => lost || stopped()) };
    } finally {
      clearInterval(renew);
      await this.meta.releaseLease(GC_LEASE, this.holder).catch(() => false);
    }
  }

  async #run(options: GcOptions, lost: () => boolean): Promise<GcReport> {
    const started = Date.now();
    const dryRun = options.dryRun === true;
    const cutoff = started - options.grace * 1000;
    const images = await scanAll((a, n) => this.meta.collectableImages(a, n), (i) => i.id);
    const tagged = await scanAll((a, n) => this.meta.taggedImageIds(a, n), (id) => id);
    const blobs = await scanAll((a, n) => this.meta.collectableBlobs(a, n), (b) => b.digest);
    const plan = planCollection(images, tagged, blobs, cutoff);
    const report: GcReport = {
      dryRun,
      holder: this.holder,
      startedAt: started,
      cutoff,
      durationMs: 0,
      images: [],
      blobs: [],
      uploads: [],
      keys: [],
      orphans: 0,
      bytes: 0,
      kept: plan.kept,
      spared: 0,
      aborted: false,
    };
    const sizes = new Map(plan.keys.map((k) => [k.key, k.bytes]));
    // the keys of the rows deleted (a dry run: to delete) that no remaining row names
    const freed = new Set<string>();
    if (dryRun) {
      report.images = plan.images;
      report.blobs = plan.blobs;
      for (const key of sizes.keys()) freed.add(key);
    } else {
      await this.#sweepRows(plan, cutoff, report, freed, lost);
    }
    const orphans = report.aborted ? [] : await this.#orphanKeys(plan.named, cutoff);
    const orphanKeys = new Set(orphans.map((o) => o.key));
    for (const o of orphans) sizes.set(o.key, o.bytes);
    const candidates = [...freed, ...orphanKeys];
    // asked after the rows went: a key no row names now stays unnamed (see the top, 6); a dry run
    // deleted no row, so it asks only about the leftovers (the plan knows who names the rest)
    const inUse = new Set(await this.meta.keysInUse(dryRun ? [...orphanKeys] : candidates));
    for (const key of candidates) {
      if (inUse.has(key)) continue;
      if (!dryRun && ((report.aborted ||= lost()) || !(await this.#delete(key)))) continue;
      report.keys.push({ key, bytes: sizes.get(key)! });
      if (orphanKeys.has(key)) report.orphans++;
    }
    if (!report.aborted) await this.#sweepUploads(report, cutoff, dryRun);
    report.bytes = report.keys.reduce((n, k) => n + k.bytes, 0);
    report.durationMs = Date.now() - started;
    return report;
  }

  /** Deletes the planned rows, each only if still unused (the store checks); collects their keys to free. */
  async #sweepRows(plan: GcPlan, cutoff: number, report: GcReport, freed: Set<string>, lost: () => boolean): Promise<void> {
    const toFree = new Set(plan.keys.map((k) => k.key));
    for (const id of plan.images) {
      if ((report.aborted ||= lost())) return;
      const deleted = await this.meta.deleteImageIfUnused(id, cutoff);
      if (!deleted) report.spared++;
      else {
        report.images.push(id);
        if (deleted.key !== null && toFree.has(deleted.key)) freed.add(deleted.key);
      }
    }
    for (const digest of plan.blobs) {
      if ((report.aborted ||= lost())) return;
      const deleted = await this.meta.deleteBlobIfUnused(digest, cutoff);
      if (!deleted) report.spared++;
      else {
        report.blobs.push(digest);
        if (toFree.has(deleted.key)) freed.add(deleted.key);
      }
    }
  }

  /** Deletes a storage key; true when it was there to delete. */
  async #delete(key: string): Promise<boolean> {
    return this.storage.delete(key).then(
      () => true,
      (e: unknown) => (e instanceof PathNotFoundError ? false : Promise.reject(e)),
    );
  }

  /** Keys under the content folders (two levels deep) that no row names, written before `cutoff`. */
  async #orphanKeys(named: Set<string>, cutoff: number): Promise<KeyToFree[]> {
    const out: KeyToFree[] = [];
    for (const root of CONTENT_FOLDERS) {
      // one listing per folder: on S3 a round trip each, so several at a time
      await eachLimited(await this.storage.list(root).catch(missing), LISTINGS_AT_ONCE, async (folder) => {
        for (const key of await this.storage.list(folder).catch(missing)) {
          if (named.has(key)) continue;
          const stat = await this.storage.stat(key).catch(() => null);
          if (stat && !stat.isDir && stat.modTime.getTime() < cutoff) out.push({ key, bytes: stat.size });
        }
      });
    }
    // in key order, whatever order the listings finished in: a dry run and a run report alike
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Upload sessions idle since the cut-off (row and chunks), and chunk folders no session owns. */
  async #sweepUploads(report: GcReport, cutoff: number, dryRun: boolean): Promise<void> {
    for (const session of await this.meta.staleUploads(cutoff, 10_000)) {
      // still idle: a PATCH that moved it on since the listing keeps it
      if (!dryRun && !(await this.meta.deleteUpload(session.id, cutoff))) continue;
      report.uploads.push(session.id);
      const key = uploadPrefix(session.id);
      // its chunks, when any were stored (S3 stores none before the first PATCH)
      const there = dryRun ? (await this.storage.stat(key).catch(() => null)) !== null : await this.#delete(key);
      if (there) report.keys.push({ key, bytes: session.offset });
    }
    const swept = new Set(report.uploads);
    for (const folder of await this.storage.list(UPLOADS_FOLDER).catch(missing)) {
      const id = folder.slice(UPLOADS_FOLDER.length + 1);
      if (!isSessionId(id) || swept.has(id) || (await this.meta.getUpload(id))) continue;
      // dated by its newest chunk: a session being completed has no row any more
      let newest = 0;
      let bytes = 0;
      for (const key of await this.storage.list(folder).catch(missing)) {
        const stat = await this.storage.stat(key).catch(() => null);
        if (stat) [newest, bytes] = [Math.max(newest, stat.modTime.getTime()), bytes + stat.size];
      }
      if (newest === 0 || newest >= cutoff || (!dryRun && !(await this.#delete(folder)))) continue;
      report.keys.push({ key: folder, bytes });
      report.orphans++;
    }
  }
}

/** How many folder listings the orphan scan keeps in flight (S3: one request each). */
const LISTINGS_AT_ONCE = 16;

