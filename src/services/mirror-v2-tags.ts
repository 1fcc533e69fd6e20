/**
 * The pull-through mirror's memory of which tags came from upstream, and when upstream was last
 * asked about each: one small JSON object per such tag through the storage driver
 * (`mirror/v2/<repository>/_tags/<tag as hex>`, storage/paths.ts mirrorTagKey), so no schema
 * change is needed and every worker and node over one storage sees the same marks.
 *
 * A mark holds the digest the tag had when it was fetched or last confirmed upstream. It counts
 * only while the tag still names that digest: a push here (V2 or V1) that moved the tag makes it
 * a local tag again even where the mark could not be removed (a push through another node). A tag
 * without a valid mark is local: it is served as it is and never asked about upstream. A mark is
 * written before the tag is moved to a new upstream digest and names the digest it leaves
 * (`previous`): a process that dies in between leaves a tag that is checked again, not one taken
 * for a local push. What a push racing a re-check can still do in that instant: both write the
 * tag, the last one wins (the store has no compare-and-set on tags).
 *
 * What was read is kept in memory per process (bounded), so a tag checked within the TTL costs a
 * map lookup: a mirrored tag until its mark says the TTL is over, a local tag for one TTL (then
 * the mark is read again, in case the tag has come from upstream since).
 */
import type { RepoRef } from '../db/meta.ts';
import { fullName } from '../db/records.ts';
import type { StorageDriver } from '../storage/driver.ts';
import { mirrorTagKey } from '../storage/paths.ts';

/** fresh: from upstream, checked within the TTL; stale: from upstream, due a check; local: pushed here */
export type TagState = 'fresh' | 'stale' | 'local';

interface Mark {
  digest: string;
  /** epoch ms upstream last confirmed the digest */
  checkedAt: number;
  /** the digest the tag had before (while it is being moved to `digest`); null when none */
  previous: string | null;
}

interface Known {
  digest: string;
  mirrored: boolean;
  /** epoch ms until which this entry answers without a storage read */
  until: number;
}

/** Entries kept in memory per process (the oldest go first). */
const MEMORY = 10_000;

export class TagMarks {
  readonly #known = new Map<string, Known>();

  constructor(
    private readonly storage: StorageDriver,
    /** mirroring.tags_cache_ttl, in ms */
    private readonly ttlMs: number,
  ) {}

  /** Whether the tag, now naming `digest`, came from upstream and is due a check. */
  async state(ref: RepoRef, tag: string, digest: string): Promise<TagState> {
    const name = fullName(ref);
    const id = `${name}\0${tag}`;
    const now = Date.now();
    const known = this.#known.get(id);
    if (known && known.digest === digest && now < known.until) return known.mirrored ? 'fresh' : 'local';
    const mark = await this.#read(name, tag);
    // the tag still has the digest it was leaving when the mark was written: check it again
    if (mark && mark.digest !== digest && mark.previous === digest) return 'stale';
    if (!mark || mark.digest !== digest) {
      this.#remember(id, { digest, mirrored: false, until: now + this.ttlMs });
      return 'local';
    }
    const until = mark.checkedAt + this.ttlMs;
    this.#remember(id, { digest, mirrored: true, until });
    return now < until ? 'fresh' : 'stale';
  }

  /**
   * Records that upstream has just given (or confirmed) `digest` for the tag; written before the
   * tag is moved from `previous` (the digest it names here, if another).
   */
  async stamp(ref: RepoRef, tag: string, digest: string, previous: string | null = null): Promise<void> {
    const name = fullName(ref);
    const mark: Mark = { digest, checkedAt: Date.now(), previous: previous === digest ? null : previous };
    await this.storage.putContent(mirrorTagKey(name, tag), JSON.stringify(mark));
    this.#remember(`${name}\0${tag}`, { digest, mirrored: true, until: mark.checkedAt + this.ttlMs });
  }

  /** In this process only: no new check of the tag for `ms` (upstream just failed to answer one). */
  postpone(ref: RepoRef, tag: string, digest: string, ms: number): void {
    this.#remember(`${fullName(ref)}\0${tag}`, { digest, mirrored: true, until: Date.now() + ms });
  }

  /** The tag is local from now on (pushed or deleted here). */
  async forget(ref: RepoRef, tag: string): Promise<void> {
    const name = fullName(ref);
    this.#known.delete(`${name}\0${tag}`);
    await this.storage.delete(mirrorTagKey(name, tag)).catch(() => {});
  }

  /** The stored mark; null when there is none, or it cannot be read (the tag then counts as local). */
  async #read(name: string, tag: string): Promise<Mark | null> {
    try {
      const mark = JSON.parse(new TextDecoder().decode(await this.storage.getContent(mirrorTagKey(name, tag)))) as Partial<Mark>;
      if (typeof mark.digest !== 'string' || typeof mark.checkedAt !== 'number') return null;
      return { digest: mark.digest, checkedAt: mark.checkedAt, previous: typeof mark.previous === 'string' ? mark.previous : null };
    } catch {
      // missing (PathNotFoundError), unreadable or not a mark: the tag is served as a local one
      return null;
    }
  }

  #remember(id: string, known: Known): void {
    this.#known.delete(id);
    this.#known.set(id, known);
    if (this.#known.size > MEMORY) this.#known.delete(this.#known.keys().next().value!);
  }
}
