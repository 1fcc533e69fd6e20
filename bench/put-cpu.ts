/**
 * Server CPU per GiB of a V1 layer PUT, A/B between checkouts of this repository.
 *
 *   bun bench/put-cpu.ts [checkoutDir ...]      (default: this checkout)
 *
 * For each round and each checkout (the order reversed every other round, so that drift on a
 * shared machine falls on both alike): starts that checkout's registry (`bun src/main.ts` in its
 * directory, with this Bun, `BENCH_PUT_WORKERS` workers (1), access log off, fresh storage), then
 * `BENCH_PUT_PER_START` times: PUT json, then `curl -T` of a random layer of `BENCH_PUT_MIB` MiB
 * (one file, the same for every checkout), reading the workers' CPU from /proc before and after
 * the PUT: utime and stime (10 ms ticks), on-CPU ns from schedstat and minor page faults, and the
 * supervisor's CPU apart. CPU, not wall time, because the machine may be shared; checkouts that
 * share one node_modules run the same dependencies. Then, on the same registry, a V1 push and a
 * pull of a 5 × 20 MiB image with bench/lib/clients.ts (the docker 1.x order), each with its wall
 * time and the workers' CPU (the client runs on the same cores). With more than one checkout,
 * each one's CPU per GiB is also given as a ratio to the first one's in the same round (medians
 * of the round's PUTs), the figure drift moves least.
 *
 * `BENCH_PUT_MODES=length,chunked` runs each checkout both with a Content-Length and with a
 * chunked body (as docker 1.x sends a layer), each mode a target of its own.
 * `BENCH_PUT_ROUNDS` (5), `BENCH_PUT_PER_START` (3), `BENCH_PUT_MIB` (256),
 * `BENCH_PUT_WORKER_ENV` (extra `K=V,K=V` for the registries). Every sample also goes to
 * `.bench-out/put-cpu.json`. bench/README.md ("put-cpu") has the method and the issue-12 result.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { hex } from '../dev/ids.ts';
import { freePort } from '../dev/ports.ts';
import { children, stop } from '../dev/processes.ts';
import { envNumber, OUT_DIR, ROOT } from './lib/env.ts';
import { type Layer, v1Chain, v1Pull, v1Push } from './lib/clients.ts';
import { median, run } from './lib/procs.ts';
import { HOST, which } from './lib/servers.ts';
import { clockTicks, fmt, loadAvg, machineInfo } from './lib/session.ts';

const MiB = 1024 * 1024;
const rounds = envNumber('BENCH_PUT_ROUNDS', 5, 1, 100);
const perStart = envNumber('BENCH_PUT_PER_START', 3, 1, 100);
const workerCount = envNumber('BENCH_PUT_WORKERS', 1, 1, 16);
const sizeMiB = envNumber('BENCH_PUT_MIB', 256, 1, 8192);
const extraEnv = Object.fromEntries(
  (process.env.BENCH_PUT_WORKER_ENV ?? '')
    .split(',')
    .filter((kv) => kv.includes('='))
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);
const curl = which('curl');
if (!curl) throw new Error('curl is required');

const dirs = (process.argv.length > 2 ? process.argv.slice(2) : [ROOT]).map((d) => resolve(d));

interface Cpu {
  user: number; // ticks
  sys: number; // ticks
  ns: number;
  minflt: number;
}

/** utime, stime (ticks, all threads) and the threads' schedstat on-CPU ns, summed over processes. */
function cpu(pids: number[]): Cpu {
  const sum: Cpu = { user: 0, sys: 0, ns: 0, minflt: 0 };
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    sum.user += Number(rest[11]);
    sum.sys += Number(rest[12]);
    sum.minflt += Number(rest[7]);
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        sum.ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // thread gone
      }
    }
  }
  return sum;
}

/** CPU seconds (utime + stime) between two readings. */
const cpuS = (a: Cpu, b: Cpu) => (b.user + b.sys - a.user - a.sys) / tck;

async function label(dir: string): Promise<string> {
  const r = await run(['git', '-C', dir, 'log', '-1', '--format=%h'], 5000);
  const dirty = (await run(['git', '-C', dir, 'status', '--porcelain', '--untracked-files=no', '--', 'src'], 5000)).stdout.trim();
  return `${basename(dir)}@${r.stdout.trim() || '?'}${dirty ? '+changes' : ''}`;
}

interface PushPull {
  target: string;
  round: number;
  pushCpuS: number;
  pushWallS: number;
  pullCpuS: number;
  pullWallS: number;
}

