/**
 * Two reference registries for bench/skopeo-floor.ts: the least a V2 server can do for a
 * `skopeo copy` push and pull, to tell skopeo's own time from a server's.
 *  - `ideal`: every upload body is appended to a file as it streams in, and the PUT ?digest=
 *    renames that file into place under the digest the client names: no hashing, no verification,
 *    no fsync, no database. Blobs go out with `new Response(Bun.file(path))` (sendfile).
 *  - `ideal+sha256`: the same, and the body is hashed (`Bun.CryptoHasher('sha256')`) as it streams
 *    to disk; the PUT answers 400 when the digest does not match: the least work of a server that
 *    verifies digests, as the OCI distribution spec requires.
 * Only what skopeo uses: GET /v2/, blob HEAD/GET, POST (a new upload; a `mount` query is ignored),
 * PATCH (streamed, appended), PUT ?digest= (with an optional last chunk), and manifest
 * PUT/GET/HEAD by tag or digest (the body in a file, its content type next to it, its digest
 * computed: a few kB). No chunk ranges, no Content-Range checks, no deletes, no tags list, no
 * repository scoping of blobs. Anything else is logged on stderr and answered 404.
 *
 * Like our registry, each server is `processes` Bun processes on one port (reusePort), so the
 * kernel spreads connections over them and one upload's POST, PATCH and PUT may land in different
 * processes (skopeo's connection pool picks any idle connection). All state is therefore in files:
 * the sha256 variant hashes a body that starts at offset 0 of the upload file (skopeo's single
 * PATCH with the whole blob; a monolithic PUT) while streaming it and leaves `<upload>.sha256`
 * (`<bytes> <hex>`) next to the file, and the PUT, wherever it lands, takes the digest from there
 * when the file has exactly those bytes. Only an upload whose bytes came in several chunks
 * (skopeo never does that) is re-read from disk and hashed at the PUT; each such re-hash is logged
 * on stderr (`rehash <uuid>`) and counted by the bench, so a floor that paid for it shows it.
 *
 * `startFloor()` starts one (the processes run this file: `import.meta.main` below).
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { freePort } from '../../dev/ports.ts';
import { killAll, stop as stopProc } from '../../dev/processes.ts';
import { alive } from './procs.ts';
import { HOST, live, type Server } from './servers.ts';

export type FloorVariant = 'ideal' | 'ideal+sha256';

// ---------------------------------------------------------------- the server (one process)

function serve(dir: string, port: number, verify: boolean): void {
  const uploads = join(dir, 'uploads');
  const blobs = join(dir, 'blobs');
  const manifests = join(dir, 'manifests');
  const tags = join(dir, 'tags');
  for (const d of [uploads, blobs, manifests, tags]) mkdirSync(d, { recursive: true });
  const hexOf = (digest: string) => (/^sha256:([0-9a-f]{64})$/.exec(digest) ?? [])[1];
  const sizeOf = (path: string) => (existsSync(path) ? statSync(path).size : -1);
  const sha256 = (bytes: Uint8Array) => new Bun.CryptoHasher('sha256').update(bytes).digest('hex');
  const none = (status: number, headers: Record<string, string> = {}) => new Response(null, { status, headers });

  /** Appends the request body to `path`; hashes it when it starts the file (the hash then covers every byte). */
  async function append(req: Request, path: string): Promise<{ end: number; hex?: string }> {
    const start = sizeOf(path);
    const hasher = verify && start === 0 ? new Bun.CryptoHasher('sha256') : null;
    const fd = openSync(path, 'a');
    let end = start;
    try {
      if (req.body) {
        for await (const chunk of req.body) {
          writeSync(fd, chunk);
          hasher?.update(chunk);
          end += chunk.length;
        }
      }
    } finally {
      closeSync(fd);
    }
    return { end, hex: hasher?.digest('hex') };
  }

  /** The sha256 of the finished upload file: from this request's hash, from the PATCH's side file, or re-read. */
  async function digestOf(id: string, path: string, put: { end: number; hex?: string }): Promise<string> {
    if (put.hex !== undefined) return put.hex;
    const side = existsSync(`${path}.sha256`) ? readFileSync(`${path}.sha256`, 'utf8').split(' ') : [];
    if (Number(side[0]) === put.end && side[1]) return side[1];
    console.error(`rehash ${id}`);
    const h = new Bun.CryptoHasher('sha256');
    for await (const chunk of Bun.file(path).stream()) h.update(chunk);
    return h.digest('hex');
  }

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const path = url.pathname;
    const m = req.method;
    if (path === '/v2/' && (m === 'GET' || m === 'HEAD')) return Response.json({}, { headers: { 'docker-distribution-api-version': 'registry/2.0' } });

    let r = /^\/v2\/(.+)\/blobs\/uploads\/$/.exec(path);
    if (r && m === 'POST') {
      const id = crypto.randomUUID();
      writeFileSync(join(uploads, id), '');
      return none(202, { location: `/v2/${r[1]}/blobs/uploads/${id}`, 'docker-upload-uuid': id, range: '0-0' });
    }

    r = /^\/v2\/(.+)\/blobs\/uploads\/([0-9a-f-]{36})$/.exec(path);
    if (r && (m === 'PATCH' || m === 'PUT')) {
      const [, name, id] = r as unknown as [string, string, string];
      const file = join(uploads, id);
      if (!existsSync(file)) return none(404);
      const got = await append(req, file);
      if (m === 'PATCH') {
        if (got.hex !== undefined) writeFileSync(`${file}.sha256`, `${got.end} ${got.hex}`);
        else rmSync(`${file}.sha256`, { force: true });
        return none(202, { location: `/v2/${name}/blobs/uploads/${id}`, 'docker-upload-uuid': id, range: `0-${Math.max(0, got.end - 1)}` });
      }
      const digest = url.searchParams.get('digest') ?? '';
      const hex = hexOf(digest);
      if (!hex) return none(400);
      if (verify && (await digestOf(id, file, got)) !== hex) {
        rmSync(file, { force: true });
        rmSync(`${file}.sha256`, { force: true });
        return Response.json({ errors: [{ code: 'DIGEST_INVALID', message: 'digest does not match the content' }] }, { status: 400 });
      }
      renameSync(file, join(blobs, hex));
      rmSync(`${file}.sha256`, { force: true });
      return none(201, { location: `/v2/${name}/blobs/${digest}`, 'docker-content-digest': digest });
    }

    r = /^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]{64})$/.exec(path);
    if (r && (m === 'GET' || m === 'HEAD')) {
      const file = join(blobs, hexOf(r[2]!)!);
      if (!existsSync(file)) return none(404);
      return new Response(Bun.file(file), { headers: { 'content-type': 'application/octet-stream', 'docker-content-digest': r[2]! } });
    }

    r = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
    if (r) {
      const [, name, ref] = r as unknown as [string, string, string];
      const tagFile = join(tags, encodeURIComponent(name), encodeURIComponent(ref));
      if (m === 'PUT') {
        const body = new Uint8Array(await req.arrayBuffer());
        const hex = sha256(body);
        if (ref.startsWith('sha256:') && hexOf(ref) !== hex) return none(400);
        writeFileSync(join(manifests, hex), body);
        writeFileSync(join(manifests, `${hex}.type`), req.headers.get('content-type') ?? 'application/vnd.oci.image.manifest.v1+json');
        if (!ref.startsWith('sha256:')) {
          mkdirSync(join(tags, encodeURIComponent(name)), { recursive: true });
          writeFileSync(tagFile, hex);
        }
        return none(201, { location: `/v2/${name}/manifests/sha256:${hex}`, 'docker-content-digest': `sha256:${hex}` });
      }
      if (m === 'GET' || m === 'HEAD') {
        const hex = ref.startsWith('sha256:') ? hexOf(ref) : existsSync(tagFile) ? readFileSync(tagFile, 'utf8') : undefined;
        if (!hex || !existsSync(join(manifests, hex))) return none(404);
        const type = readFileSync(join(manifests, `${hex}.type`), 'utf8');
        return new Response(Bun.file(join(manifests, hex)), { headers: { 'content-type': type, 'docker-content-digest': `sha256:${hex}` } });
      }
    }

    console.error(`unhandled ${m} ${path}${url.search}`);
    return none(404);
  }

  Bun.serve({ hostname: HOST, port, reusePort: true, maxRequestBodySize: Number.MAX_SAFE_INTEGER, fetch: handle });
  writeFileSync(join(dir, `ready-${process.pid}`), '');
  process.on('SIGTERM', () => process.exit(0));
}

