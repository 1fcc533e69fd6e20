/**
 * The V2 pull-through mirror against real upstreams, every process real: a mirror (a supervisor
 * with MIRROR_SOURCE) in front of
 *  (a) a second instance of this registry: a real image (dev/image-fixture.ts) and a two-platform
 *      index pushed to it with skopeo are pulled through the mirror byte-exact; with the upstream
 *      stopped the mirror serves them again, and a miss is a 503 with a V2 error body;
 *  (b) this registry in token mode (no anonymous reads; an account made with the admin CLI): the
 *      mirror pulls through the Docker token flow with MIRROR_USERNAME/MIRROR_PASSWORD, and
 *      wrong credentials are a 502;
 *  (c) distribution 2.8 with htpasswd (Basic): a two-part and a one-part name pulled through.
 * Run alone: `bun test --timeout 300000 test/e2e/mirror-v2.test.ts`.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDistribution } from '../../dev/distribution.ts';
import { buildImageFixture, sha256, type ImageFixture } from '../../dev/image-fixture.ts';
import { skopeoRunner } from '../helpers/skopeo.ts';
import { useSupervisors, waitFor, type Supervisor } from '../helpers/supervisor.ts';

const TIMEOUT = 180_000;
const ROOT = join(import.meta.dir, '..', '..');
let fixture: ImageFixture;
let tmp: string;
let layout: string;
let multiLayout: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'mirror-v2-e2e-'));
  fixture = await buildImageFixture();
  layout = join(tmp, 'oci');
  multiLayout = join(tmp, 'oci-multi');
  fixture.writeOciLayout(layout, 'v1');
  fixture.writeMultiPlatformOciLayout(multiLayout, 'multi');
}, TIMEOUT);
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const supervisors = useSupervisors();
const { ok } = skopeoRunner(() => tmp);
const host = (s: { port: number }) => `127.0.0.1:${s.port}`;

async function push(source: string, target: string, ...extra: string[]): Promise<void> {
  await ok('copy', '--dest-tls-verify=false', ...extra, source, `docker://${target}`);
}

/** `skopeo copy docker://… dir:` (every platform with `--all`): the manifest and the files. */
async function pull(source: string, ...extra: string[]): Promise<{ manifest: Uint8Array; dir: string; files: string[] }> {
  const dir = mkdtempSync(join(tmp, 'pulled-'));
  await ok('copy', '--src-tls-verify=false', ...extra, `docker://${source}`, `dir:${dir}`);
  return { manifest: new Uint8Array(readFileSync(join(dir, 'manifest.json'))), dir, files: readdirSync(dir) };
}

/** The pulled image is the fixture's, byte for byte: manifest, config, every layer. */
function expectFixture(p: { manifest: Uint8Array; dir: string }): void {
  expect(sha256(p.manifest)).toBe(fixture.ociManifestDigest);
  expect(Buffer.from(p.manifest).equals(Buffer.from(fixture.ociManifest))).toBe(true);
  const blob = (digest: string) => readFileSync(join(p.dir, digest.slice('sha256:'.length)));
  expect(blob(fixture.configDigest).equals(Buffer.from(fixture.config))).toBe(true);
  for (const layer of fixture.layers) expect(blob(layer.digest).equals(Buffer.from(layer.gz))).toBe(true);
}

/** The pulled two-platform index is the fixture's, and both platforms' manifests came with it. */
function expectIndex(p: { manifest: Uint8Array; files: string[] }): void {
  expect(Buffer.from(p.manifest).equals(Buffer.from(fixture.multiPlatformIndex))).toBe(true);
  const instances = (JSON.parse(new TextDecoder().decode(p.manifest)) as { manifests: { digest: string }[] }).manifests;
  expect(instances).toHaveLength(2);
  for (const m of instances) expect(p.files).toContain(`${m.digest.slice('sha256:'.length)}.manifest.json`);
}

/** A V2 error reply: status and spec code. */
async function expectV2Error(r: Response, status: number, code: string, message: RegExp): Promise<void> {
  const text = await r.text();
  expect(`${r.status} ${text}`).toStartWith(`${status} `);
  const error = (JSON.parse(text) as { errors: { code: string; message: string }[] }).errors[0]!;
  expect(error.code).toBe(code);
  expect(error.message).toMatch(message);
}