interface Sample {
  target: string;
  round: number;
  nth: number; // 1 = first PUT of a fresh worker
  userS: number;
  sysS: number;
  schedS: number;
  wallS: number;
  masterS: number; // the supervisor's CPU in the same window
  minflt: number; // the workers' minor page faults
}

const tck = await clockTicks();
const work = mkdtempSync(join(tmpdir(), 'registry-put-cpu-'));
const layerPath = join(work, 'layer.bin');
{
  const f = Bun.file(layerPath).writer();
  for (let i = 0; i < sizeMiB; i++) f.write(crypto.getRandomValues(new Uint8Array(MiB)));
  await f.end();
}
const image: Layer[] = [];
for (let i = 0; i < 5; i++) {
  const path = join(work, `image-${i}.bin`);
  const f = Bun.file(path).writer();
  for (let j = 0; j < 20; j++) f.write(crypto.getRandomValues(new Uint8Array(MiB)));
  await f.end();
  image.push({ path, size: 20 * MiB, sha256: '' });
}
/** Each checkout with each body framing: Content-Length (curl -T) or chunked (docker 1.x's layer PUT). */
const modes = (process.env.BENCH_PUT_MODES ?? 'length').split(',').filter((m): m is 'length' | 'chunked' => m === 'length' || m === 'chunked');
if (modes.length === 0) throw new Error('BENCH_PUT_MODES: length and/or chunked');
const targets = (await Promise.all(dirs.map(label))).flatMap((l, i) =>
  modes.map((mode) => ({ dir: dirs[i]!, mode, label: modes.length > 1 || mode !== 'length' ? `${l} (${mode})` : l })),
);
const labels = targets.map((t) => t.label);
const samples: Sample[] = [];
const pushPulls: PushPull[] = [];
const gib = sizeMiB / 1024;
const loadStart = loadAvg();

async function measure(dir: string, target: string, mode: 'length' | 'chunked', round: number): Promise<void> {
  const storage = mkdtempSync(join(work, 'storage-'));
  const errLog = `${storage}.log`;
  const port = await freePort();
  const proc = Bun.spawn([process.execPath, 'src/main.ts'], {
    cwd: dir,
    env: {
      ...process.env,
      REGISTRY_HOST: HOST,
      REGISTRY_PORT: String(port),
      STORAGE_PATH: storage,
      REGISTRY_WORKERS: String(workerCount),
      REGISTRY_ACCESSLOG: 'off',
      ...extraEnv,
    },
    stdout: 'ignore',
    stderr: Bun.file(errLog),
  });
  const url = `http://${HOST}:${port}`;
  try {
    let workers: number[] = [];
    for (let i = 0; i < 200 && workers.length < workerCount; i++) {
      try {
        const r = await fetch(`${url}/v1/_ping`);
        await r.arrayBuffer();
        if (r.ok) workers = children(proc.pid);
      } catch {
        // not listening yet
      }
      if (workers.length < workerCount) await Bun.sleep(100);
    }
    if (workers.length < workerCount) throw new Error(`${target}: registry did not start: ${readFileSync(errLog, 'utf8').slice(-2000)}`);
    const master = [proc.pid];
    for (let nth = 1; nth <= perStart; nth++) {
      const id = hex(64);
      const json = await fetch(`${url}/v1/images/${id}/json`, { method: 'PUT', body: JSON.stringify({ id }) });
      if (json.status !== 200) throw new Error(`${target}: PUT json ${json.status} ${await json.text()}`);
      const before = cpu(workers);
      const masterBefore = cpu(master);
      const c = await run(
        [curl!, '-s', '-o', '/dev/null', '-w', '%{http_code} %{time_total}', '-H', 'Expect:', '-H', 'Content-Type: application/octet-stream', ...(mode === 'chunked' ? ['-H', 'Transfer-Encoding: chunked'] : []), '-T', layerPath, '-X', 'PUT', `${url}/v1/images/${id}/layer`],
        300_000,
      );
      const after = cpu(workers);
      const masterAfter = cpu(master);
      const [code, total] = c.stdout.trim().split(' ');
      if (code !== '200') throw new Error(`${target}: PUT layer ${c.stdout} ${c.stderr} ${readFileSync(errLog, 'utf8').slice(-2000)}`);
      samples.push({
        target,
        round,
        nth,
        userS: (after.user - before.user) / tck,
        sysS: (after.sys - before.sys) / tck,
        schedS: (after.ns - before.ns) / 1e9,
        wallS: Number(total),
        masterS: cpuS(masterBefore, masterAfter),
        minflt: after.minflt - before.minflt,
      });
    }
    const chain = await v1Chain(image);
    const c0 = cpu(workers);
    let t = performance.now();
    await v1Push(url, `bench/app${round}`, chain);
    const pushWallS = (performance.now() - t) / 1000;
    const c1 = cpu(workers);
    t = performance.now();
    const got = await v1Pull(url, `bench/app${round}`);
    const pullWallS = (performance.now() - t) / 1000;
    const c2 = cpu(workers);
    if (got !== 5 * 20 * MiB) throw new Error(`${target}: V1 pull got ${got} bytes`);
    pushPulls.push({ target, round, pushCpuS: cpuS(c0, c1), pushWallS, pullCpuS: cpuS(c1, c2), pullWallS });
  } finally {
    await stop(proc);
    rmSync(storage, { recursive: true, force: true });
  }
}

