/**
 * A small closed-loop HTTP load generator for reload/kill scenarios: `concurrency` loops, each
 * opening a NEW TCP connection per request (`Connection: close`), so that listener changes on
 * the server side (a worker closing its reusePort socket) show up as failed requests the way
 * they would for real clients. Counts every failure (reset, refused, timeout, non-2xx) and
 * records latencies. Loopback only; bounded by `durationMs` and `maxRequests`.
 */
export interface LoadOptions {
  host: string;
  port: number;
  path: string;
  concurrency: number;
  durationMs: number;
  /** hard cap on requests started (default 1e6) */
  maxRequests?: number;
  /** per-request timeout (default 5000 ms) */
  timeoutMs?: number;
}

export interface LoadResult {
  requests: number;
  ok: number;
  failures: number;
  /** failure reasons and their counts */
  reasons: Record<string, number>;
  latenciesMs: number[];
  /** when each failure happened, in ms since the start */
  failureAtMs: number[];
  elapsedMs: number;
}

if (!['127.0.0.1', 'localhost', '::1'].includes(process.env.LOAD_ALLOW_HOST ?? '127.0.0.1')) {
  throw new Error('load generator: loopback only');
}

/** One GET on a fresh connection; resolves to the status code or throws with a reason. */
function getOnce(host: string, port: number, path: string, timeoutMs = 5000): Promise<number> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let done = false;
    const finish = (err: Error | null, status?: number) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(status!);
    };
    const timer = setTimeout(() => finish(new Error('timeout')), timeoutMs);
    Bun.connect({
      hostname: host,
      port,
      socket: {
        open(s) {
          s.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: close\r\nUser-Agent: registry-load\r\n\r\n`);
        },
        data(_s, chunk) {
          buf += new TextDecoder().decode(chunk);
        },
        close(_s, err) {
          // Bun hands a reset to `close`, not to `error`
          if (err) return finish(new Error((err as NodeJS.ErrnoException).code ?? err.message));
          const m = /^HTTP\/1\.1 (\d{3})/.exec(buf);
          if (m) finish(null, Number(m[1]));
          else finish(new Error(buf.length ? 'malformed' : 'closed without reply'));
        },
        error(_s, err) {
          finish(new Error((err as NodeJS.ErrnoException).code ?? err.message));
        },
        connectError(_s, err) {
          finish(new Error(`connect ${(err as NodeJS.ErrnoException).code ?? err.message}`));
        },
      },
    }).catch((err: NodeJS.ErrnoException) => finish(new Error(`connect ${err.code ?? err.message}`)));
  });
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const max = o.maxRequests ?? 1_000_000;
  const result: LoadResult = { requests: 0, ok: 0, failures: 0, reasons: {}, latenciesMs: [], failureAtMs: [], elapsedMs: 0 };
  const start = performance.now();
  const end = start + o.durationMs;
  const loop = async () => {
    while (performance.now() < end && result.requests < max) {
      result.requests++;
      const t = performance.now();
      try {
        const status = await getOnce(o.host, o.port, o.path, o.timeoutMs);
        result.latenciesMs.push(performance.now() - t);
        if (status >= 200 && status < 300) result.ok++;
        else {
          result.failures++;
          result.failureAtMs.push(performance.now() - start);
          result.reasons[`HTTP ${status}`] = (result.reasons[`HTTP ${status}`] ?? 0) + 1;
        }
      } catch (e) {
        result.failures++;
        result.failureAtMs.push(performance.now() - start);
        const reason = (e as Error).message;
        result.reasons[reason] = (result.reasons[reason] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, loop));
  result.elapsedMs = performance.now() - start;
  return result;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
