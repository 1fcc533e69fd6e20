/**
 * A tiny round-robin HTTP reverse proxy (a `Bun.serve` in the calling process) in front of several
 * registry nodes: each request goes to the next node in turn, so the consecutive requests of one
 * push or pull (POST upload, PATCH, PUT, HEAD, manifest PUT…) land on different nodes, which a
 * connection-level balancer would not do to a client that keeps its connection alive.
 *
 * Bodies stream both ways (the request body is forwarded as it arrives, with its Content-Length;
 * response bodies are passed through, compressed or not, without buffering). The `Host` header is
 * kept, so nodes that build absolute `Location` URLs from it point back at the proxy; an absolute
 * `Location` that names a node's own origin is rewritten to the proxy's. Hop-by-hop headers are
 * dropped. A node that cannot be reached gives a 502 with the error in the body.
 */
import { endToEnd, forward } from './forward.ts';

export interface RoundRobinProxy {
  url: string;
  port: number;
  /** requests forwarded to each target so far (same order as `targets`) */
  counts: number[];
  stop(): Promise<void>;
}

/** Starts the proxy on a free 127.0.0.1 port in front of `targets` (origins such as `http://127.0.0.1:5000`). */
export function startRoundRobinProxy(targets: string[]): RoundRobinProxy {
  if (targets.length === 0) throw new Error('startRoundRobinProxy: no targets');
  const origins = targets.map((t) => new URL(t).origin);
  const counts = origins.map(() => 0);
  let next = 0;
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 0,
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    async fetch(req) {
      const i = next;
      next = (next + 1) % origins.length;
      counts[i]! += 1;
      const incoming = new URL(req.url);
      const proxyOrigin = `http://${req.headers.get('host') ?? incoming.host}`;
      let r: Response;
      try {
        r = await forward(origins[i]!, req);
      } catch (e) {
        return new Response(`round-robin proxy: ${origins[i]} failed: ${(e as Error).message}\n`, { status: 502 });
      }
      const headers = endToEnd(r.headers);
      const location = headers.get('location');
      if (location) {
        for (const o of origins) if (location.startsWith(o)) headers.set('location', proxyOrigin + location.slice(o.length));
      }
      return new Response(req.method === 'HEAD' ? null : r.body, { status: r.status, statusText: r.statusText, headers });
    },
  });
  const port = server.port!;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    counts,
    stop: () => server.stop(true),
  };
}
