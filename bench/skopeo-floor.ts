/**
 * The floor of a `skopeo copy` push and pull on this machine: how fast can any server make skopeo
 * go? Our registry and distribution against two reference registries that do the least a server
 * can (bench/lib/floor-registry.ts): `ideal` (append the upload to a file, rename it at the PUT,
 * sendfile on GET: no hashing, no verification, no fsync, no database) and `ideal+sha256` (the
 * same, hashing each body as it streams to disk and refusing a wrong digest: the least work of a
 * server that verifies digests). If the ideal server's time over distribution's is near the
 * issue's 0.7×, that target is bounded by skopeo itself, not by the server.
 *
 *   bun bench/skopeo-floor.ts
 *
 * Env: BENCH_FLOOR_REPS (6) repetitions, BENCH_FLOOR_LAYERS (5) layers of BENCH_FLOOR_LAYER_MIB (20)
 * MiB (incompressible, gzip level 1, dev/image-fixture.ts via bench/lib/skopeo.ts).
 *
 * All four servers run at once on 127.0.0.1: ours with 2 workers, distribution (one Go process),
 * and each reference registry as 2 Bun processes on one port (reusePort, like our workers). Every
 * repetition writes a fresh `dir:` image (new random layers: skopeo's blob info cache would
 * otherwise skip uploads), then for each server in turn (the order rotated every repetition) times
 * `skopeo copy dir:… docker://…/bench/floor<rep>:r<rep>` (push) and `skopeo copy docker://… dir:…`
 * (pull) under /usr/bin/time (wall and skopeo's CPU), the server's CPU from /proc, and checks
 * every pulled layer's size. One untimed push and pull of a small image warms every server up.
 * Output: a markdown table on stdout and .bench-out/skopeo-floor.json.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { envNumber, OUT_DIR } from './lib/env.ts';
import { floorLog, startFloor } from './lib/floor-registry.ts';
import { median, snapshot, ticksSince } from './lib/procs.ts';
import { type Server, startDistribution, startOurs, which } from './lib/servers.ts';
import { clockTicks, fmt, loadAvg, machineInfo, startSession, toolVersion } from './lib/session.ts';
import { checkPulled, freshSeed, skopeoCopy, writeDirImage } from './lib/skopeo.ts';

const REPS = Math.round(envNumber('BENCH_FLOOR_REPS', 6, 1, 30));
const LAYERS = Math.round(envNumber('BENCH_FLOOR_LAYERS', 5, 1, 20));
const LAYER_MIB = Math.round(envNumber('BENCH_FLOOR_LAYER_MIB', 20, 1, 1024));
/** our workers and each reference registry's processes */
const PROCESSES = 2;
const TARGET = 0.7;

const skopeo = which('skopeo');
const distBin = which('docker-registry');
const machine = machineInfo();
const loadAtStart = loadAvg();
const versions = { bun: Bun.version, skopeo: await toolVersion(skopeo), distribution: await toolVersion(distBin), kernel: machine.kernel };
console.log(`machine: ${machine.nproc} × ${machine.cpu}, ${machine.memGiB} GiB; Linux ${versions.kernel}; load average at start ${loadAtStart}`);
console.log(`bun ${versions.bun}; ${versions.skopeo ?? 'skopeo -'}; ${versions.distribution ?? 'distribution -'}`);
console.log(`image: ${LAYERS} × ${LAYER_MIB} MiB layers; ${REPS} repetitions (median, min–max); ours ${PROCESSES} workers, reference registries ${PROCESSES} processes each\n`);
if (!skopeo) {
  console.log('SKIP: skopeo not installed (apt-get install skopeo)');
  process.exit(0);
}
if (!distBin) console.log('SKIP: docker-registry not installed (apt-get install docker-registry): no ratios to distribution');

const clk = await clockTicks();
const session = startSession('skopeo-floor');
const { tmp, mark: MARK } = session;
session.onSignals(['SIGINT', 'SIGTERM']);

interface Samples {
  push: number[];
  pull: number[];
  skopeoPushCpu: number[];
  skopeoPullCpu: number[];
  serverPushCpu: number[];
  serverPullCpu: number[];
}
const empty = (): Samples => ({ push: [], pull: [], skopeoPushCpu: [], skopeoPullCpu: [], serverPushCpu: [], serverPullCpu: [] });

