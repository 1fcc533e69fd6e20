/**
 * One upstream fetch per key across processes: the seam between the pull-through mirror and
 * whatever can hold a lease that every worker (and node) sees.
 *
 * The mirror takes a lease before it fetches a missing layer and renews it while bytes flow; a
 * process that finds the lease taken waits for the holder's copy to appear in the metadata store
 * instead of fetching the layer a second time, and takes over when the lease lapses (a holder that
 * crashed or hung renews nothing). Within one process `SingleFlight` (fetch-through.ts) already
 * makes concurrent pulls share one fetch; the lease adds the other processes.
 *
 * Implementations:
 * - `LocalFetchLock`: this process only (what the app uses today). Each worker process then
 *   fetches a missing layer at most once, so a pool of N workers at most N times; the first
 *   complete copy is recorded and the others are deleted.
 * - a lease row in the metadata store (one per key, with its holder and expiry, taken with a
 *   conditional insert/update) is the cross-process implementation this interface is shaped for.
 */

export interface FetchLease {
  /** Extends the lease to `ttlMs` from now; false when it was lost (lapsed and taken by another). */
  renew(ttlMs: number): Promise<boolean>;
  /** Gives the lease up (a no-op when it was lost). */
  release(): Promise<void>;
}

export interface FetchLock {
  /** Takes `key` for `ttlMs` unless a live lease holds it: the lease, or null when it is taken. */
  acquire(key: string, ttlMs: number): Promise<FetchLease | null>;
}

/** Leases held in this process's memory. */
export class LocalFetchLock implements FetchLock {
  readonly #held = new Map<string, { holder: symbol; until: number }>();

  async acquire(key: string, ttlMs: number): Promise<FetchLease | null> {
    const now = Date.now();
    const current = this.#held.get(key);
    if (current && current.until > now) return null;
    const holder = Symbol(key);
    this.#held.set(key, { holder, until: now + ttlMs });
    const mine = () => this.#held.get(key)?.holder === holder;
    return {
      renew: async (ms) => {
        if (!mine()) return false;
        this.#held.set(key, { holder, until: Date.now() + ms });
        return true;
      },
      release: async () => {
        if (mine()) this.#held.delete(key);
      },
    };
  }
}
