/**
 * Side-by-side comparison: our registry (V1, and V2 against V2) against nginx (static files with
 * sendfile) and the distribution registry (V2), in one run, on loopback.
 *
 *   bun bench/compare.ts
 *
 * Env: BENCH_COMPARE_REPS (3) repetitions of every measurement (the median is reported),
 * BENCH_COMPARE_WRK_SECONDS (5), BENCH_COMPARE_BIG_MIB (1024) size of the big layer,
 * BENCH_COMPARE_CHUNK_MIB (16) PATCH size of the chunked V2 upload, BENCH_COMPARE_ONLY (comma list
 * of get,pulls,ping,meta,put,pushpull and, for V2, v2get,v2meta,v2put,skopeo) to run a subset.
 *
 * Setup (temp dir under $TMPDIR, removed at the end): random layer files of 10 MiB, 100 MiB,
 * 1 GiB and 5 × 20 MiB; nginx serves them from <tmp>/www (plus a 2-byte ping.json); the same
 * layers are pushed to our registry with the V1 protocol and to distribution with the V2 API.
 * Measurements:
 *  - layer GET (100 MiB, 1 GiB): curl, MiB/s; server CPU seconds per GiB from /proc/<pid>/stat
 *  - 32 concurrent pulls of the 10 MiB layer: wrk -t2 -c32, MiB/s (2 workers, and 1 worker)
 *  - tiny GETs: wrk -t2 -c64 --latency, /v1/_ping vs nginx /ping.json (2 workers, and 1 worker)
 *    and, like for like, with the access log on: ours in its default configuration (lines on
 *    stdout, redirected to a file) vs nginx's access_log to a file with buffer=64k flush=1s
 *  - metadata GETs: tags, tags/latest, image json, ancestry vs distribution's tags/list and
 *    manifest GET (schema2 Accept)
 *  - layer PUT (100 MiB, 1 GiB): curl -T, wall time and peak RSS (VmHWM) on a fresh server per
 *    repetition (ours: 2 workers, the busiest worker's VmHWM; distribution: POST + PUT ?digest=)
 *  - full V1 push and pull of a 5-layer image (sequential Bun client) vs V2 push and pull
 * V2 against V2 (same requests to both servers):
 *  - v2get: blob GET /v2/<name>/blobs/<digest> (100 MiB, big) with curl vs nginx sending the file
 *  - v2meta: manifest GET by tag with docker's Accept list, and tags list (10 tags), wrk -c64, vs
 *    distribution; both also against our own /v1/_ping
 *  - v2put: monolithic (POST, PUT ?digest= with the body, curl -T) and chunked (POST, PATCH
 *    chunks with Content-Range, PUT ?digest=, Bun fetch) blob uploads, 100 MiB and big, each on
 *    a freshly started server
 *  - skopeo: `skopeo copy` push (dir: → docker://) and pull (docker:// → dir:) of a 5 × 20 MiB
 *    image (dev/image-fixture.ts, new random layers per repetition), fresh repository per repetition
 * Every wrk and curl run is wrapped in /usr/bin/time: the generator's CPU is reported next to
 * the servers' CPU (the generator check). Nothing is pinned with taskset (see bench/README.md).
 * Output: a markdown table on stdout, .bench-out/compare.json and .bench-out/compare.svg.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { barChart, type Bar } from './lib/svg.ts';
import { DOCKER_PULL_ACCEPT, hashFile, type Layer, MANIFEST_V2, v1Chain, v1Pull, v1Push, v2ChunkedUpload, v2Pull, v2Push } from './lib/clients.ts';
import { curlGet, curlPut, v2CurlMonolithic } from './lib/curl.ts';
import { loadVerdict, median, nsSince, run, snapshot, statusBytes, ticksSince } from './lib/procs.ts';
import { checkPulled, freshSeed, skopeoCopy, writeDirImage } from './lib/skopeo.ts';
import { type Server, startDistribution, startNginx, startOurs, which } from './lib/servers.ts';
import { clockTicks, fmt, loadAvg, machineInfo, startSession, toolVersion } from './lib/session.ts';
import { wrk, type WrkResult } from './lib/wrk.ts';
import { envNumber, OUT_DIR } from './lib/env.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const REPS = envNumber('BENCH_COMPARE_REPS', 3, 1, 10);
const WRK_S = envNumber('BENCH_COMPARE_WRK_SECONDS', 5, 1, 30);
const BIG_MIB = envNumber('BENCH_COMPARE_BIG_MIB', 1024, 16, 4096);
const CHUNK_MIB = envNumber('BENCH_COMPARE_CHUNK_MIB', 16, 1, 1024);
const ONLY = process.env.BENCH_COMPARE_ONLY?.split(',');
const want = (s: string) => !ONLY || ONLY.includes(s);

// ---------------------------------------------------------------- environment

const bins = { nginx: which('nginx'), wrk: which('wrk'), dist: which('docker-registry'), curl: which('curl'), skopeo: which('skopeo') };
if (!bins.curl) throw new Error('curl is required');
const clk = await clockTicks();
const machine = machineInfo();
const firstLine = (s: string) => s.trim().split('\n')[0] ?? '';
const versions = {
  bun: Bun.version,
  nginx: bins.nginx ? firstLine((await run([bins.nginx, '-v'], 5000)).stderr).replace(/^nginx version: /, '') : null,
  wrk: bins.wrk ? (/wrk (\S+)/.exec((await run([bins.wrk, '-v'], 5000)).stdout)?.[1] ?? '?') : null,
  distribution: await toolVersion(bins.dist),
  curl: (await toolVersion(bins.curl))!,
  skopeo: await toolVersion(bins.skopeo),
  kernel: machine.kernel,
};
const loadAtStart = loadAvg();

console.log(`machine: ${machine.nproc} × ${machine.cpu}, ${machine.memGiB} GiB; Linux ${versions.kernel}; load average at start ${loadAtStart}`);
console.log(`bun ${versions.bun}; nginx ${versions.nginx ?? '-'}; wrk ${versions.wrk ?? '-'}; ${versions.distribution ?? 'distribution -'}; ${versions.skopeo ?? 'skopeo -'}; ${versions.curl}`);
if (!bins.nginx) console.log('SKIP: nginx not installed (apt-get install nginx-light): no nginx baselines');
if (!bins.dist) console.log('SKIP: docker-registry not installed (apt-get install docker-registry): no distribution baselines');
if (!bins.wrk) console.log('SKIP: wrk not installed (apt-get install wrk): no concurrent pulls, tiny GETs or metadata GETs');
if (!bins.skopeo) console.log('SKIP: skopeo not installed (apt-get install skopeo): no skopeo push/pull');
console.log(`repetitions: ${REPS} (median reported); wrk: -t2, ${WRK_S} s per run; big layer ${BIG_MIB} MiB; V2 chunks ${CHUNK_MIB} MiB${ONLY ? `; only ${ONLY.join(',')}` : ''}\n`);

// ---------------------------------------------------------------- results

type Better = 'higher' | 'lower';
interface Row {
  group: string;
  scenario: string;
  unit: string;
  ours: number;
  baselineName: string | null;
  baseline: number | null;
  better: Better;
  /** ours / baseline */
  ratio: number | null;
  /** e.g. ">= 0.9" on the ratio, or "< 80" on the absolute value */
  target: string | null;
  met: boolean | null;
  samples: { ours: number[]; baseline: number[] };
  note?: string;
}
const rows: Row[] = [];
interface GenCheck {
  scenario: string;
  server: string;
  tool: string;
  elapsedS: number;
  generatorCpuS: number;
  serverCpuS: number;
  generatorPct: number;
  serverPct: number;
  verdict: string;
}
const genChecks: GenCheck[] = [];
const extra: Record<string, unknown> = {};

