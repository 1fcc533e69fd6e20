/**
 * A reverse proxy (Bun.serve in the test process) in front of one registry that records every
 * request (method, path, Authorization scheme) and can break a reply's body after some bytes, the
 * way a connection that drops mid-transfer does. Bodies stream both ways, undecoded.
 */

import { endToEnd, forward } from '../../dev/forward.ts';

export interface RecordingProxy {
  url: string;
  /** `METHOD /path scheme` per request, scheme being the Authorization's first word or `-` */
  log: string[];
  /** requests for `path` (any method) */
  count(path: string): number;
  /** breaks the body of replies to `path` after `bytes` bytes (null: stop doing so) */
  cut(path: string, bytes: number | null): void;
  stop(): Promise<void>;
}

/** `body` up to `limit` bytes, then an error (the client sees the connection drop). */
function breakAfter(body: ReadableStream<Uint8Array>, limit: number): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let sent = 0;
  return new ReadableStream({
    async pull(c) {
      const { done, value } = await reader.read();
      if (done) return c.close();
      if (sent + value.byteLength >= limit) {
        c.enqueue(value.subarray(0, limit - sent));
        await reader.cancel().catch(() => {});
        return c.error(new Error('connection dropped by the test proxy'));
      }
      sent += value.byteLength;
      c.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

export function startRecordingProxy(target: string): RecordingProxy {
  const origin = new URL(target).origin;
  const log: string[] = [];
  const cuts = new Map<string, number>();
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 0,
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    async fetch(req) {
      const url = new URL(req.url);
      log.push(`${req.method} ${url.pathname} ${(req.headers.get('authorization') ?? '-').split(' ')[0]}`);
      let r: Response;
      try {
        // the upstream sees its own Host (its token realm, its Location URLs)
        r = await forward(origin, req, { dropHeaders: ['host'] });
      } catch (e) {
        return new Response(`recording proxy: ${(e as Error).message}\n`, { status: 502 });
      }
      const cut = cuts.get(url.pathname);
      const body = r.body && cut !== undefined ? breakAfter(r.body, cut) : r.body;
      return new Response(req.method === 'HEAD' ? null : body, { status: r.status, statusText: r.statusText, headers: endToEnd(r.headers, ['host']) });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    log,
    count: (path) => log.filter((l) => l.split(' ')[1] === path).length,
    cut: (path, bytes) => (bytes === null ? cuts.delete(path) : cuts.set(path, bytes)),
    stop: () => server.stop(true),
  };
}
