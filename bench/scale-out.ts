/**
 * Scale-out: pull throughput of one node over fs + SQLite (the default) against one and two nodes
 * over a shared PostgreSQL and a shared S3 endpoint, proxied and redirected, on loopback.
 *
 *   bun bench/scale-out.ts
 *
 * Env: BENCH_SCALEOUT_SECONDS (10) measuring window per scenario, BENCH_SCALEOUT_PULLERS (4)
 * concurrent pullers, BENCH_SCALEOUT_MAX_PULLS (400) cap on pulls per scenario.
 *
 * Started here, all on 127.0.0.1, and all stopped and deleted at the end (also on failure or a
 * signal): one throwaway PostgreSQL 15 cluster (dev/postgres.ts: initdb in /dev/shm,
 * fsync off, killed with this process), one S3 endpoint (Ceph RADOS Gateway from
 * scripts/ceph-start.sh when `radosgw` is installed, else fauxqs in this process; see
 * lib/s3-server.ts), and registry nodes, each a supervisor with REGISTRY_WORKERS=1:
 *   A  1 node, fs + SQLite                        (baseline)
 *   B  1 node, PostgreSQL + S3, proxied          (layer bytes stream through the node)
 *   C  2 nodes, PostgreSQL + S3, proxied          (pulls alternate between the nodes)
 *   D  2 nodes, PostgreSQL + S3, STORAGE_REDIRECT  (layer GETs: 302 to a presigned S3 URL, followed)
 * A 5-image repository (5 × 20 MiB random layers) is pushed once to the fs node and once, through
 * one node, to PostgreSQL + S3; the first two PostgreSQL nodes start together on the empty
 * database (the migration runs once, under the advisory lock), and the second is stopped during B. Per scenario: one verified pull
 * per node (every layer hashed), then `lib/pull-load.ts` in its own process for the window:
 * N closed loops of full V1 pulls (images, tags, ancestry, json + layer per image).
 * Generator check as in compare.ts: the generator's CPU (its own process.cpuUsage) against the
 * registry nodes', the S3 server's and PostgreSQL's (utime + stime from /proc) over the window.
 * Output: a markdown table on stdout and .bench-out/scale-out.json.
 */
import { SQL } from 'bun';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster, type PgCluster } from '../dev/postgres.ts';
import { hashFile, type Layer, v1Chain, v1Push, type V1Image } from './lib/clients.ts';
import { percentile } from './lib/load.ts';
import { children } from '../dev/processes.ts';
import { loadVerdict, run, snapshot, ticksSince } from './lib/procs.ts';
import type { PullLoadConfig, PullLoadResult } from './lib/pull-load.ts';
import { startBenchS3, stopCephSync, type BenchS3 } from './lib/s3-server.ts';
import { type Server, startOurs } from './lib/servers.ts';
import { clockTicks, fmt, loadAvg, machineInfo, startSession } from './lib/session.ts';
import { envNumber, OUT_DIR } from './lib/env.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const SECONDS = envNumber('BENCH_SCALEOUT_SECONDS', 10, 2, 120);
const PULLERS = envNumber('BENCH_SCALEOUT_PULLERS', 4, 1, 32);
const MAX_PULLS = envNumber('BENCH_SCALEOUT_MAX_PULLS', 400, 1, 10_000);
const LAYERS = 5;
const LAYER_MIB = 20;
const REPO = 'bench/scaleout';

// ---------------------------------------------------------------- environment

const clk = await clockTicks();
const machine = machineInfo();
const loadAtStart = loadAvg();
const pgVersion = (await run(['/usr/lib/postgresql/15/bin/postgres', '--version'], 5000).catch(() => null))?.stdout.trim() ?? 'not installed';
console.log(`machine: ${machine.nproc} × ${machine.cpu}, ${machine.memGiB} GiB; Linux ${machine.kernel}; load average at start ${loadAtStart}`);
console.log(`bun ${Bun.version}; ${pgVersion}`);
console.log(`${PULLERS} concurrent pullers, ${SECONDS} s per scenario (at most ${MAX_PULLS} pulls); image: ${LAYERS} × ${LAYER_MIB} MiB layers`);

// ---------------------------------------------------------------- process hygiene

const session = startSession('scaleout');
const { tmp, mark: MARK, stopServer } = session;
const CEPH_DIR = join(tmp, 'ceph');
let pg: PgCluster | null = null;
let s3: BenchS3 | null = null;

// Registered before the PostgreSQL helper installs its own handlers, so this one runs first; its
// process.exit() then runs the helper's 'exit' handler, which stops the cluster and deletes it.
// The S3 server is stopped also while ceph-start.sh is still running (s3 not set yet).
session.onSignals(['SIGINT', 'SIGTERM', 'SIGHUP'], () => (s3 ? s3.stopSync() : stopCephSync(CEPH_DIR)));