function addRow(r: Omit<Row, 'ratio' | 'met'> & { targetCheck?: (ratio: number, ours: number) => boolean }): Row {
  const ratio = r.baseline !== null && Number.isFinite(r.baseline) && r.baseline !== 0 ? r.ours / r.baseline : null;
  const met = r.targetCheck ? (ratio === null && r.target?.includes('×') ? null : r.targetCheck(ratio ?? Number.NaN, r.ours)) : null;
  const { targetCheck: _t, ...rest } = r;
  const row: Row = { ...rest, ratio, met };
  rows.push(row);
  return row;
}

function genCheck(scenario: string, server: string, tool: string, elapsedS: number, generatorCpuS: number, serverCpuS: number) {
  const generatorPct = (100 * generatorCpuS) / elapsedS;
  const serverPct = (100 * serverCpuS) / elapsedS;
  const verdict = loadVerdict(generatorPct, serverPct) ?? (serverPct >= 90 ? 'server ≥ 90 % of a core' : 'neither saturated');
  genChecks.push({ scenario, server, tool, elapsedS, generatorCpuS, serverCpuS, generatorPct, serverPct, verdict });
}

// ---------------------------------------------------------------- process hygiene

const session = startSession('compare');
const { tmp, mark: MARK, stopServer } = session;
session.onSignals(['SIGINT', 'SIGTERM']);

// ---------------------------------------------------------------- helpers

async function genFile(path: string, mib: number): Promise<Layer> {
  const r = await run(['dd', 'if=/dev/urandom', `of=${path}`, 'bs=1M', `count=${mib}`, 'status=none'], 300_000);
  if (r.code !== 0) throw new Error(`dd failed: ${r.stderr}`);
  const { sha256 } = await hashFile(path);
  return { path, size: mib * MiB, sha256 };
}

// ---------------------------------------------------------------- main

let ours: Server | null = null;
let nginx: Server | null = null;
let dist: Server | null = null;
let exitCode = 0;
const t0 = performance.now();
const wrkRuns: Record<string, WrkResult[]> = {};

