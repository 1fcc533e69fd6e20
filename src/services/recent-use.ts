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

  /**
   * Makes sure the row `key` counts as used: nothing when this process did lately, else
   * `write(staleBefore)` (the store's touch, which writes only when the row's last use is older)
   * and remembers it. False when the row is gone (collected meanwhile).
   */
  async touch(key: string, write: (staleBefore: number) => Promise<boolean>): Promise<boolean> {
    const now = Date.now();
    const at = this.#marked.get(key);
    if (at !== undefined && now - at < this.intervalMs) return true;
    this.#marked.delete(key);
    if (!(await write(now - this.intervalMs))) return false;
    this.#marked.set(key, now);
    if (this.#marked.size > this.capacity) this.#marked.delete(this.#marked.keys().next().value!);
    return true;
  }
}
