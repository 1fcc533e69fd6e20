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
 * - `StoreFetchLock`: a lease row in the metadata store (one per key, with its holder and expiry,
 *   taken atomically), seen by every worker and node: what the app uses.
 * - `LocalFetchLock`: this process only (unit tests of the mirror).
 */

import { hostname } from 'node:os';
import type { CollectorStore } from '../db/meta.ts';

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

/** Where leases every process and node sees are kept: the metadata store (its `leases` table). */
type LeaseStore = Pick<CollectorStore, 'acquireLease' | 'releaseLease'>;

/**
 * Leases in the metadata store, shared by every worker and node: lease `mirror:<key>`, held by
 * this process (host, pid and a random part, so two processes never pass for one). Taking,
 * renewing and freeing are the store's atomic lease operations (the ones the garbage collector
 * uses for its own lease).
 */
export class StoreFetchLock implements FetchLock {
  readonly #holder = `${hostname()}:${process.pid}:${crypto.randomUUID().slice(0, 8)}`;

  constructor(private readonly store: LeaseStore) {}

  async acquire(key: string, ttlMs: number): Promise<FetchLease | null> {
    const name = `mirror:${key}`;
    // a fetch of the same key in this process holds it already: that is a second fetch, not a renewal
    const holder = `${this.#holder}:${crypto.randomUUID().slice(0, 8)}`;
    const state = await this.store.acquireLease(name, holder, ttlMs);
    if (!state.held) return null;
    return {
      renew: async (ms) => (await this.store.acquireLease(name, holder, ms)).held,
      release: async () => {
        await this.store.releaseLease(name, holder);
      },
    };
  }
}

/** How long a fetch's lease lasts unless renewed: what another process waits at most after its holder crashed. */
const FETCH_LEASE_MS = 30_000;
/** How often a process waiting for another's fetch looks for the stored copy. */
const FETCH_POLL_MS = 200;

/**
 * The lease on fetching `key`, renewed every third of its life until it is released; or null
 * once `stored()` says another process stored the thing (asked while that process holds the
 * lease; the lease is taken over when it lapses, e.g. the holder crashed). The one wait both
 * mirrors (V1 layers, V2 blobs) use.
 */
export async function leaseOrStored(lock: FetchLock, key: string, stored: () => Promise<boolean>): Promise<{ release(): Promise<void> } | null> {
  for (;;) {
    const lease = await lock.acquire(key, FETCH_LEASE_MS);
    if (lease) {
      const renewal = setInterval(() => void lease.renew(FETCH_LEASE_MS).catch(() => {}), FETCH_LEASE_MS / 3);
      return {
        release: async () => {
          clearInterval(renewal);
          await lease.release().catch(() => {});
        },
      };
    }
    await Bun.sleep(FETCH_POLL_MS);
    if (await stored()) return null;
  }
}