try {
  // ---- layer files
  const www = join(tmp, 'www');
  mkdirSync(www, { recursive: true });
  writeFileSync(join(www, 'ping.json'), '{}');
  console.error('generating layer files…');
  const L10 = await genFile(join(www, 'layer-10m'), 10);
  const L100 = await genFile(join(www, 'layer-100m'), 100);
  const LBIG = await genFile(join(www, 'layer-big'), BIG_MIB);
  const IMG: Layer[] = [];
  for (let i = 1; i <= 5; i++) IMG.push(await genFile(join(www, `img-${i}`), 20));
  // a small blob that warms up a server's V2 paths before a timed V2 upload
  const warm = await genFile(join(tmp, 'warm-1m'), 1);
  const bigLabel = BIG_MIB === 1024 ? '1 GiB' : `${BIG_MIB} MiB`;

  // ---- servers
  const oursStorage = join(tmp, 'ours');
  ours = await startOurs(oursStorage, 2, join(tmp, 'ours.log'), MARK);
  if (bins.nginx) nginx = await startNginx(bins.nginx, join(tmp, 'nginx'), www, 2);
  if (bins.dist) dist = await startDistribution(join(tmp, 'dist'));
  console.error(`servers: ours ${ours.url} (workers ${ours.servingPids().slice(1).join(',')})${nginx ? `, nginx ${nginx.url}` : ''}${dist ? `, distribution ${dist.url}` : ''}`);

  // ---- content: single-layer images for the GETs, and the 5-layer image (timed push/pull)
  const [c10] = await v1Chain([L10]);
  const [c100] = await v1Chain([L100]);
  const [cBig] = await v1Chain([LBIG]);
  await v1Push(ours.url, 'bench/l10', [c10!]);
  await v1Push(ours.url, 'bench/l100', [c100!]);
  await v1Push(ours.url, 'bench/lbig', [cBig!]);

  let appRepo = '';
  let appTop = '';
  if (want('pushpull') || want('meta')) {
    const push: number[] = [];
    const pull: number[] = [];
    const push2: number[] = [];
    const pull2: number[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      const chain = await v1Chain(IMG); // fresh ids per repetition: V1 images are immutable
      const repo = `bench/app${rep}`;
      let t = performance.now();
      await v1Push(ours.url, repo, chain);
      push.push((performance.now() - t) / 1000);
      t = performance.now();
      const got = await v1Pull(ours.url, repo);
      pull.push((performance.now() - t) / 1000);
      if (got !== 5 * 20 * MiB) throw new Error(`V1 pull got ${got} bytes`);
      if (rep === 0) {
        appRepo = repo;
        appTop = chain[chain.length - 1]!.id;
      }
      if (dist) {
        t = performance.now();
        await v2Push(dist.url, repo, IMG);
        push2.push((performance.now() - t) / 1000);
        t = performance.now();
        const got2 = await v2Pull(dist.url, repo);
        pull2.push((performance.now() - t) / 1000);
        if (got2 !== 5 * 20 * MiB) throw new Error(`V2 pull got ${got2} bytes`);
      }
    }
    if (want('pushpull')) {
      addRow({ group: 'push/pull', scenario: 'V1 push, 5 × 20 MiB layers (sequential client)', unit: 's', ours: median(push), baselineName: dist ? 'distribution V2 push' : null, baseline: dist ? median(push2) : null, better: 'lower', target: null, samples: { ours: push, baseline: push2 } });
      addRow({ group: 'push/pull', scenario: 'V1 pull, 5 × 20 MiB layers (sequential client)', unit: 's', ours: median(pull), baselineName: dist ? 'distribution V2 pull' : null, baseline: dist ? median(pull2) : null, better: 'lower', target: null, samples: { ours: pull, baseline: pull2 } });
    }
  }

  // ---- V2 content on ours: the two big blobs (for the blob GETs); on both servers the 5-layer image
  // under V2_TAGS (for the manifest and tags list GETs)
  const V2_BLOBS = 'bench/v2blobs';
  const V2_APP = 'bench/v2app';
  const V2_TAGS = ['latest', ...Array.from({ length: 9 }, (_, i) => `1.${i}`)];
  if (want('v2get')) await v2Push(ours.url, V2_BLOBS, [L100, LBIG]);
  if (want('v2meta')) {
    for (const s of [ours, dist]) {
      if (!s) continue;
      for (const tag of V2_TAGS) await v2Push(s.url, V2_APP, IMG, tag);
      // the same answer from both before measuring: schema2 for docker's Accept, every tag listed
      const m = await fetch(`${s.url}/v2/${V2_APP}/manifests/latest`, { headers: { accept: DOCKER_PULL_ACCEPT } });
      await m.arrayBuffer();
      if (m.status !== 200 || m.headers.get('content-type') !== MANIFEST_V2) throw new Error(`${s.name}: manifest GET ${m.status} ${m.headers.get('content-type')}`);
      const t = (await (await fetch(`${s.url}/v2/${V2_APP}/tags/list`)).json()) as { tags?: string[] };
      if (t.tags?.length !== V2_TAGS.length) throw new Error(`${s.name}: tags/list ${JSON.stringify(t)}`);
    }
  }

  // ---- layer GET (V1) and blob GET (V2) with curl, against nginx sending the same file
  const curlGets = async (what: string, group: string, label: string, oursUrl: string, file: string, size: number) => {
    const res = { ours: { mibs: [] as number[], cpu: [] as number[], cpuNs: [] as number[], client: [] as number[] }, nginx: { mibs: [] as number[], cpu: [] as number[], cpuNs: [] as number[], client: [] as number[] } };
    // warm-up: both files in the page cache, connections code paths hot
    await curlGet(bins.curl!, oursUrl);
    if (nginx) await curlGet(bins.curl!, `${nginx.url}/${file}`);
    for (let rep = 0; rep < REPS; rep++) {
      for (const [who, server, url] of [['ours', ours!, oursUrl], ...(nginx ? [['nginx', nginx, `${nginx.url}/${file}`] as const] : [])] as const) {
        const before = snapshot(server.servingPids());
        const g = await curlGet(bins.curl!, url);
        const serverCpuS = ticksSince(before, server.servingPids()) / clk;
        const serverNsCpuS = nsSince(before, server.servingPids()) / 1e9;
        if (g.size !== size) throw new Error(`${who} GET returned ${g.size} bytes`);
        res[who].mibs.push(g.bytesPerS / MiB);
        res[who].cpu.push(serverCpuS / (size / GiB));
        res[who].cpuNs.push(serverNsCpuS / (size / GiB));
        res[who].client.push(g.clientCpuS);
        genCheck(`${what} ${label}`, who, 'curl', g.seconds, g.clientCpuS, serverCpuS);
      }
    }
    const b = nginx ? 'nginx sendfile' : null;
    addRow({ group, scenario: `${what} ${label} (curl), throughput`, unit: 'MiB/s', ours: median(res.ours.mibs), baselineName: b, baseline: b && median(res.nginx.mibs), better: 'higher', target: '≥ 0.9×', targetCheck: (r) => r >= 0.9, samples: { ours: res.ours.mibs, baseline: res.nginx.mibs } });
    addRow({ group, scenario: `${what} ${label}, server CPU per GiB (utime+stime)`, unit: 'CPU s/GiB', ours: median(res.ours.cpu), baselineName: b, baseline: b && median(res.nginx.cpu), better: 'lower', target: null, samples: { ours: res.ours.cpu, baseline: res.nginx.cpu } });
    addRow({ group, scenario: `${what} ${label}, server CPU per GiB (schedstat ns)`, unit: 'CPU s/GiB', ours: median(res.ours.cpuNs), baselineName: b, baseline: b && median(res.nginx.cpuNs), better: 'lower', target: null, samples: { ours: res.ours.cpuNs, baseline: res.nginx.cpuNs } });
    extra[`curlClientCpuS ${what} ${label}`] = { ours: res.ours.client, nginx: res.nginx.client };
  };
  if (want('get')) {
    for (const [label, img, file] of [['100 MiB', c100!, 'layer-100m'], [bigLabel, cBig!, 'layer-big']] as const) {
      await curlGets('layer GET', 'layer GET', label, `${ours.url}/v1/images/${img.id}/layer`, file, img.layer.size);
    }
  }
  if (want('v2get')) {
    for (const [label, layer, file] of [['100 MiB', L100, 'layer-100m'], [bigLabel, LBIG, 'layer-big']] as const) {
      await curlGets('V2 blob GET /v2/<name>/blobs/<digest>', 'V2 blob GET', label, `${ours.url}/v2/${V2_BLOBS}/blobs/sha256:${layer.sha256}`, file, layer.size);
    }
  }

  // ---- skopeo: a full push (dir: → docker://) and pull (docker:// → dir:) of the same image to and
  // from each server, a fresh repository and tag per repetition, the two servers' order alternating
  if (want('skopeo') && bins.skopeo) {
    const SK_LAYERS = 5;
    const SK_MIB = 20;
    const r = { oursPush: [] as number[], oursPull: [] as number[], distPush: [] as number[], distPull: [] as number[] };
    // fresh layer contents per repetition and run (skopeo's blob info cache would skip the uploads)
    const seed0 = freshSeed();
    for (const s of [ours, dist]) if (s) await v2Push(s.url, 'bench/warm', [warm]);
    for (let rep = 0; rep < REPS; rep++) {
      const src = join(tmp, `skopeo-src-${rep}`);
      const sizes = await writeDirImage(src, SK_LAYERS, SK_MIB, seed0 + rep);
      const servers = [['ours', ours] as const, ...(dist ? [['distribution', dist] as const] : [])];
      for (const [who, server] of rep % 2 ? servers.reverse() : servers) {
        const ref = `docker://${server.url.replace(/^http:\/\//, '')}/bench/skopeo${rep}:r${rep}`;
        let before = snapshot(server.servingPids());
        const push = await skopeoCopy(bins.skopeo, `dir:${src}`, ref, tmp);
        genCheck('skopeo push', who, 'skopeo copy', push.elapsedS, push.cpuS, ticksSince(before, server.servingPids()) / clk);
        const dst = join(tmp, `skopeo-pull-${who}-${rep}`);
        before = snapshot(server.servingPids());
        const pull = await skopeoCopy(bins.skopeo, ref, `dir:${dst}`, tmp);
        genCheck('skopeo pull', who, 'skopeo copy', pull.elapsedS, pull.cpuS, ticksSince(before, server.servingPids()) / clk);
        checkPulled(dst, sizes, who);
        rmSync(dst, { recursive: true, force: true });
        r[who === 'ours' ? 'oursPush' : 'distPush'].push(push.elapsedS);
        r[who === 'ours' ? 'oursPull' : 'distPull'].push(pull.elapsedS);
      }
      rmSync(src, { recursive: true, force: true });
    }
    const b = dist ? 'distribution, same image' : null;
    const image = `${SK_LAYERS} × ${SK_MIB} MiB layers`;
    addRow({ group: 'skopeo', scenario: `skopeo push, ${image} (dir: → docker://), wall time`, unit: 's', ours: median(r.oursPush), baselineName: b, baseline: b && median(r.distPush), better: 'lower', target: '≤ 0.7×', targetCheck: (x) => x <= 0.7, samples: { ours: r.oursPush, baseline: r.distPush } });
    addRow({ group: 'skopeo', scenario: `skopeo pull, ${image} (docker:// → dir:), wall time`, unit: 's', ours: median(r.oursPull), baselineName: b, baseline: b && median(r.distPull), better: 'lower', target: '≤ 0.7×', targetCheck: (x) => x <= 0.7, samples: { ours: r.oursPull, baseline: r.distPull } });
  }

  // ---- wrk scenarios
  const wrkRun = async (key: string, server: Server, url: string, o: Parameters<typeof wrk>[2]) => {
    const r = await wrk(bins.wrk!, url, o, () => server.servingPids(), clk);
    (wrkRuns[key] ??= []).push(r);
    genCheck(key, server.name, `wrk -t${o.threads} -c${o.connections}`, r.elapsedS, r.wrkCpuS, r.serverCpuS);
    if (r.non2xx || r.socketErrors) console.error(`  note: ${key}: ${r.non2xx} non-2xx, ${r.socketErrors} socket errors`);
    return r;
  };
  const med = (key: string, f: (r: WrkResult) => number) => median((wrkRuns[key] ?? []).map(f));
  const samples = (key: string, f: (r: WrkResult) => number) => (wrkRuns[key] ?? []).map(f);
  const pullOpts = { threads: 2, connections: 32, seconds: WRK_S };
  const tinyOpts = { threads: 2, connections: 64, seconds: WRK_S, latency: true };
  const pullMiBs = (r: WrkResult) => (r.reqPerSec * L10.size) / MiB;
  const acceptOpts = { ...tinyOpts, headers: [`Accept: ${DOCKER_PULL_ACCEPT}`] };

  if (bins.wrk) {
    const layer10 = `${ours.url}/v1/images/${c10!.id}/layer`;
    for (let rep = 0; rep < REPS; rep++) {
      if (want('pulls')) {
        await wrkRun('pulls10 ours2', ours, layer10, pullOpts);
        if (nginx) await wrkRun('pulls10 nginx', nginx, `${nginx.url}/layer-10m`, pullOpts);
      }
      if (want('ping')) {
        await wrkRun('ping ours2', ours, `${ours.url}/v1/_ping`, tinyOpts);
        if (nginx) await wrkRun('ping nginx', nginx, `${nginx.url}/ping.json`, tinyOpts);
      }
      if (want('meta') && appRepo) {
        await wrkRun('meta tags', ours, `${ours.url}/v1/repositories/${appRepo}/tags`, tinyOpts);
        await wrkRun('meta tag', ours, `${ours.url}/v1/repositories/${appRepo}/tags/latest`, tinyOpts);
        await wrkRun('meta json', ours, `${ours.url}/v1/images/${appTop}/json`, tinyOpts);
        await wrkRun('meta ancestry', ours, `${ours.url}/v1/images/${appTop}/ancestry`, tinyOpts);
        if (dist) {
          await wrkRun('meta dist tags/list', dist, `${dist.url}/v2/${appRepo}/tags/list`, tinyOpts);
          await wrkRun('meta dist manifest', dist, `${dist.url}/v2/${appRepo}/manifests/latest`, { ...tinyOpts, headers: [`Accept: ${MANIFEST_V2}`] });
        }
      }
      if (want('v2meta')) {
        await wrkRun('v2 manifest ours', ours, `${ours.url}/v2/${V2_APP}/manifests/latest`, acceptOpts);
        if (dist) await wrkRun('v2 manifest dist', dist, `${dist.url}/v2/${V2_APP}/manifests/latest`, acceptOpts);
        await wrkRun('v2 tags ours', ours, `${ours.url}/v2/${V2_APP}/tags/list`, tinyOpts);
        if (dist) await wrkRun('v2 tags dist', dist, `${dist.url}/v2/${V2_APP}/tags/list`, tinyOpts);
        // the context rows need our own _ping in the same window
        if (!want('ping')) await wrkRun('ping ours2', ours, `${ours.url}/v1/_ping`, tinyOpts);
      }
    }
  }

  // ---- 1 worker (scaling): same storage, the 2-worker registry stopped first
  await stopServer(ours);
  if (bins.wrk && (want('pulls') || want('ping'))) {
    ours = await startOurs(oursStorage, 1, join(tmp, 'ours1.log'), MARK);
    for (let rep = 0; rep < REPS; rep++) {
      if (want('pulls')) await wrkRun('pulls10 ours1', ours, `${ours.url}/v1/images/${c10!.id}/layer`, pullOpts);
      if (want('ping')) await wrkRun('ping ours1', ours, `${ours.url}/v1/_ping`, tinyOpts);
    }
    await stopServer(ours);
  }

  // ---- access log on: ours in its default configuration (access log lines on stdout, here a
  // file), nginx logging the same requests to a file, buffered; 2 workers each, same storage
  const logLines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
  if (bins.wrk && want('ping')) {
    const oursLog = join(tmp, 'ours-access.log');
    const nginxLog = join(tmp, 'nginx-access.log');
    ours = await startOurs(oursStorage, 2, join(tmp, 'ours-log.log'), MARK, oursLog);
    const logging = bins.nginx ? await startNginx(bins.nginx, join(tmp, 'nginx-log'), www, 2, nginxLog) : null;
    for (let rep = 0; rep < REPS; rep++) {
      await wrkRun('ping ours2 log', ours, `${ours.url}/v1/_ping`, tinyOpts);
      if (logging) await wrkRun('ping nginx log', logging, `${logging.url}/ping.json`, tinyOpts);
    }
    await stopServer(ours);
    await stopServer(logging);
    // every request must have left its line (stopping flushes nginx's buffer)
    extra.accessLogLines = { ours: logLines(oursLog), nginx: logging ? logLines(nginxLog) : null };
  }

  if (bins.wrk) {
    const n = nginx ? 'nginx' : null;
    if (want('pulls')) {
      addRow({ group: 'concurrent pulls', scenario: '32 concurrent pulls of 10 MiB (wrk -c32), 2 workers', unit: 'MiB/s', ours: med('pulls10 ours2', pullMiBs), baselineName: n && 'nginx sendfile, 2 workers', baseline: n && med('pulls10 nginx', pullMiBs), better: 'higher', target: '≥ 0.9×', targetCheck: (r) => r >= 0.9, samples: { ours: samples('pulls10 ours2', pullMiBs), baseline: samples('pulls10 nginx', pullMiBs) } });
      addRow({ group: 'concurrent pulls', scenario: '32 concurrent pulls of 10 MiB, 1 worker', unit: 'MiB/s', ours: med('pulls10 ours1', pullMiBs), baselineName: n && 'nginx sendfile, 2 workers', baseline: n && med('pulls10 nginx', pullMiBs), better: 'higher', target: null, samples: { ours: samples('pulls10 ours1', pullMiBs), baseline: samples('pulls10 nginx', pullMiBs) } });
    }
    if (want('ping')) {
      const rps = (r: WrkResult) => r.reqPerSec;
      const p99 = (r: WrkResult) => r.p99Ms;
      addRow({ group: 'tiny GET', scenario: 'GET /v1/_ping (wrk -c64), 2 workers', unit: 'req/s', ours: med('ping ours2', rps), baselineName: n && 'nginx /ping.json', baseline: n && med('ping nginx', rps), better: 'higher', target: '≥ 1.0×', targetCheck: (r) => r >= 1.0, samples: { ours: samples('ping ours2', rps), baseline: samples('ping nginx', rps) } });
      addRow({ group: 'tiny GET', scenario: 'GET /v1/_ping p99 latency, 2 workers', unit: 'ms', ours: med('ping ours2', p99), baselineName: n && 'nginx /ping.json', baseline: n && med('ping nginx', p99), better: 'lower', target: null, samples: { ours: samples('ping ours2', p99), baseline: samples('ping nginx', p99) } });
      const lines = extra.accessLogLines as { ours: number; nginx: number | null } | undefined;
      const nl = n && lines?.nginx !== null ? 'nginx /ping.json, access_log buffer=64k flush=1s' : null;
      const logNote = lines && `access log lines written: ours ${lines.ours}, nginx ${lines.nginx ?? '–'}; nginx's own cost of its log: ${fmt(med('ping nginx log', rps) / med('ping nginx', rps))}× the req/s without`;
      addRow({ group: 'tiny GET', scenario: 'GET /v1/_ping (wrk -c64), 2 workers, access log on (ours: default, stdout to a file)', unit: 'req/s', ours: med('ping ours2 log', rps), baselineName: nl, baseline: nl && med('ping nginx log', rps), better: 'higher', target: null, samples: { ours: samples('ping ours2 log', rps), baseline: samples('ping nginx log', rps) }, ...(logNote ? { note: logNote } : {}) });
      addRow({ group: 'tiny GET', scenario: 'GET /v1/_ping p99 latency, 2 workers, access log on', unit: 'ms', ours: med('ping ours2 log', p99), baselineName: nl, baseline: nl && med('ping nginx log', p99), better: 'lower', target: null, samples: { ours: samples('ping ours2 log', p99), baseline: samples('ping nginx log', p99) } });
      addRow({ group: 'tiny GET', scenario: 'GET /v1/_ping, 1 worker', unit: 'req/s', ours: med('ping ours1', rps), baselineName: n && 'nginx /ping.json', baseline: n && med('ping nginx', rps), better: 'higher', target: null, samples: { ours: samples('ping ours1', rps), baseline: samples('ping nginx', rps) } });
    }
    if (want('pulls')) addRow({ group: 'scaling', scenario: 'scaling 1 → 2 workers: 32 × 10 MiB pulls', unit: 'MiB/s', ours: med('pulls10 ours2', pullMiBs), baselineName: 'ours, 1 worker', baseline: med('pulls10 ours1', pullMiBs), better: 'higher', target: null, samples: { ours: samples('pulls10 ours2', pullMiBs), baseline: samples('pulls10 ours1', pullMiBs) } });
    if (want('ping')) addRow({ group: 'scaling', scenario: 'access log cost: /v1/_ping with the log on vs off, 2 workers', unit: 'req/s', ours: med('ping ours2 log', (r) => r.reqPerSec), baselineName: 'ours, access log off', baseline: med('ping ours2', (r) => r.reqPerSec), better: 'higher', target: '≥ 0.9× (cost ≤ 10 %)', targetCheck: (r) => r >= 0.9, samples: { ours: samples('ping ours2 log', (r) => r.reqPerSec), baseline: samples('ping ours2', (r) => r.reqPerSec) } });
    if (want('ping')) addRow({ group: 'scaling', scenario: 'scaling 1 → 2 workers: /v1/_ping', unit: 'req/s', ours: med('ping ours2', (r) => r.reqPerSec), baselineName: 'ours, 1 worker', baseline: med('ping ours1', (r) => r.reqPerSec), better: 'higher', target: null, samples: { ours: samples('ping ours2', (r) => r.reqPerSec), baseline: samples('ping ours1', (r) => r.reqPerSec) } });
    if (want('meta') && appRepo) {
      const rps = (r: WrkResult) => r.reqPerSec;
      const d = dist ? 'dist' : null;
      const meta: [string, string, string, string, string | null, ((r: number) => boolean) | undefined][] = [
        ['tags list GET /v1/repositories/<repo>/tags', 'meta tags', 'GET /v2/<name>/tags/list', 'meta dist tags/list', '≥ 30×', (r) => r >= 30],
        ['tag lookup GET …/tags/latest', 'meta tag', 'GET /v2/<name>/tags/list', 'meta dist tags/list', null, undefined],
        ['image json GET /v1/images/<id>/json', 'meta json', 'GET /v2/<name>/manifests/latest (schema2)', 'meta dist manifest', null, undefined],
        ['ancestry GET /v1/images/<id>/ancestry', 'meta ancestry', 'GET /v2/<name>/manifests/latest (schema2)', 'meta dist manifest', null, undefined],
      ];
      for (const [scenario, key, bname, bkey, target, check] of meta) {
        addRow({ group: 'metadata GET', scenario: `${scenario} (wrk -c64)`, unit: 'req/s', ours: med(key, rps), baselineName: d && `distribution ${bname}`, baseline: d && med(bkey, rps), better: 'higher', target, targetCheck: check, samples: { ours: samples(key, rps), baseline: samples(bkey, rps) } });
      }
      // the framework's limit on this machine: a hot metadata GET against our own natively dispatched _ping
      if (want('ping')) {
        for (const [scenario, key] of meta.map(([sc, k]) => [sc, k] as const)) {
          addRow({ group: 'metadata GET', scenario: `${scenario} vs our own /v1/_ping (wrk -c64)`, unit: 'req/s', ours: med(key, rps), baselineName: 'ours GET /v1/_ping, 2 workers', baseline: med('ping ours2', rps), better: 'higher', target: '≥ 0.9×', targetCheck: (r) => r >= 0.9, samples: { ours: samples(key, rps), baseline: samples('ping ours2', rps) } });
        }
      }
    }
  }

  if (bins.wrk && want('v2meta')) {
    const rps = (r: WrkResult) => r.reqPerSec;
    const d = dist ? 'distribution, same request' : null;
    const v2meta: [string, string, string][] = [
      [`V2 manifest GET by tag /v2/<name>/manifests/latest, docker's Accept (wrk -c64)`, 'v2 manifest ours', 'v2 manifest dist'],
      [`V2 tags list GET /v2/<name>/tags/list, ${V2_TAGS.length} tags (wrk -c64)`, 'v2 tags ours', 'v2 tags dist'],
    ];
    for (const [scenario, key, bkey] of v2meta) {
      addRow({ group: 'V2 metadata GET', scenario, unit: 'req/s', ours: med(key, rps), baselineName: d, baseline: d && med(bkey, rps), better: 'higher', target: '≥ 30×', targetCheck: (r) => r >= 30, samples: { ours: samples(key, rps), baseline: samples(bkey, rps) } });
    }
    for (const [scenario, key] of v2meta) {
      addRow({ group: 'V2 metadata GET', scenario: scenario.replace(' (wrk -c64)', ' vs our own /v1/_ping (wrk -c64)'), unit: 'req/s', ours: med(key, rps), baselineName: 'ours GET /v1/_ping, 2 workers', baseline: med('ping ours2', rps), better: 'higher', target: null, samples: { ours: samples(key, rps), baseline: samples('ping ours2', rps) } });
    }
  }

  // ---- layer PUT: fresh servers per repetition (VmHWM is a lifetime peak)
  await stopServer(nginx);
  await stopServer(dist);
  if (want('put')) {
    for (const [label, layer] of [['100 MiB', L100], [bigLabel, LBIG]] as const) {
      const r = { oursS: [] as number[], oursHwm: [] as number[], oursAnon: [] as number[], oursFile: [] as number[], oursIdle: [] as number[], oursIdleRss: [] as number[], oursMaster: [] as number[], oursCpu: [] as number[], distS: [] as number[], distHwm: [] as number[], distIdle: [] as number[], distCpu: [] as number[] };
      for (let rep = 0; rep < REPS; rep++) {
        // ours
        const storage = join(tmp, `put-ours-${rep}`);
        const s = await startOurs(storage, 2, join(tmp, `put-ours-${rep}.log`), MARK);
        try {
          const [img] = await v1Chain([layer]);
          const jr = await fetch(`${s.url}/v1/images/${img!.id}/json`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: img!.json });
          if (jr.status !== 200) throw new Error(`PUT json ${jr.status}`);
          const workers = s.servingPids().slice(1);
          r.oursIdle.push(Math.max(...workers.map((p) => statusBytes(p, 'VmHWM'))) / MiB);
          r.oursIdleRss.push(Math.max(...workers.map((p) => statusBytes(p, 'VmRSS'))) / MiB);
          const before = snapshot(s.servingPids());
          // VmHWM counts the Bun executable's mapped pages (RssFile, shared by every process that
          // runs it) with the worker's own memory (RssAnon): sample both during the PUT
          let anonPeak = 0;
          let fileAtPeak = 0;
          const sample = () => {
            for (const p of workers) {
              const anon = statusBytes(p, 'RssAnon');
              if (anon > anonPeak) [anonPeak, fileAtPeak] = [anon, statusBytes(p, 'RssFile')];
            }
          };
          const sampler = setInterval(sample, 20);
          const c = await curlPut(bins.curl!, `${s.url}/v1/images/${img!.id}/layer`, layer.path, '200').finally(() => clearInterval(sampler));
          sample();
          r.oursAnon.push(anonPeak / MiB);
          r.oursFile.push(fileAtPeak / MiB);
          const cpuS = ticksSince(before, s.servingPids()) / clk;
          genCheck(`layer PUT ${label}`, 'ours', 'curl -T', c.seconds, c.clientCpuS, cpuS);
          r.oursCpu.push(cpuS / (layer.size / GiB));
          r.oursS.push(c.seconds);
          r.oursHwm.push(Math.max(...workers.map((p) => statusBytes(p, 'VmHWM'))) / MiB);
          r.oursMaster.push(statusBytes(s.proc.pid, 'VmHWM') / MiB);
        } finally {
          await stopServer(s);
          rmSync(storage, { recursive: true, force: true });
        }
        // distribution
        if (bins.dist) {
          const dir = join(tmp, `put-dist-${rep}`);
          const d = await startDistribution(dir);
          try {
            r.distIdle.push(statusBytes(d.proc.pid, 'VmHWM') / MiB);
            const before = snapshot(d.servingPids());
            const c = await v2CurlMonolithic(bins.curl!, d.url, 'bench/put', layer);
            const wall = c.seconds;
            const cpuS = ticksSince(before, d.servingPids()) / clk;
            genCheck(`layer PUT ${label}`, 'distribution', 'curl -T', wall, c.clientCpuS, cpuS);
            r.distCpu.push(cpuS / (layer.size / GiB));
            r.distS.push(wall);
            r.distHwm.push(statusBytes(d.proc.pid, 'VmHWM') / MiB);
          } finally {
            await stopServer(d);
            rmSync(dir, { recursive: true, force: true });
          }
        }
      }
      const b = bins.dist ? 'distribution POST + PUT ?digest=' : null;
      const isBig = layer === LBIG;
      addRow({ group: 'layer PUT', scenario: `layer PUT ${label} (curl -T), wall time`, unit: 's', ours: median(r.oursS), baselineName: b, baseline: b ? median(r.distS) : null, better: 'lower', target: '≤ 0.5×', targetCheck: (x) => x <= 0.5, samples: { ours: r.oursS, baseline: r.distS } });
      addRow({ group: 'layer PUT', scenario: `layer PUT ${label}, server CPU per GiB (utime+stime)`, unit: 'CPU s/GiB', ours: median(r.oursCpu), baselineName: b, baseline: b ? median(r.distCpu) : null, better: 'lower', target: null, samples: { ours: r.oursCpu, baseline: r.distCpu } });
      addRow({ group: 'layer PUT', scenario: `peak RSS of a worker during the ${label} PUT (VmHWM)`, unit: 'MiB', ours: median(r.oursHwm), baselineName: b && 'distribution VmHWM', baseline: b ? median(r.distHwm) : null, better: 'lower', target: isBig ? '< 80 MiB' : null, targetCheck: isBig ? (_x, o) => o < 80 : undefined, samples: { ours: r.oursHwm, baseline: r.distHwm }, note: `private memory (RssAnon, sampled every 20 ms) peak ${fmt(median(r.oursAnon), 1)} MiB + the shared Bun executable's pages (RssFile) ${fmt(median(r.oursFile), 1)} MiB; before the PUT (idle, after PUT json): ours VmHWM ${fmt(median(r.oursIdle), 1)} MiB, VmRSS ${fmt(median(r.oursIdleRss), 1)} MiB (largest worker), master ${fmt(median(r.oursMaster), 1)} MiB; distribution ${fmt(median(r.distIdle), 1)} MiB` });
    }
  }

  // ---- V2 blob PUT, monolithic and chunked: the same client against both servers, each
  // measurement on a freshly started server with empty storage (a blob both already hold would
  // be deduplicated), warmed up with one upload of a small other blob the same way (a fresh
  // worker's first V2 requests cost tens of ms), the two servers' order alternating
  if (want('v2put')) {
    type Upload = (url: string, layer: Layer) => Promise<{ seconds: number; clientCpuS: number }>;
    const monolithic: Upload = (url, layer) => v2CurlMonolithic(bins.curl!, url, 'bench/v2put', layer);
    const chunked: Upload = async (url, layer) => {
      const c0 = process.cpuUsage();
      const t = performance.now();
      await v2ChunkedUpload(url, 'bench/v2put', layer, CHUNK_MIB * MiB);
      const c = process.cpuUsage(c0);
      return { seconds: (performance.now() - t) / 1000, clientCpuS: (c.user + c.system) / 1e6 };
    };
    const modes: [string, string, string, Upload][] = [
      ['monolithic', 'POST, PUT ?digest= with the whole body (curl -T)', 'curl -T', monolithic],
      ['chunked', `POST, PATCH ${CHUNK_MIB} MiB chunks with Content-Range, PUT ?digest= (Bun fetch)`, 'bun fetch', chunked],
    ];
    for (const [mode, how, tool, upload] of modes) {
      for (const [label, layer] of [['100 MiB', L100], [bigLabel, LBIG]] as const) {
        const r = { ours: [] as number[], dist: [] as number[], oursCpu: [] as number[], distCpu: [] as number[] };
        for (let rep = 0; rep < REPS; rep++) {
          const order = bins.dist ? (rep % 2 ? ['distribution', 'ours'] : ['ours', 'distribution']) : ['ours'];
          for (const who of order) {
            const dir = join(tmp, `v2put-${who}-${rep}`);
            const s = who === 'ours' ? await startOurs(dir, 2, `${dir}.log`, MARK) : await startDistribution(dir);
            try {
              await upload(s.url, warm);
              const before = snapshot(s.servingPids());
              const u = await upload(s.url, layer);
              const cpuS = ticksSince(before, s.servingPids()) / clk;
              const head = await fetch(`${s.url}/v2/bench/v2put/blobs/sha256:${layer.sha256}`, { method: 'HEAD' });
              if (head.status !== 200 || Number(head.headers.get('content-length')) !== layer.size) throw new Error(`${who}: blob not there after the ${mode} upload (HEAD ${head.status})`);
              genCheck(`V2 ${mode} blob PUT ${label}`, who, tool, u.seconds, u.clientCpuS, cpuS);
              r[who === 'ours' ? 'ours' : 'dist'].push(u.seconds);
              r[who === 'ours' ? 'oursCpu' : 'distCpu'].push(cpuS / (layer.size / GiB));
            } finally {
              await stopServer(s);
              rmSync(dir, { recursive: true, force: true });
            }
          }
        }
        const b = bins.dist ? 'distribution, same requests' : null;
        addRow({ group: 'V2 blob PUT', scenario: `V2 ${mode} blob PUT ${label}: ${how}, wall time`, unit: 's', ours: median(r.ours), baselineName: b, baseline: b && median(r.dist), better: 'lower', target: '≤ 0.5×', targetCheck: (x) => x <= 0.5, samples: { ours: r.ours, baseline: r.dist } });
        addRow({ group: 'V2 blob PUT', scenario: `V2 ${mode} blob PUT ${label}, server CPU per GiB (utime+stime)`, unit: 'CPU s/GiB', ours: median(r.oursCpu), baselineName: b, baseline: b && median(r.distCpu), better: 'lower', target: null, samples: { ours: r.oursCpu, baseline: r.distCpu } });
      }
    }
  }

  // ---------------------------------------------------------------- output
  const ratioText = (r: Row) => (r.ratio === null ? '–' : `${r.ratio >= 100 ? r.ratio.toFixed(0) : r.ratio.toFixed(2)}×`);
  const metText = (r: Row) => (r.met === null ? '' : r.met ? 'yes' : '**no**');
  const ORDER = ['layer GET', 'concurrent pulls', 'tiny GET', 'metadata GET', 'layer PUT', 'push/pull', 'V2 blob GET', 'V2 metadata GET', 'V2 blob PUT', 'skopeo', 'scaling'];
  rows.sort((a, b) => ORDER.indexOf(a.group) - ORDER.indexOf(b.group));
  console.log('| scenario | unit | ours | baseline | baseline value | ratio ours/baseline | target | met? |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.scenario} | ${r.unit} | ${fmt(r.ours)} | ${r.baselineName ?? 'not installed'} | ${fmt(r.baseline)} | ${ratioText(r)} | ${r.target ?? ''} | ${metText(r)} |`);
  }
  for (const r of rows) if (r.note) console.log(`\nnote (${r.scenario}): ${r.note}`);

  // generator check, aggregated per scenario and server (medians)
  console.log('\n| generator check: scenario | server | tool | runs | generator CPU % of one core | server CPU % (of 200 %) | verdict (median run) |');
  console.log('|---|---|---|---|---|---|---|');
  const groups = new Map<string, GenCheck[]>();
  for (const g of genChecks) groups.set(`${g.scenario}\0${g.server}`, [...(groups.get(`${g.scenario}\0${g.server}`) ?? []), g]);
  const genSummary = [...groups.values()].map((gs) => {
    const gp = median(gs.map((g) => g.generatorPct));
    const sp = median(gs.map((g) => g.serverPct));
    const mid = [...gs].sort((a, b) => a.generatorPct - b.generatorPct)[Math.floor(gs.length / 2)]!;
    return { scenario: gs[0]!.scenario, server: gs[0]!.server, tool: gs[0]!.tool, runs: gs.length, generatorPct: gp, serverPct: sp, verdict: mid.verdict };
  });
  for (const g of genSummary) console.log(`| ${g.scenario} | ${g.server} | ${g.tool} | ${g.runs} | ${fmt(g.generatorPct, 0)} | ${fmt(g.serverPct, 0)} | ${g.verdict} |`);

  const bars: Bar[] = rows
    .filter((r) => r.ratio !== null && r.ratio > 0)
    .map((r) => {
      const adv = r.better === 'higher' ? r.ratio! : 1 / r.ratio!;
      let target: number | undefined;
      const m = r.target ? /([\d.]+)×/.exec(r.target) : null;
      if (m) target = r.better === 'higher' ? Number(m[1]) : 1 / Number(m[1]);
      return { label: r.scenario.replace(/ \((wrk|curl|sequential|VmHWM|Bun fetch|dir:|docker:)[^)]*\)/g, '').replace(/: POST[^,]*(, PATCH[^,]*)?(, PUT[^,]*)?/, '').replace(/ \/v2\/<name>\/[^ ,]*/, '').slice(0, 60), value: adv, target, met: r.met ?? undefined };
    });
  const svg = barChart(
    'registry (V1 and V2) vs nginx / distribution (same run)',
    `${machine.nproc} × ${machine.cpu}; Bun ${versions.bun}; nginx ${versions.nginx ?? '-'}; ${versions.distribution ?? '-'}; ${new Date().toISOString().slice(0, 16)}Z; load ${loadAtStart}`,
    bars,
  );
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(join(OUT_DIR, 'compare.svg'), svg);
  writeFileSync(
    join(OUT_DIR, 'compare.json'),
    JSON.stringify(
      {
        date: new Date().toISOString(),
        machine,
        versions,
        loadAverage: { start: loadAtStart, end: loadAvg() },
        settings: { reps: REPS, wrkSeconds: WRK_S, bigMiB: BIG_MIB, clkTck: clk, only: ONLY ?? null },
        rows,
        generatorCheck: { summary: genSummary, runs: genChecks },
        wrk: wrkRuns,
        extra,
        seconds: (performance.now() - t0) / 1000,
      },
      null,
      2,
    ) + '\n',
  );
  console.log(`\nload average at end ${loadAvg()}; ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  console.log(`written: ${join(OUT_DIR, 'compare.json')}, ${join(OUT_DIR, 'compare.svg')}`);
} catch (e) {
  console.error(e);
  exitCode = 1;
} finally {
  const left = await session.finish();
  if (left.length) exitCode = 1;
  console.log(`cleanup: servers stopped, ${tmp} removed; processes of this run left: ${left.length}`);
}
process.exit(exitCode);