// ---------------------------------------------------------------- helpers

async function genLayer(path: string, mib: number): Promise<Layer> {
  const w = Bun.file(path).writer();
  for (let i = 0; i < mib; i++) w.write(crypto.getRandomValues(new Uint8Array(MiB)));
  await w.end();
  return { path, size: mib * MiB, sha256: (await hashFile(path)).sha256 };
}

/** The postmaster and its children (backends, background workers). */
function pgPids(): number[] {
  if (!pg) return [];
  try {
    const pid = Number(readFileSync(join(pg.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    return [pid, ...children(pid)];
  } catch {
    return [];
  }
}

/** Busy and total clock ticks of the whole machine (all CPUs), from the first line of /proc/stat. */
function machineTicks(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - f[4]!, total };
}

let counter = 0;
async function node(label: string, env: Record<string, string>): Promise<Server> {
  const n = ++counter;
  const s = await startOurs(join(tmp, `node-${n}`), 1, join(tmp, `node-${n}.log`), { ...MARK, ...env });
  s.name = label;
  return s;
}

async function pullLoad(cfg: PullLoadConfig): Promise<PullLoadResult> {
  const r = await run([process.execPath, join(import.meta.dir, 'lib', 'pull-load.ts'), JSON.stringify(cfg)], cfg.durationMs + 180_000);
  if (r.code !== 0) throw new Error(`pull-load exited ${r.code}: ${r.stderr.trim().slice(-1500)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as PullLoadResult;
}

interface Row {
  key: string;
  scenario: string;
  nodes: number;
  metadata: string;
  layers: string;
  pulls: number;
  failures: number;
  reasons: Record<string, number>;
  perNode: number[];
  mibPerS: number;
  pullsPerS: number;
  p50S: number;
  p99S: number;
  maxS: number;
  ratio: number | null;
  redirectedLayerGets: number;
  layerGets: number;
  elapsedS: number;
  cpu: { generatorPct: number; registryPct: number; s3Pct: number; pgPct: number; machinePct: number; otherPct: number; registryCpuSPerGiB: number };
  verdict: string;
  latenciesMs: number[];
}
const rows: Row[] = [];

// ---------------------------------------------------------------- main

let exitCode = 0;
const t0 = performance.now();
const info: Record<string, unknown> = {};

try {
  // ---- PostgreSQL and S3
  let t = performance.now();
  pg = await startCluster();
  const admin = new SQL({ url: pg.url(), max: 1 });
  await admin`CREATE DATABASE registry`;
  await admin.close();
  const dbUrl = pg.url('registry');
  info.postgresStartS = (performance.now() - t) / 1000;
  t = performance.now();
  s3 = await startBenchS3(CEPH_DIR);
  info.s3StartS = (performance.now() - t) / 1000;
  console.log(`S3 server: ${s3.description} at ${s3.endpoint} (ready in ${fmt(info.s3StartS as number, 1)} s); PostgreSQL at ${pg.url('registry')} (${fmt(info.postgresStartS as number, 1)} s)`);
  if (s3.kind === 'fauxqs') console.log('note: radosgw is not installed, so fauxqs (in this process) stands in: S3-side CPU is this process\'s');

  // ---- the image
  const files: Layer[] = [];
  for (let i = 0; i < LAYERS; i++) files.push(await genLayer(join(tmp, `layer-${i}`), LAYER_MIB));
  const chain: V1Image[] = await v1Chain(files);
  const verify = Object.fromEntries(chain.map((c) => [c.id, c.layer.sha256]));
  const bytesPerPull = LAYERS * LAYER_MIB * MiB;

  const s3Env = {
    REGISTRY_DB: dbUrl,
    STORAGE: 's3',
    S3_ENDPOINT: s3.endpoint,
    S3_BUCKET: s3.bucket,
    S3_REGION: s3.region,
    S3_ACCESS_KEY_ID: s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
    S3_PATH_STYLE: 'true',
  };
  const proxied = { ...s3Env, STORAGE_REDIRECT: 'false' };
  const redirected = { ...s3Env, STORAGE_REDIRECT: 'true' };

  const measure = async (key: string, scenario: string, metadata: string, layers: string, nodes: Server[]) => {
    const urls = nodes.map((n) => n.url);
    // one verified pull per node: the right bytes, from every node
    for (const url of urls) {
      const v = await pullLoad({ urls: [url], repo: REPO, tag: 'latest', concurrency: 1, durationMs: 60_000, maxPulls: 1, bytesPerPull, verify });
      if (v.pulls !== 1) throw new Error(`${scenario}: verified pull from ${url} failed: ${JSON.stringify(v.reasons)}`);
    }
    const regPids = () => nodes.flatMap((n) => n.servingPids());
    const before = { reg: snapshot(regPids()), s3: snapshot(s3!.pids()), pg: snapshot(pgPids()), self: process.cpuUsage(), machine: machineTicks() };
    const w0 = performance.now();
    const r = await pullLoad({ urls, repo: REPO, tag: 'latest', concurrency: PULLERS, durationMs: SECONDS * 1000, maxPulls: MAX_PULLS, bytesPerPull });
    const wallS = (performance.now() - w0) / 1000;
    const regS = ticksSince(before.reg, regPids()) / clk;
    const s3S = s3!.kind === 'fauxqs' ? (() => {
      const u = process.cpuUsage(before.self);
      return (u.user + u.system) / 1e6;
    })() : ticksSince(before.s3, s3!.pids()) / clk;
    const pgS = ticksSince(before.pg, pgPids()) / clk;
    const m = machineTicks();
    const machineS = (m.busy - before.machine.busy) / clk;
    const elapsedS = r.elapsedMs / 1000;
    const pct = (cpuS: number, over: number) => (100 * cpuS) / over;
    const generatorPct = pct(r.cpuS, elapsedS);
    // server CPU is read around the child's whole life (start-up included), so divide by that wall time
    const registryPct = pct(regS, wallS);
    const s3Pct = pct(s3S, wallS);
    const pgPct = pct(pgS, wallS);
    const serversPct = registryPct + s3Pct + pgPct;
    const machinePct = pct(machineS, wallS);
    // everything else that ran meanwhile: other users' processes, and kernel threads (ksoftirqd)
    const otherPct = Math.max(0, machinePct - pct(r.cpuS, wallS) - serversPct);
    const verdict =
      loadVerdict(generatorPct, serversPct) ??
      (machinePct >= 170 ? `machine saturated with other processes (${otherPct.toFixed(0)} %), generator < 90 % of a core` : 'neither saturated');
    const gib = r.bytes / GiB;
    const row: Row = {
      key,
      scenario,
      nodes: nodes.length,
      metadata,
      layers,
      pulls: r.pulls,
      failures: r.failures,
      reasons: r.reasons,
      perNode: urls.map((u) => r.perUrl[u] ?? 0),
      mibPerS: r.bytes / MiB / elapsedS,
      pullsPerS: r.pulls / elapsedS,
      p50S: percentile(r.latenciesMs, 50) / 1000,
      p99S: percentile(r.latenciesMs, 99) / 1000,
      maxS: Math.max(...r.latenciesMs) / 1000,
      ratio: null,
      redirectedLayerGets: r.redirectedLayerGets,
      layerGets: r.layerGets,
      elapsedS,
      cpu: { generatorPct, registryPct, s3Pct, pgPct, machinePct, otherPct, registryCpuSPerGiB: gib > 0 ? regS / gib : Number.NaN },
      verdict,
      latenciesMs: r.latenciesMs,
    };
    rows.push(row);
    console.error(`  ${scenario}: ${r.pulls} pulls (${r.failures} failed) in ${fmt(elapsedS)} s, ${fmt(row.mibPerS, 0)} MiB/s; CPU % generator ${fmt(generatorPct, 0)}, registry ${fmt(registryPct, 0)}, S3 ${fmt(s3Pct, 0)}, PostgreSQL ${fmt(pgPct, 0)}, rest of the machine ${fmt(otherPct, 0)}`);
    if (r.failures) console.error(`  failures: ${JSON.stringify(r.reasons)}`);
  };

  // ---- A: one node, fs + SQLite (the default)
  const a = await node('A fs+SQLite', { STORAGE: 'fs', REGISTRY_DB: '', STORAGE_REDIRECT: 'false' });
  t = performance.now();
  await v1Push(a.url, REPO, chain);
  info.pushFsS = (performance.now() - t) / 1000;
  await measure('A', '1 node, fs + SQLite (baseline)', 'SQLite', 'local disk, sendfile', [a]);
  await stopServer(a);

  // ---- two PostgreSQL + S3 nodes started together on the empty database; push through one
  t = performance.now();
  let [p1, p2] = await Promise.all([node('P1', proxied), node('P2', proxied)]);
  info.twoNodesStartOnEmptyDbS = (performance.now() - t) / 1000;
  t = performance.now();
  await v1Push(p1!.url, REPO, chain);
  info.pushPgS3S = (performance.now() - t) / 1000;
  console.log(`push of the image: fs + SQLite ${fmt(info.pushFsS as number)} s, PostgreSQL + S3 ${fmt(info.pushPgS3S as number)} s; two PostgreSQL nodes started together on the empty database in ${fmt(info.twoNodesStartOnEmptyDbS as number)} s`);

  // ---- B: one node, proxied (the second stopped meanwhile)
  await stopServer(p2);
  await measure('B', '1 node, PostgreSQL + S3, proxied', 'PostgreSQL', 'S3 through the node', [p1!]);

  // ---- C: two nodes, proxied
  p2 = await node('P2', proxied);
  await measure('C', '2 nodes, PostgreSQL + S3, proxied', 'PostgreSQL', 'S3 through the nodes', [p1!, p2]);
  await stopServer(p1);
  await stopServer(p2);

  // ---- D: two nodes, redirected
  const [r1, r2] = await Promise.all([node('R1', redirected), node('R2', redirected)]);
  await measure('D', '2 nodes, PostgreSQL + S3, STORAGE_REDIRECT=true', 'PostgreSQL', 'S3 directly (302, presigned)', [r1!, r2!]);
  await stopServer(r1);
  await stopServer(r2);

  // ---------------------------------------------------------------- output
  const base = rows.find((r) => r.key === 'A')!;
  for (const r of rows) r.ratio = base.mibPerS > 0 ? r.mibPerS / base.mibPerS : null;
  console.log(`\nS3: ${s3.description}; Bun ${Bun.version}; ${machine.nproc} × ${machine.cpu}; REGISTRY_WORKERS=1 per node; ${PULLERS} pullers, ${SECONDS} s\n`);
  console.log('| scenario | pulls (failed) | MiB/s | pulls/s | p50 pull s | p99 pull s | ratio to baseline | pulls per node | layer GETs redirected | registry CPU s/GiB |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.scenario} | ${r.pulls} (${r.failures}) | ${fmt(r.mibPerS, 0)} | ${fmt(r.pullsPerS)} | ${fmt(r.p50S)} | ${fmt(r.p99S)} | ${r.ratio === null ? '–' : `${r.ratio.toFixed(2)}×`} | ${r.perNode.join(' / ')} | ${r.redirectedLayerGets} of ${r.layerGets} | ${fmt(r.cpu.registryCpuSPerGiB)} |`);
  }
  console.log('\n| generator check: scenario | generator CPU % of one core | registry nodes % | S3 server % | PostgreSQL % | sum (of 200 %) | whole machine % (other processes) | verdict |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const c = r.cpu;
    console.log(`| ${r.scenario} | ${fmt(c.generatorPct, 0)} | ${fmt(c.registryPct, 0)} | ${fmt(c.s3Pct, 0)} | ${fmt(c.pgPct, 0)} | ${fmt(c.generatorPct + c.registryPct + c.s3Pct + c.pgPct, 0)} | ${fmt(c.machinePct, 0)} (${fmt(c.otherPct, 0)}) | ${r.verdict} |`);
  }
  const failed = rows.reduce((n, r) => n + r.failures, 0);
  if (failed) {
    console.error(`error: ${failed} pulls failed`);
    exitCode = 1;
  }
  if (rows.find((r) => r.key === 'D')!.redirectedLayerGets === 0) {
    console.error('error: STORAGE_REDIRECT=true but no layer GET was redirected');
    exitCode = 1;
  }
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(
    join(OUT_DIR, 'scale-out.json'),
    JSON.stringify(
      {
        date: new Date().toISOString(),
        machine,
        versions: { bun: Bun.version, postgres: pgVersion, s3: s3.description },
        s3: { kind: s3.kind, endpoint: s3.endpoint },
        loadAverage: { start: loadAtStart, end: loadAvg() },
        settings: { seconds: SECONDS, pullers: PULLERS, maxPulls: MAX_PULLS, layers: LAYERS, layerMiB: LAYER_MIB, workersPerNode: 1, clkTck: clk },
        info,
        rows,
        seconds: (performance.now() - t0) / 1000,
      },
      null,
      2,
    ) + '\n',
  );
  console.log(`\nload average at end ${loadAvg()}; ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  console.log(`written: ${join(OUT_DIR, 'scale-out.json')}`);
} catch (e) {
  console.error(e);
  exitCode = 1;
} finally {
  const left = await session.finish(async () => {
    if (s3) await s3.stop().catch((e) => console.error('stopping S3:', e));
    if (pg) await pg.destroy().catch((e) => console.error('stopping PostgreSQL:', e));
  });
  if (left.length) exitCode = 1;
  console.log(`cleanup: nodes, S3 server and PostgreSQL stopped, ${tmp} removed; processes of this run left: ${left.length}`);
}
process.exit(exitCode);
