/**
 * When this process last made sure a row counts as used (it touched it, or found it fresh): an
 * existence check a push relies on (a blob HEAD, an image json GET) touches the row so garbage
 * collection spares it for a grace period (services/gc.ts), but writes at most once per
 * `intervalMs` per row and process — a quarter of the grace period — so the hot read paths stay
 * read-only almost always. Bounded: the least recently marked go first.
 */
export class RecentUse {
  readonly #marked = new Map<string, number>();

  constructor(
    /** how long a touch stands before the next check writes again (ms) */
    readonly intervalMs: number,
    private readonly capacity = 100_000,
  ) {}

  /** The interval of a grace period: a row touched less than this ago is spared by any collection for three quarters of it. */
  static forGrace(graceSeconds: number): RecentUse {
    return new RecentUse(Math.floor((graceSeconds * 1000) / 4));
  }

  /** Whether a check of `key` at `now` must touch the row (null: no, it was made sure of lately). */
  staleBefore(key: string, now: number): number | null {
    const at = this.#marked.get(key);
    return at !== undefined && now - at < this.intervalMs ? null : now - this.intervalMs;
  }

  mark(key: string, now: number): void {
    this.#marked.delete(key);
    this.#marked.set(key, now);
    if (this.#marked.size > this.capacity) this.#marked.delete(this.#marked.keys().next().value!);
  }

  forget(key: string): void {
    this.#marked.delete(key);
  }
}
