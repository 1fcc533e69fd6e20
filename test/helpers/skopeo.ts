/** Running skopeo from tests: no signature policy file needed, big blobs in the test's temp dir. */

export interface SkopeoRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `run` answers whatever skopeo did; `ok` throws with its output unless it exited 0. `tempDir` is read at each call. */
export function skopeoRunner(tempDir: () => string) {
  async function run(...args: string[]): Promise<SkopeoRun> {
    const p = Bun.spawn(['skopeo', '--insecure-policy', ...args], { env: { ...process.env, TMPDIR: tempDir() }, stdout: 'pipe', stderr: 'pipe' });
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { code, stdout, stderr };
  }
  async function ok(...args: string[]): Promise<string> {
    const r = await run(...args);
    if (r.code !== 0) throw new Error(`skopeo ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.stdout}`);
    return r.stdout;
  }
  return { run, ok };
}
