/**
 * How a stopping worker lets go of its kept-alive connections without resetting one a client is
 * writing on (bench/README.md, "reload", has the measurements behind this).
 *
 * Bun's graceful `server.stop()` closes the listener and every idle keep-alive connection in the
 * same call; a client that is sending its next request on one at that moment gets a reset or an
 * empty read. Bun has no way to close only the listener. So a draining worker first keeps
 * listening and answers every request, in flight or new, with `Connection: close` (Bun closes the
 * connection once that response is written, and clients do not reuse it); once no request has
 * come for `quietMs` and none is in flight (or after `windowMs`), only connections no client is
 * using are left, and `stop()` may close them.
 */
import { drainOver } from './policy.ts';

export interface DrainTiming {
  /** no request for this long (and none in flight) ends the window early */
  quietMs: number;
  /** the window never lasts longer than this */
  windowMs: number;
}

const DRAIN_TIMING: DrainTiming = { quietMs: 250, windowMs: 2000 };

export class Drain {
  #draining = false;
  #lastRequestAt = 0;

  get draining(): boolean {
    return this.#draining;
  }

  /** Called at the start of every request. */
  seen(at = performance.now()): void {
    this.#lastRequestAt = at;
  }

  /** While draining: the response, told to close its connection. */
  mark(response: Response): Response {
    if (!this.#draining) return response;
    try {
      response.headers.set('connection', 'close');
      return response;
    } catch {
      // immutable headers (a Response.error() or a fetched response): copy them
      const headers = new Headers(response.headers);
      headers.set('connection', 'close');
      return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
    }
  }

  /**
   * Starts draining and resolves when the connections may be closed: quiet for `quietMs` with
   * nothing in flight, or `windowMs` (capped by `boundMs`) after the start.
   */
  async window(inFlight: () => number, boundMs: number, timing: DrainTiming = DRAIN_TIMING): Promise<void> {
    this.#draining = true;
    const start = performance.now();
    const step = Math.max(10, Math.min(50, timing.quietMs / 5));
    while (!drainOver(performance.now(), start, this.#lastRequestAt, inFlight(), boundMs, timing)) await Bun.sleep(step);
  }
}
