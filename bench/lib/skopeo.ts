/**
 * `skopeo copy` as a client of the benchmarks (bench/compare.ts, bench/skopeo-floor.ts): a push
 * from a `dir:` image to a registry, or a pull from it into a fresh `dir:`, over plain HTTP (TLS
 * verification off), timed with its own CPU. No signature policy file is needed
 * (`--insecure-policy`); skopeo's temp files go to `tmp`. The image is built by `writeDirImage`.
 */
import { join } from 'node:path';
import { buildImageFixture } from '../../dev/image-fixture.ts';
import { timed, type TimedResult } from './procs.ts';

export async function skopeoCopy(skopeo: string, from: string, to: string, tmp: string): Promise<TimedResult> {
  const tls = [...(from.startsWith('docker://') ? ['--src-tls-verify=false'] : []), ...(to.startsWith('docker://') ? ['--dest-tls-verify=false'] : [])];
  const r = await timed([skopeo, '--insecure-policy', 'copy', '--quiet', ...tls, from, to], 300_000, { ...process.env, TMPDIR: tmp });
  if (r.code !== 0) throw new Error(`skopeo copy ${from} ${to} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r;
}

/**
 * A random seed for `writeDirImage`, different in every run: skopeo's blob info cache (as root
 * /var/lib/containers/cache) remembers where a blob was pushed and would mount it from there
 * instead of uploading it, so every repetition of every run needs layers of its own.
 */
export const freshSeed = (): number => crypto.getRandomValues(new Uint32Array(1))[0]! % 1_000_000;

/**
 * Writes a `dir:` image of `layers` layers of `mib` MiB incompressible data each
 * (dev/image-fixture.ts, contents from `seed`) to `dir`; returns each layer's size by hex digest,
 * for `checkPulled`.
 */
export async function writeDirImage(dir: string, layers: number, mib: number, seed: number): Promise<Map<string, number>> {
  const fx = await buildImageFixture({ bulk: { layers, mib, seed } });
  fx.writeDir(dir);
  return new Map(fx.layers.map((l) => [l.digest.slice('sha256:'.length), l.gz.length]));
}

/** Throws unless every layer of `sizes` is in the pulled `dir:` image `dst` at its size (skopeo checked each digest while writing). */
export function checkPulled(dst: string, sizes: Map<string, number>, from: string): void {
  for (const [hex, size] of sizes) if (Bun.file(join(dst, hex)).size !== size) throw new Error(`skopeo pull from ${from}: layer ${hex} missing or short`);
}