try {
  for (let round = 1; round <= rounds; round++) {
    const order = targets.map((_t, i) => i);
    if (round % 2 === 0) order.reverse();
    for (const i of order) {
      await measure(targets[i]!.dir, labels[i]!, targets[i]!.mode, round);
      const last = samples.filter((s) => s.target === labels[i] && s.round === round);
      console.error(`round ${round} ${labels[i]}: ${last.map((s) => ((s.userS + s.sysS) / gib).toFixed(2)).join(' ')} CPU s/GiB`);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const m = machineInfo();
console.log(`machine: ${m.nproc} x ${m.cpu}, ${m.memGiB} GiB, Linux ${m.kernel}; bun ${Bun.version}; load ${loadStart} → ${loadAvg()}`);
console.log(`${rounds} rounds × ${perStart} PUTs of ${sizeMiB} MiB per target (fresh registry per round, ${workerCount} worker${workerCount > 1 ? 's' : ''}); CPU of the worker${workerCount > 1 ? 's' : ''}, per GiB; median (min–max)`);
console.log('');
console.log('| target | PUTs | user+sys s/GiB | user s/GiB | sys s/GiB | schedstat s/GiB | first PUT of a worker, user+sys s/GiB | wall s/GiB | supervisor CPU s/GiB | minor faults per MiB |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
const span = (xs: number[]) => `${fmt(median(xs))} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`;
for (const target of labels) {
  const s = samples.filter((x) => x.target === target);
  const per = (f: (x: Sample) => number, from = s) => from.map((x) => f(x) / gib);
  console.log(
    `| ${target} | ${s.length} | ${span(per((x) => x.userS + x.sysS))} | ${span(per((x) => x.userS))} | ${span(per((x) => x.sysS))} | ${span(per((x) => x.schedS))} | ${span(per((x) => x.userS + x.sysS, s.filter((x) => x.nth === 1)))} | ${span(per((x) => x.wallS))} | ${span(per((x) => x.masterS))} | ${span(s.map((x) => x.minflt / sizeMiB))} |`,
  );
}
if (labels.length > 1) {
  console.log('');
  console.log(`| target | user+sys per GiB, ratio to ${labels[0]} in the same round: median (min–max) | user only |`);
  console.log('|---|---|---|');
  const roundMedian = (t: string, r: number, f: (x: Sample) => number) => median(samples.filter((x) => x.target === t && x.round === r).map(f));
  for (const target of labels.slice(1)) {
    const ratios = (f: (x: Sample) => number) => Array.from({ length: rounds }, (_, i) => roundMedian(target, i + 1, f) / roundMedian(labels[0]!, i + 1, f));
    console.log(`| ${target} | ${span(ratios((x) => x.userS + x.sysS))} | ${span(ratios((x) => x.userS))} |`);
  }
}
console.log('');
console.log('| target | V1 push 5 × 20 MiB, worker CPU s | push wall s | V1 pull, worker CPU s | pull wall s |');
console.log('|---|---|---|---|---|');
for (const target of labels) {
  const s = pushPulls.filter((x) => x.target === target);
  console.log(`| ${target} | ${span(s.map((x) => x.pushCpuS))} | ${span(s.map((x) => x.pushWallS))} | ${span(s.map((x) => x.pullCpuS))} | ${span(s.map((x) => x.pullWallS))} |`);
}
mkdirSync(OUT_DIR, { recursive: true });
writeFileSync(join(OUT_DIR, 'put-cpu.json'), JSON.stringify({ machine: m, bun: Bun.version, sizeMiB, rounds, perStart, workers: workerCount, modes, samples, pushPulls }, null, 2));
