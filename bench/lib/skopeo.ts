/**
 * `skopeo copy` as a client of bench/compare.ts: a push from a `dir:` image to a registry, or a
 * pull from it into a fresh `dir:`, over plain HTTP (TLS verification off), timed with its own
 * CPU. No signature policy file is needed (`--insecure-policy`); skopeo's temp files go to `tmp`.
 */
import { timed, type TimedResult } from './procs.ts';

export async function skopeoCopy(skopeo: string, from: string, to: string, tmp: string): Promise<TimedResult> {
  const tls = [...(from.startsWith('docker://') ? ['--src-tls-verify=false'] : []), ...(to.startsWith('docker://') ? ['--dest-tls-verify=false'] : [])];
  const r = await timed([skopeo, '--insecure-policy', 'copy', '--quiet', ...tls, from, to], 300_000, { ...process.env, TMPDIR: tmp });
  if (r.code !== 0) throw new Error(`skopeo copy ${from} ${to} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r;
}