async function admin(storagePath: string, ...args: string[]): Promise<void> {
  const proc = Bun.spawn([process.execPath, join(ROOT, 'scripts', 'admin.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, STORAGE_PATH: storagePath, REGISTRY_DB: '', REGISTRY_CONFIG: '' },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`admin ${args.join(' ')} exited ${code}: ${stderr}`);
}

const mirrorOf = (source: string, env: Record<string, string> = {}): Promise<Supervisor> =>
  supervisors.start({ STORAGE: 'fs', REGISTRY_AUTH: 'open', MIRROR_SOURCE: source, MIRROR_TIMEOUT: '5', ...env });

describe('V2 pull-through mirror, real upstreams', () => {
  test('(a) this registry upstream: pulled through byte-exact; upstream stopped: served from the mirror, a miss is 503', async () => {
    const upstream = await supervisors.start({ STORAGE: 'fs', REGISTRY_AUTH: 'open' });
    await push(`oci:${layout}:v1`, `${host(upstream)}/mirror/app:v1`);
    await push(`oci:${multiLayout}:multi`, `${host(upstream)}/mirror/app:multi`, '--all');
    const mirror = await mirrorOf(upstream.url);
    expectFixture(await pull(`${host(mirror)}/mirror/app:v1`));
    expectIndex(await pull(`${host(mirror)}/mirror/app:multi`, '--all'));
    expect(await (await fetch(`${mirror.url}/v2/mirror/app/tags/list`)).json()).toEqual({ name: 'mirror/app', tags: ['multi', 'v1'] });

    await supervisors.stop(upstream);
    expectFixture(await pull(`${host(mirror)}/mirror/app:v1`));
    expectIndex(await pull(`${host(mirror)}/mirror/app:multi`, '--all'));
    await expectV2Error(await fetch(`${mirror.url}/v2/mirror/app/manifests/v2`), 503, 'UNAVAILABLE', /Upstream registry unavailable/);
    await expectV2Error(await fetch(`${mirror.url}/v2/mirror/app/blobs/${sha256('not here')}`), 503, 'UNAVAILABLE', /unavailable/);
    await expectV2Error(await fetch(`${mirror.url}/v2/other/app/tags/list`), 503, 'UNAVAILABLE', /unavailable/);
    // what the mirror holds is listed while upstream is down
    expect(await (await fetch(`${mirror.url}/v2/mirror/app/tags/list`)).json()).toEqual({ name: 'mirror/app', tags: ['multi', 'v1'] });
    expect(mirror.log()).not.toContain('unhandled error');
  }, TIMEOUT);

  test('(b) this registry in token mode: the mirror pulls with a Bearer token got with MIRROR_USERNAME/PASSWORD; wrong ones are 502', async () => {
    const accessLog = join(tmp, 'upstream-access.log');
    const upstream = await supervisors.start({ STORAGE: 'fs', REGISTRY_AUTH: 'token', REGISTRY_ANONYMOUS_READ: 'false', REGISTRY_ACCESSLOG: accessLog });
    await admin(join(upstream.dir, 'data'), 'user', 'add', 'alice', '--password', 'pw-alice');
    await push(`oci:${layout}:v1`, `${host(upstream)}/alice/app:v1`, '--dest-creds', 'alice:pw-alice');
    const mirror = await mirrorOf(upstream.url, { MIRROR_USERNAME: 'alice', MIRROR_PASSWORD: 'pw-alice' });
    expectFixture(await pull(`${host(mirror)}/alice/app:v1`));
    // the upstream saw challenges, token requests for the repository's pull scope, then the
    // authorized pulls (two workers each side: lines interleave; names are logged as routed, %2F)
    const mirrorLines = () =>
      (existsSync(accessLog) ? readFileSync(accessLog, 'utf8') : '')
        .split('\n')
        .filter((l) => l.includes('(pull-through mirror)"'))
        .map((l) => /"(\w+ [^"]+)" (\d+)/.exec(l)!.slice(1).join(' '));
    const manifestOk = /^GET \/v2\/alice(\/|%2F)app\/manifests\/v1 200$/;
    await waitFor('the upstream access log', () => mirrorLines().some((l) => manifestOk.test(l)));
    expect(mirrorLines().filter((l) => / 401$/.test(l)).length).toBeGreaterThan(0);
    expect(mirrorLines().filter((l) => /^GET \/v2\/token\?\S*scope=repository%3Aalice%2Fapp%3Apull 200$/.test(l)).length).toBeGreaterThan(0);
    expect(mirrorLines().filter((l) => !/ (200|401)$/.test(l))).toEqual([]);

    const wrong = await mirrorOf(upstream.url, { MIRROR_USERNAME: 'alice', MIRROR_PASSWORD: 'nope' });
    await expectV2Error(await fetch(`${wrong.url}/v2/alice/app/manifests/v1`), 502, 'UNKNOWN', /refused the mirror/);
    const anonymous = await mirrorOf(upstream.url);
    await expectV2Error(await fetch(`${anonymous.url}/v2/alice/app/manifests/v1`), 502, 'UNKNOWN', /refused the mirror/);
  }, TIMEOUT);

  test('(c) distribution 2.8 upstream with Basic auth: two-part and one-part names pulled through byte-exact', async () => {
    const dist = await startDistribution({ htpasswd: { user: 'bob', password: 'pw-bob' } });
    try {
      const target = `127.0.0.1:${dist.port}`;
      await push(`oci:${layout}:v1`, `${target}/dist/app:v1`, '--dest-creds', 'bob:pw-bob');
      // distribution keeps a one-part name as it is (no library/ prefix)
      await push(`oci:${layout}:v1`, `${target}/busybox:latest`, '--dest-creds', 'bob:pw-bob');
      const mirror = await mirrorOf(dist.url, { MIRROR_USERNAME: 'bob', MIRROR_PASSWORD: 'pw-bob' });
      expectFixture(await pull(`${host(mirror)}/dist/app:v1`));
      expectFixture(await pull(`${host(mirror)}/busybox:latest`));
      expect(await (await fetch(`${mirror.url}/v2/dist/app/tags/list`)).json()).toEqual({ name: 'dist/app', tags: ['v1'] });
      await expectV2Error(await fetch(`${mirror.url}/v2/dist/app/manifests/nope`), 404, 'MANIFEST_UNKNOWN', /manifest unknown/);
    } finally {
      await dist.stop();
    }
  }, TIMEOUT);
});
