/**
 * Load loops for tests and benchmarks: closed loops of requests against a server for a while,
 * counting what failed and why (test/supervisor/keepalive.test.ts, bench/reload.ts).
 */

export interface FetchLoopResult {
  requests: number;
  ok: number;
  failures: number;
  /** failure reasons (error message or `status N`) and their counts */
  reasons: Record<string, number>;
  /** of the requests that got a response */
  latenciesMs: number[];
  elapsedMs: number;
}

/**
 * `concurrency` closed loops of `fetch(url)` for `durationMs`. Bun's fetch keeps connections
 * alive and reuses them, as docker and skopeo do, so a worker that closes a kept-alive connection
 * under a client shows up here as a failure (a load with a new connection per request never sees it).
 */
export async function fetchLoop(url: string, concurrency: number, durationMs: number): Promise<FetchLoopResult> {
  const reasons: Record<string, number> = {};
  const latenciesMs: number[] = [];
  let requests = 0;
  let ok = 0;
  const t0 = performance.now();
  const end = t0 + durationMs;
  const loop = async () => {
    while (performance.now() < end) {
      requests++;
      try {
        const sent = performance.now();
        const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
        await r.arrayBuffer();
        latenciesMs.push(performance.now() - sent);
        if (r.ok) ok++;
        else reasons[`status ${r.status}`] = (reasons[`status ${r.status}`] ?? 0) + 1;
      } catch (e) {
        const why = (e as Error).message || String(e);
        reasons[why] = (reasons[why] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { requests, ok, failures: requests - ok, reasons, latenciesMs, elapsedMs: performance.now() - t0 };
}

/**
 * Like `fetchLoop`, but each loop is one raw HTTP/1.1 keep-alive connection driven the way wrk
 * drives it: the next request goes out as soon as a response is complete, nothing is retried, and
 * a new connection is opened only after a `Connection: close` response (or an idle close). A
 * connection closed or reset while a request is on it counts as a failure. (Bun's fetch silently
 * retries a GET whose reused connection was closed, which hides exactly this.) Responses must
 * carry a Content-Length.
 */
export async function keepAliveLoop(host: string, port: number, path: string, concurrency: number, durationMs: number): Promise<FetchLoopResult> {
  const reasons: Record<string, number> = {};
  const latenciesMs: number[] = [];
  const fail = (why: string) => (reasons[why] = (reasons[why] ?? 0) + 1);
  let requests = 0;
  let ok = 0;
  const t0 = performance.now();
  const end = t0 + durationMs;
  const request = `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUser-Agent: registry-keepalive-loop\r\n\r\n`;
  /** one connection: resolves when it is closed (by either side) */
  const connection = () =>
    new Promise<void>((resolve) => {
      let buf = Buffer.alloc(0);
      let pending = false;
      let sentAt = 0;
      let done = false;
      const finish = (why: string | null) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (pending && why) fail(why);
        resolve();
      };
      const timer = setTimeout(() => finish('timeout'), Math.max(0, end - performance.now()) + 5000);
      const send = (s: { write(d: string): number }) => {
        if (performance.now() >= end) return false;
        requests++;
        pending = true;
        sentAt = performance.now();
        s.write(request);
        return true;
      };
      Bun.connect({
        hostname: host,
        port,
        socket: {
          open(s) {
            if (!send(s)) s.end();
          },
          data(s, chunk) {
            buf = Buffer.concat([buf, chunk]);
            for (;;) {
              const head = buf.indexOf('\r\n\r\n');
              if (head < 0) return;
              const headers = buf.subarray(0, head).toString('latin1');
              const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(headers)?.[1] ?? NaN);
              if (!Number.isFinite(length)) {
                fail('no content-length');
                pending = false;
                return void s.end();
              }
              if (buf.length < head + 4 + length) return;
              buf = buf.subarray(head + 4 + length);
              pending = false;
              latenciesMs.push(performance.now() - sentAt);
              const status = Number(headers.slice(9, 12));
              if (status >= 200 && status < 300) ok++;
              else fail(`status ${status}`);
              if (/\r\nconnection:\s*close/i.test(headers) || !send(s)) return void s.end();
            }
          },
          close(_s, err) {
            finish(err ? `reset (${err.message || 'error'})` : 'closed with a request pending');
          },
          error(_s, err) {
            finish(`error (${err.message})`);
          },
          connectError(_s, err) {
            // a refused connection is a failed request too
            requests++;
            pending = true;
            finish(`connect (${err.message})`);
          },
        },
      }).catch((err: Error) => {
        requests++;
        pending = true;
        finish(`connect (${err.message})`);
      });
    });
  const loop = async () => {
    while (performance.now() < end) await connection();
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { requests, ok, failures: requests - ok, reasons, latenciesMs, elapsedMs: performance.now() - t0 };
}
