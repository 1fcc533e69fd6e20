/**
 * curl as the client of bench/compare.ts's single big transfers (under /usr/bin/time, so that its
 * own CPU is known): a GET read to /dev/null, a file PUT with curl -T, and the V2 monolithic
 * upload (POST, then the whole body in the PUT ?digest=) built on it.
 */
import { type Layer, v2StartUpload } from './clients.ts';
import { timed } from './procs.ts';

export interface CurlGet {
  bytesPerS: number;
  seconds: number;
  size: number;
  clientCpuS: number;
}

/** GET `url` to /dev/null; throws unless 200. */
export async function curlGet(curl: string, url: string, headers: string[] = []): Promise<CurlGet> {
  const r = await timed([curl, '-s', '-o', '/dev/null', ...headers.flatMap((h) => ['-H', h]), '-w', '%{http_code} %{speed_download} %{time_total} %{size_download}', url], 120_000);
  const [code, speed, total, size] = r.stdout.trim().split(' ');
  if (code !== '200') throw new Error(`GET ${url}: HTTP ${code}`);
  return { bytesPerS: Number(speed), seconds: Number(total), size: Number(size), clientCpuS: r.cpuS };
}

export interface CurlPut {
  /** curl's time_total */
  seconds: number;
  clientCpuS: number;
}

/** PUT the file at `path` to `url` (no `Expect: 100-continue`); throws unless the reply is `status`. */
export async function curlPut(curl: string, url: string, path: string, status: string): Promise<CurlPut> {
  const c = await timed([curl, '-s', '-o', '/dev/null', '-w', '%{http_code} %{time_total}', '-H', 'Expect:', '-H', 'Content-Type: application/octet-stream', '-T', path, '-X', 'PUT', url], 300_000);
  const [code, total] = c.stdout.trim().split(' ');
  if (code !== status) throw new Error(`PUT ${url}: HTTP ${code}`);
  return { seconds: Number(total), clientCpuS: c.cpuS };
}

/**
 * A V2 monolithic upload: POST …/blobs/uploads/ (Bun fetch, timed), then curl -T of the whole
 * file to its Location with ?digest=. `seconds` is the POST plus curl's time_total (curl's clock
 * for the body, as for a V1 layer PUT).
 */
export async function v2CurlMonolithic(curl: string, url: string, name: string, layer: Layer): Promise<CurlPut> {
  const t = performance.now();
  const loc = await v2StartUpload(url, name);
  const postS = (performance.now() - t) / 1000;
  loc.searchParams.set('digest', `sha256:${layer.sha256}`);
  const put = await curlPut(curl, loc.href, layer.path, '201');
  return { seconds: postS + put.seconds, clientCpuS: put.clientCpuS };
}