let exitCode = 0;
const t0 = performance.now();
try {
  const servers: Server[] = [
    await startOurs(join(tmp, 'ours'), PROCESSES, join(tmp, 'ours.log'), MARK),
    ...(distBin ? [await startDistribution(join(tmp, 'dist'))] : []),
    await startFloor('ideal', join(tmp, 'ideal'), PROCESSES, MARK),
    await startFloor('ideal+sha256', join(tmp, 'ideal-sha256'), PROCESSES, MARK),
  ];
  console.error(`servers: ${servers.map((s) => `${s.name} ${s.url}`).join(', ')}`);
  const results = new Map(servers.map((s) => [s.name, empty()]));
  const ref = (s: Server, repo: string) => `docker://${s.url.replace(/^http:\/\//, '')}/${repo}`;

  const seed0 = freshSeed();
  // warm-up: one small image pushed to and pulled from every server, untimed
  const warmSrc = join(tmp, 'warm-src');
  const warmSizes = await writeDirImage(warmSrc, LAYERS, 1, seed0);
  for (const s of servers) {
    await skopeoCopy(skopeo, `dir:${warmSrc}`, ref(s, 'bench/warm:w'), tmp);
    const dst = join(tmp, 'warm-pull');
    await skopeoCopy(skopeo, ref(s, 'bench/warm:w'), `dir:${dst}`, tmp);
    checkPulled(dst, warmSizes, s.name);
    rmSync(dst, { recursive: true, force: true });
  }
  rmSync(warmSrc, { recursive: true, force: true });

  for (let rep = 0; rep < REPS; rep++) {
    const src = join(tmp, `src-${rep}`);
    const sizes = await writeDirImage(src, LAYERS, LAYER_MIB, seed0 + 1 + rep);
    const order = [...servers.slice(rep % servers.length), ...servers.slice(0, rep % servers.length)];
    for (const s of order) {
      const r = results.get(s.name)!;
      const image = ref(s, `bench/floor${rep}:r${rep}`);
      let before = snapshot(s.servingPids());
      const push = await skopeoCopy(skopeo, `dir:${src}`, image, tmp);
      r.serverPushCpu.push(ticksSince(before, s.servingPids()) / clk);
      const dst = join(tmp, `pull-${rep}`);
      before = snapshot(s.servingPids());
      const pull = await skopeoCopy(skopeo, image, `dir:${dst}`, tmp);
      r.serverPullCpu.push(ticksSince(before, s.servingPids()) / clk);
      checkPulled(dst, sizes, s.name);
      rmSync(dst, { recursive: true, force: true });
      r.push.push(push.elapsedS);
      r.pull.push(pull.elapsedS);
      r.skopeoPushCpu.push(push.cpuS);
      r.skopeoPullCpu.push(pull.cpuS);
    }
    rmSync(src, { recursive: true, force: true });
    console.error(`repetition ${rep + 1}/${REPS} done (order ${order.map((s) => s.name).join(', ')})`);
  }

  // what the reference registries logged: re-hashed uploads (the sha256 floor paid extra) and requests they do not implement
  const floorLines = Object.fromEntries([['ideal', 'ideal'], ['ideal+sha256', 'ideal-sha256']].map(([name, dir]) => [name!, floorLog(join(tmp, dir!), PROCESSES)]));

  // ---------------------------------------------------------------- output
  const dist = distBin ? results.get('distribution')! : null;
  const range = (xs: number[]) => `${fmt(median(xs))} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`;
  const ratio = (xs: number[], base: number[] | undefined) => (base ? median(xs) / median(base) : Number.NaN);
  const ratioText = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : '–');
  console.log('| server | push median (min–max) s | pull median (min–max) s | push / distribution | pull / distribution | skopeo CPU s, push / pull | server CPU s, push / pull |');
  console.log('|---|---|---|---|---|---|---|');
  const rows = servers.map((s) => {
    const r = results.get(s.name)!;
    const row = {
      server: s.name,
      push: median(r.push),
      pull: median(r.pull),
      pushRatio: ratio(r.push, dist?.push),
      pullRatio: ratio(r.pull, dist?.pull),
      skopeoCpu: [median(r.skopeoPushCpu), median(r.skopeoPullCpu)],
      serverCpu: [median(r.serverPushCpu), median(r.serverPullCpu)],
      samples: r,
    };
    console.log(`| ${s.name} | ${range(r.push)} | ${range(r.pull)} | ${ratioText(row.pushRatio)} | ${ratioText(row.pullRatio)} | ${fmt(row.skopeoCpu[0])} / ${fmt(row.skopeoCpu[1])} | ${fmt(row.serverCpu[0])} / ${fmt(row.serverCpu[1])} |`);
    return row;
  });
  const byName = (n: string) => rows.find((r) => r.server === n)!;
  const verdict = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)}× (${x <= TARGET ? 'within' : 'above'})` : '–');
  if (dist) {
    const line = ['ideal', 'ideal+sha256', byName(servers[0]!.name).server].map((n) => `${n} push ${verdict(byName(n).pushRatio)}, pull ${verdict(byName(n).pullRatio)}`);
    console.log(`\nfloor against the ≤ ${TARGET}× target (time / distribution's): ${line.join('; ')}`);
  }
  for (const [name, lines] of Object.entries(floorLines)) {
    const rehash = lines.filter((l) => l.startsWith('rehash ')).length;
    const other = lines.filter((l) => !l.startsWith('rehash '));
    if (name === 'ideal+sha256') console.log(`${name}: uploads hashed again at the PUT (not while streaming): ${rehash}`);
    if (other.length) console.log(`${name}: ${other.length} log lines (requests not implemented?): ${other.slice(0, 5).join(' | ')}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(`\nload average at end ${loadAvg()}; ${seconds.toFixed(0)} s`);
  mkdirSync(OUT_DIR, { recursive: true });
  const out = join(OUT_DIR, 'skopeo-floor.json');
  writeFileSync(
    out,
    JSON.stringify(
      { date: new Date().toISOString(), machine, versions, loadAverage: { start: loadAtStart, end: loadAvg() }, settings: { reps: REPS, layers: LAYERS, layerMiB: LAYER_MIB, processes: PROCESSES, clkTck: clk }, rows, floorLog: floorLines, seconds },
      null,
      2,
    ) + '\n',
  );
  console.log(`written: ${out}`);
} catch (e) {
  console.error(e);
  exitCode = 1;
} finally {
  const left = await session.finish();
  if (left.length) exitCode = 1;
  console.log(`cleanup: servers stopped, ${tmp} removed; processes of this run left: ${left.length}`);
}
process.exit(exitCode);
