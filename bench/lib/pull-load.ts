/**
 * Load generator of bench/scale-out.ts, run as its own process so that its CPU can be told apart
 * from the servers': `concurrency` closed loops, each doing full V1 pulls of `repo:tag` one after
 * the other — GET repository images (index), GET tags, GET ancestry, then per image (root first)
 * GET json and GET layer, bodies read to the end and counted. Pull number k goes to
 * `urls[k % urls.length]`, so with two nodes the pulls alternate between them. Layer GETs follow
 * redirects (STORAGE_REDIRECT: a 302 to a presigned S3 URL); every URL, redirect targets
 * included, must be on 127.0.0.1. Bounded by `durationMs` and `maxPulls` (pulls in flight at the
 * deadline finish and count). With `verify`, each layer is also hashed and compared.
 *
 *   bun bench/lib/pull-load.ts '<json PullLoadConfig>'   → one line of JSON PullLoadResult on stdout
 */

export interface PullLoadConfig {
  urls: string[];
  repo: string;
  tag: string;
  concurrency: number;
  durationMs: number;
  maxPulls: number;
  /** layer bytes one complete pull must read */
  bytesPerPull: number;
  /** image id → sha256 hex of its layer: hash every layer read and compare */
  verify?: Record<string, string>;
  /** per-request timeout */
  timeoutMs?: number;
}

export interface PullLoadResult {
  pulls: number;
  failures: number;
  reasons: Record<string, number>;
  /** per successful pull, ms */
  latenciesMs: number[];
  /** layer bytes of successful pulls */
  bytes: number;
  /** layer GETs answered through a redirect */
  redirectedLayerGets: number;
  layerGets: number;
  /** pulls per node URL (successful) */
  perUrl: Record<string, number>;
  elapsedMs: number;
  /** this process's CPU over the window (user + system), seconds */
  cpuS: number;
}

const LOOPBACK = new Set(['127.0.0.1']);

function loopbackOnly(u: string): void {
  const h = new URL(u).hostname;
  if (!LOOPBACK.has(h)) throw new Error(`pull-load: loopback only, got ${u}`);
}

async function get(url: string, timeoutMs: number, headers: Record<string, string> = {}): Promise<Response> {
  const r = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
  loopbackOnly(r.url);
  if (r.status !== 200) {
    await r.arrayBuffer().catch(() => {});
    throw new Error(`HTTP ${r.status} ${new URL(url).pathname.split('/').slice(-1)[0]}`);
  }
  return r;
}

/** Reads a body to the end; its length, and its sha256 when asked. */
async function drain(r: Response, hash: boolean): Promise<{ n: number; sha256?: string }> {
  const h = hash ? new Bun.CryptoHasher('sha256') : null;
  let n = 0;
  const reader = r.body!.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    h?.update(value);
  }
  return { n, sha256: h?.digest('hex') };
}

async function pullOnce(base: string, cfg: PullLoadConfig, out: PullLoadResult): Promise<number> {
  const t = cfg.timeoutMs ?? 60_000;
  const { repo, tag } = cfg;
  await (await get(`${base}/v1/repositories/${repo}/images`, t, { 'x-docker-token': 'true' })).arrayBuffer();
  const tags = (await (await get(`${base}/v1/repositories/${repo}/tags`, t)).json()) as Record<string, string>;
  const top = tags[tag];
  if (!top) throw new Error(`tag ${tag} missing`);
  const ancestry = (await (await get(`${base}/v1/images/${top}/ancestry`, t)).json()) as string[];
  let bytes = 0;
  for (const id of [...ancestry].reverse()) {
    await (await get(`${base}/v1/images/${id}/json`, t)).arrayBuffer();
    const r = await get(`${base}/v1/images/${id}/layer`, t);
    out.layerGets++;
    if (r.redirected) out.redirectedLayerGets++;
    const want = cfg.verify?.[id];
    const got = await drain(r, want !== undefined);
    if (want !== undefined && got.sha256 !== want) throw new Error(`layer ${id.slice(0, 12)}: sha256 mismatch`);
    bytes += got.n;
  }
  if (bytes !== cfg.bytesPerPull) throw new Error(`pull read ${bytes} layer bytes, expected ${cfg.bytesPerPull}`);
  return bytes;
}

async function pullLoad(cfg: PullLoadConfig): Promise<PullLoadResult> {
  for (const u of cfg.urls) loopbackOnly(u);
  const out: PullLoadResult = { pulls: 0, failures: 0, reasons: {}, latenciesMs: [], bytes: 0, redirectedLayerGets: 0, layerGets: 0, perUrl: {}, elapsedMs: 0, cpuS: 0 };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + cfg.durationMs;
  let started = 0;
  const loop = async () => {
    while (performance.now() < deadline && started < cfg.maxPulls) {
      const k = started++;
      const base = cfg.urls[k % cfg.urls.length]!;
      const t = performance.now();
      try {
        out.bytes += await pullOnce(base, cfg, out);
        out.latenciesMs.push(performance.now() - t);
        out.pulls++;
        out.perUrl[base] = (out.perUrl[base] ?? 0) + 1;
      } catch (e) {
        out.failures++;
        const reason = String((e as Error)?.message ?? e).slice(0, 120);
        out.reasons[reason] = (out.reasons[reason] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: cfg.concurrency }, loop));
  out.elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  out.cpuS = (cpu.user + cpu.system) / 1e6;
  return out;
}

if (import.meta.main) {
  const cfg = JSON.parse(process.argv[2] ?? '') as PullLoadConfig;
  const r = await pullLoad(cfg);
  process.stdout.write(`${JSON.stringify(r)}\n`);
}