if (import.meta.main) serve(process.env.FLOOR_DIR!, Number(process.env.FLOOR_PORT), process.env.FLOOR_VERIFY === '1');

// ---------------------------------------------------------------- the launcher

/**
 * Starts the `variant` reference registry as `processes` Bun processes sharing one free loopback
 * port (reusePort), its files and logs (`floor-<n>.log`, stderr) in `dir`; `mark` goes into
 * their environment (the bench session finds leftovers by it).
 */
export async function startFloor(variant: FloorVariant, dir: string, processes: number, mark: Record<string, string>): Promise<Server> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const env = { ...process.env, ...mark, FLOOR_DIR: dir, FLOOR_PORT: String(port), FLOOR_VERIFY: variant === 'ideal+sha256' ? '1' : '0' };
  const procs: Subprocess[] = Array.from({ length: processes }, (_, i) =>
    Bun.spawn([process.execPath, import.meta.path], { env, stdout: 'ignore', stderr: Bun.file(join(dir, `floor-${i}.log`)) }),
  );
  const pids = procs.map((p) => p.pid);
  const server: Server = {
    name: variant,
    url: `http://${HOST}:${port}`,
    port,
    proc: procs[0]!,
    servingPids: () => pids,
    async stop() {
      await Promise.all(procs.map((p) => stopProc(p, 'SIGTERM')));
      live.delete(server);
      const left = pids.filter((p) => alive(p, 'floor-registry.ts'));
      killAll(left);
      return left;
    },
  };
  live.add(server);
  const deadline = Date.now() + 20_000;
  while (!pids.every((p) => existsSync(join(dir, `ready-${p}`)))) {
    if (Date.now() > deadline || procs.some((p) => p.exitCode !== null)) {
      await server.stop();
      throw new Error(`${variant} registry did not start (see ${dir}/floor-*.log)`);
    }
    await Bun.sleep(50);
  }
  return server;
}

/**
 * The lines the processes of the floor server in `dir` wrote on stderr: `rehash <uuid>` (an
 * upload hashed again at its PUT) and `unhandled <method> <path>` (a request it does not implement).
 */
export function floorLog(dir: string, processes: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < processes; i++) {
    const log = join(dir, `floor-${i}.log`);
    if (existsSync(log)) out.push(...readFileSync(log, 'utf8').split('\n').filter(Boolean));
  }
  return out;
}
