/**
 * The V1 ⇄ V2 bridge with real clients against the real supervisor (fs + SQLite, 2 workers):
 *  - a V1 push (the docker 1.x client path: index PUT, json/layer/checksum per image, tag, index
 *    images PUT) of a three-layer image of gzip tars is pulled with `skopeo copy … dir:`: a Docker
 *    schema 2 manifest whose layer blobs are the V1 layers byte for byte, whose config's
 *    `rootfs.diff_ids` are the sha256 of the decompressed layers and carries the V1 json's
 *    architecture/os/Env/Cmd (`skopeo inspect`); a second pull gives the same manifest digest;
 *  - the image of dev/image-fixture.ts pushed with skopeo from `oci:` and `dir:` is pulled by the
 *    V1 client path (tags, index images, ancestry, json, layer): one V1 image per layer, each
 *    layer the fixture's blob byte for byte, the top json carrying the config's fields;
 *  - a two-platform index pushed with `skopeo copy --all` is served by V2 but absent from V1;
 *  - token mode: a user made with the admin CLI pushes to and pulls from `<user>/app` with
 *    `--dest-creds` / `--src-creds`; a push to another namespace (or without credentials) fails.
 * Run alone: `bun test --timeout 300000 test/e2e/bridge.test.ts`.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImageFixture, DOCKER_MANIFEST, OCI_INDEX, sha256, type ImageFixture } from '../../dev/image-fixture.ts';
import { startSupervisor, type Supervisor } from '../helpers/supervisor.ts';
import { buildTar, gzip } from '../helpers/tar.ts';
import { hex, payload, randomBytes, UA } from '../helpers/v1-push.ts';
import { skopeoRunner } from '../helpers/skopeo.ts';

const TIMEOUT = 120_000;
const ROOT = join(import.meta.dir, '..', '..');

let fixture: ImageFixture;
let tmp: string;
let registry: Supervisor;
let host: string;
const source = { oci: '', dir: '', multi: '' };

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'bridge-e2e-'));
  fixture = await buildImageFixture();
  fixture.writeOciLayout(join(tmp, 'src-oci'), 'v1');
  fixture.writeDir(join(tmp, 'src-dir'));
  fixture.writeMultiPlatformOciLayout(join(tmp, 'src-multi'), 'all');
  source.oci = `oci:${join(tmp, 'src-oci')}:v1`;
  source.dir = `dir:${join(tmp, 'src-dir')}`;
  source.multi = `oci:${join(tmp, 'src-multi')}:all`;
  registry = await startSupervisor({ STORAGE: 'fs', REGISTRY_AUTH: 'open' });
  host = `127.0.0.1:${registry.port}`;
}, TIMEOUT);

afterAll(async () => {
  await registry?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const { run: skopeo, ok } = skopeoRunner(() => tmp);

const ref = (h: string, repo: string, tag: string) => `docker://${h}/${repo}:${tag}`;

interface Pulled {
  manifest: Uint8Array;
  json: { mediaType?: string; config: { digest: string; mediaType: string }; layers: { digest: string; size: number; mediaType: string }[] };
  blobs: Map<string, Uint8Array>;
}

/** `skopeo copy docker://… dir:<fresh dir>`, read back; every blob hashes to its name. */
async function pull(h: string, repo: string, tag: string, ...extra: string[]): Promise<Pulled> {
  const dir = mkdtempSync(join(tmp, 'pulled-'));
  await ok('copy', '--src-tls-verify=false', ...extra, ref(h, repo, tag), `dir:${dir}`);
  const manifest = new Uint8Array(readFileSync(join(dir, 'manifest.json')));
  const blobs = new Map<string, Uint8Array>();
  for (const name of readdirSync(dir)) if (/^[0-9a-f]{64}$/.test(name)) blobs.set(`sha256:${name}`, new Uint8Array(readFileSync(join(dir, name))));
  const json = JSON.parse(new TextDecoder().decode(manifest)) as Pulled['json'];
  expect([...blobs.keys()].sort()).toEqual([...new Set([json.config.digest, ...json.layers.map((l) => l.digest)])].sort());
  for (const [digest, bytes] of blobs) expect(sha256(bytes)).toBe(digest);
  return { manifest, json, blobs };
}

/** A V1 client call (the docker 1.x user agent). */
const v1 = (base: string) => (method: string, path: string, init: { body?: string | Uint8Array; headers?: Record<string, string> } = {}) =>
  fetch(`${base}${path}`, { method, body: init.body, headers: { 'user-agent': UA, ...init.headers } });

interface V1Image {
  id: string;
  json: string;
  layer: Uint8Array;
}

/** Pushes `images` (root first) to `repo` as docker 1.x does (images it has are skipped), and tags the top one `tag`. */
async function v1Push(base: string, repo: string, tag: string, images: V1Image[], basic?: string): Promise<string | null> {
  const plain = v1(base);
  let r = await plain('PUT', `/v1/repositories/${repo}/`, {
    body: JSON.stringify(images.map((i) => ({ id: i.id }))),
    headers: { 'content-type': 'application/json', 'x-docker-token': 'true', ...(basic && { authorization: basic }) },
  });
  expect(r.status).toBe(200);
  // token mode: the index's token goes with every registry call
  const token = basic ? r.headers.get('x-docker-token') : null;
  const call: typeof plain = (method, path, init = {}) => plain(method, path, { ...init, headers: { ...init.headers, ...(token && { authorization: `Token ${token}` }) } });
  for (const i of images) {
    // docker 1.x skips an image the registry has already
    r = await call('GET', `/v1/images/${i.id}/json`);
    await r.arrayBuffer();
    if (r.status === 200) continue;
    r = await call('PUT', `/v1/images/${i.id}/json`, { body: i.json, headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(200);
    r = await call('PUT', `/v1/images/${i.id}/layer`, { body: i.layer });
    expect(r.status).toBe(200);
    r = await call('PUT', `/v1/images/${i.id}/checksum`, { headers: { 'x-docker-checksum-payload': payload(i.json, i.layer) } });
    expect(r.status).toBe(200);
  }
  r = await call('PUT', `/v1/repositories/${repo}/tags/${tag}`, { body: JSON.stringify(images.at(-1)!.id) });
  expect(r.status).toBe(200);
  // an index call again: Basic credentials in token mode
  r = await plain('PUT', `/v1/repositories/${repo}/images`, {
    body: JSON.stringify(images.map((i) => ({ id: i.id, checksum: payload(i.json, i.layer) }))),
    ...(basic && { headers: { authorization: basic } }),
  });
  expect(r.status).toBe(204);
  return token;
}

interface V1Pulled {
  top: string;
  /** root first */
  ancestry: string[];
  jsons: Map<string, Record<string, unknown>>;
  layers: Map<string, Uint8Array>;
  listed: string[];
}

/** Pulls `repo:tag` as docker 1.x does: index images, tags, ancestry, then json and layer of each. */
async function v1Pull(base: string, repo: string, tag: string): Promise<V1Pulled> {
  const call = v1(base);
  let r = await call('GET', `/v1/repositories/${repo}/images`, { headers: { 'x-docker-token': 'true' } });
  expect(r.status).toBe(200);
  const listed = ((await r.json()) as { id: string }[]).map((i) => i.id);
  r = await call('GET', `/v1/repositories/${repo}/tags`);
  expect(r.status).toBe(200);
  const tags = (await r.json()) as Record<string, string>;
  const top = tags[tag]!;
  expect(top).toMatch(/^[0-9a-f]{64}$/);
  r = await call('GET', `/v1/images/${top}/ancestry`);
  expect(r.status).toBe(200);
  const ancestry = ((await r.json()) as string[]).reverse();
  const jsons = new Map<string, Record<string, unknown>>();
  const layers = new Map<string, Uint8Array>();
  for (const id of ancestry) {
    r = await call('GET', `/v1/images/${id}/json`);
    expect(r.status).toBe(200);
    const size = r.headers.get('x-docker-size');
    jsons.set(id, (await r.json()) as Record<string, unknown>);
    r = await call('GET', `/v1/images/${id}/layer`);
    expect(r.status).toBe(200);
    const layer = new Uint8Array(await r.arrayBuffer());
    expect(size).toBe(String(layer.byteLength));
    layers.set(id, layer);
  }
  return { top, ancestry, jsons, layers, listed };
}

describe('V1 push → V2 pull with skopeo', () => {
  test('a three-layer V1 image: Docker schema 2, layers byte-identical, diff_ids, config fields, stable digest', async () => {
    const repo = `v1${hex(6)}/app`;
    const ids = [hex(64), hex(64), hex(64)];
    const tars = [
      await buildTar([
        { name: 'etc/', type: 'directory' },
        { name: 'etc/os-release', body: 'NAME="Bridge Linux"\nID=bridge\n' },
        { name: 'bin/', type: 'directory' },
        { name: 'bin/tool', body: randomBytes(200 * 1024), mode: 0o755 },
      ]),
      await buildTar([
        { name: 'var/', type: 'directory' },
        { name: 'var/lib/', type: 'directory' },
        { name: 'var/lib/data.bin', body: randomBytes(700 * 1024 + 17) },
      ]),
      await buildTar([
        { name: 'etc/', type: 'directory' },
        { name: 'etc/motd', body: 'pushed by a V1 client\n' },
        { name: 'etc/.wh.os-release' },
      ]),
    ];
    const layers = tars.map((t) => gzip(t));
    const env = ['PATH=/usr/bin:/bin', 'BRIDGE=v1'];
    const cmd = ['/bin/tool', '--run'];
    const images: V1Image[] = ids.map((id, i) => {
      const top = i === ids.length - 1;
      const json: Record<string, unknown> = {
        id,
        ...(i > 0 && { parent: ids[i - 1] }),
        created: `2026-11-27T00:00:0${i}Z`,
        container_config: { Cmd: ['/bin/sh', '-c', `#(nop) step ${i}`] },
        docker_version: '1.6.2',
        architecture: 'amd64',
        os: 'linux',
        config: top ? { Env: env, Cmd: cmd, WorkingDir: '/var/lib' } : { Env: env, Cmd: null },
        Size: tars[i]!.byteLength,
      };
      return { id, json: JSON.stringify(json), layer: layers[i]! };
    });
    await v1Push(registry.url, repo, 'latest', images);

    const p = await pull(host, repo, 'latest');
    expect(p.json.mediaType).toBe(DOCKER_MANIFEST);
    expect(p.json.layers.map((l) => l.digest)).toEqual(layers.map((l) => sha256(l)));
    p.json.layers.forEach((l, i) => {
      expect(l.mediaType).toBe('application/vnd.docker.image.rootfs.diff.tar.gzip');
      expect(l.size).toBe(layers[i]!.byteLength);
      expect(Buffer.from(p.blobs.get(l.digest)!).equals(Buffer.from(layers[i]!))).toBe(true);
    });
    const config = JSON.parse(new TextDecoder().decode(p.blobs.get(p.json.config.digest)!));
    expect(config.rootfs).toEqual({ type: 'layers', diff_ids: tars.map((t) => sha256(t)) });
    expect(config).toMatchObject({ architecture: 'amd64', os: 'linux', config: { Env: env, Cmd: cmd, WorkingDir: '/var/lib' } });
    // the V1-only keys are not config
    for (const k of ['id', 'parent', 'Size']) expect(config).not.toHaveProperty(k);
    expect(config.history).toHaveLength(3);

    const info = JSON.parse(await ok('inspect', '--tls-verify=false', ref(host, repo, 'latest')));
    expect(info.Digest).toBe(sha256(p.manifest));
    expect(info.Architecture).toBe('amd64');
    expect(info.Os).toBe('linux');
    expect(info.Env).toEqual(env);
    expect(info.Layers).toEqual(layers.map((l) => sha256(l)));
    expect(info.RepoTags).toEqual(['latest']);
    const raw = JSON.parse(await ok('inspect', '--tls-verify=false', '--config', '--raw', ref(host, repo, 'latest')));
    expect(raw.config).toMatchObject({ Env: env, Cmd: cmd });

    // a second pull (by a fresh skopeo, possibly through the other worker): the same manifest
    const again = await pull(host, repo, 'latest');
    expect(sha256(again.manifest)).toBe(sha256(p.manifest));
    expect(Buffer.from(again.manifest).equals(Buffer.from(p.manifest))).toBe(true);
    // and by digest
    const viaDigest = JSON.parse(await ok('inspect', '--tls-verify=false', `docker://${host}/${repo}@${info.Digest}`));
    expect(viaDigest.Digest).toBe(info.Digest);
  }, TIMEOUT);
});

describe('V1 push of uncompressed layers (as docker 1.x pushes them) → V2 pull with skopeo', () => {
  test('plain tar layers (one gzip beside them): an OCI manifest, per-layer media types, diff_ids, copy to an oci: layout', async () => {
    const repo = `plain${hex(6)}/app`;
    const tars = [
      await buildTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/plain', body: 'an uncompressed layer\n' }]),
      await buildTar([{ name: 'usr/', type: 'directory' }, { name: 'usr/lib.bin', body: randomBytes(150 * 1024) }]),
      await buildTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/last', body: 'plain again\n' }]),
    ];
    const layers = [tars[0]!, gzip(tars[1]!), tars[2]!];
    const ids = [hex(64), hex(64), hex(64)];
    await v1Push(
      registry.url,
      repo,
      'v1',
      ids.map((id, i) => ({
        id,
        layer: layers[i]!,
        json: JSON.stringify({ id, ...(i > 0 && { parent: ids[i - 1] }), created: `2026-11-27T00:00:0${i}Z`, os: 'linux', architecture: 'amd64', config: { Cmd: ['/bin/true'] } }),
      })),
    );
    const p = await pull(host, repo, 'v1');
    expect(p.json.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(p.json.config.mediaType).toBe('application/vnd.oci.image.config.v1+json');
    expect(p.json.layers.map((l) => l.mediaType)).toEqual([
      'application/vnd.oci.image.layer.v1.tar',
      'application/vnd.oci.image.layer.v1.tar+gzip',
      'application/vnd.oci.image.layer.v1.tar',
    ]);
    p.json.layers.forEach((l, i) => expect(Buffer.from(p.blobs.get(l.digest)!).equals(Buffer.from(layers[i]!))).toBe(true));
    const config = JSON.parse(new TextDecoder().decode(p.blobs.get(p.json.config.digest)!));
    expect(config.rootfs.diff_ids).toEqual(tars.map((t) => sha256(t)));
    // skopeo also writes it as an OCI layout: it gzips the plain layers on the way (its choice
    // for that destination), so the layout's layers decompress to the V1 tars under the same config
    const layout = mkdtempSync(join(tmp, 'layout-'));
    await ok('copy', '--src-tls-verify=false', ref(host, repo, 'v1'), `oci:${layout}:v1`);
    const blob = (digest: string) => new Uint8Array(readFileSync(join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length))));
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    const written = JSON.parse(new TextDecoder().decode(blob(index.manifests[0].digest))) as Pulled['json'];
    expect(written.config.digest).toBe(p.json.config.digest);
    written.layers.forEach((l, i) => {
      const bytes = blob(l.digest);
      const tar = l.mediaType.endsWith('+gzip') ? Bun.gunzipSync(bytes as Uint8Array<ArrayBuffer>) : bytes;
      expect(Buffer.from(tar).equals(Buffer.from(tars[i]!))).toBe(true);
    });
  }, TIMEOUT);
});

describe('skopeo push → V1 pull', () => {
  for (const kind of ['oci', 'dir'] as const) {
    test(`${kind}: source: tags, index images, ancestry = layers, each layer the fixture blob, top json with the config`, async () => {
      const repo = `bridge/from-${kind}`;
      await ok('copy', '--dest-tls-verify=false', source[kind], ref(host, repo, 'v1'));
      const got = await v1Pull(registry.url, repo, 'v1');
      expect(got.ancestry).toHaveLength(fixture.layers.length);
      expect([...got.listed].sort()).toEqual([...got.ancestry].sort());
      got.ancestry.forEach((id, i) => {
        expect(Buffer.from(got.layers.get(id)!).equals(Buffer.from(fixture.layers[i]!.gz))).toBe(true);
        const json = got.jsons.get(id)!;
        expect(json.id).toBe(id);
        expect(json.parent).toBe(i === 0 ? undefined : got.ancestry[i - 1]);
      });
      const top = got.jsons.get(got.top)!;
      expect(top).toMatchObject({ architecture: 'amd64', os: 'linux' });
      expect(top.config).toEqual(fixture.configJson.config);
      // the V2 side still serves exactly what skopeo pushed
      const raw = await ok('inspect', '--tls-verify=false', '--raw', ref(host, repo, 'v1'));
      expect(raw).toBe(new TextDecoder().decode(kind === 'oci' ? fixture.ociManifest : fixture.dockerManifest));
    }, TIMEOUT);
  }

  test('a two-platform index pushed with copy --all: V2 serves it, V1 does not list its tag', async () => {
    const repo = 'bridge/multi';
    await ok('copy', '--all', '--dest-tls-verify=false', source.multi, ref(host, repo, 'all'));
    // a single-platform tag beside it is visible to V1
    await ok('copy', '--dest-tls-verify=false', source.oci, ref(host, repo, 'single'));
    const raw = await ok('inspect', '--tls-verify=false', '--raw', ref(host, repo, 'all'));
    expect(raw).toBe(new TextDecoder().decode(fixture.multiPlatformIndex));
    expect(JSON.parse(raw).mediaType).toBe(OCI_INDEX);
    const arm = JSON.parse(await ok('--override-arch', 'arm64', 'inspect', '--tls-verify=false', ref(host, repo, 'all')));
    expect(arm.Architecture).toBe('arm64');
    expect(arm.Layers).toEqual(fixture.layers.map((l) => l.digest));
    const amd = await pull(host, repo, 'all', '--override-arch', 'amd64');
    expect(sha256(amd.manifest)).toBe(fixture.ociManifestDigest);

    const call = v1(registry.url);
    const tags = (await (await call('GET', `/v1/repositories/${repo}/tags`)).json()) as Record<string, string>;
    expect(Object.keys(tags)).toEqual(['single']);
    const r = await call('GET', `/v1/repositories/${repo}/tags/all`);
    expect(r.status).toBe(404);
    await r.arrayBuffer();
    const v2tags = (await (await fetch(`${registry.url}/v2/${repo}/tags/list`)).json()) as { tags: string[] };
    expect(v2tags.tags.sort()).toEqual(['all', 'single']);
  }, TIMEOUT);
});

describe('one-part names are library/<name> on both sides', () => {
  test('skopeo pushes host/<name>: a V1 client pulls <name> and library/<name>; a V1 push of <name> is pulled as library/<name>', async () => {
    const name = `lib${hex(6)}`;
    await ok('copy', '--dest-tls-verify=false', source.dir, ref(host, name, 'v1'));
    for (const repo of [name, `library/${name}`]) {
      const got = await v1Pull(registry.url, repo, 'v1');
      expect(got.ancestry).toHaveLength(fixture.layers.length);
      got.ancestry.forEach((id, i) => expect(Buffer.from(got.layers.get(id)!).equals(Buffer.from(fixture.layers[i]!.gz))).toBe(true));
    }
    const other = `lib${hex(6)}`;
    const image = { id: hex(64), layer: gzip(await buildTar([{ name: 'hello', body: 'one-part V1 push\n' }])) };
    await v1Push(registry.url, other, 'latest', [{ ...image, json: JSON.stringify({ id: image.id, created: '2026-11-27T00:00:00Z', os: 'linux', architecture: 'amd64' }) }]);
    const a = await pull(host, other, 'latest');
    const b = await pull(host, `library/${other}`, 'latest');
    expect(Buffer.from(a.manifest).equals(Buffer.from(b.manifest))).toBe(true);
    expect(Buffer.from(a.blobs.get(sha256(image.layer))!).equals(Buffer.from(image.layer))).toBe(true);
  }, TIMEOUT);
});

describe('a tag re-pushed through the other protocol', () => {
  test('V1 → V2-derived, replaced by a skopeo push (V1 sees the new top), replaced by a V1 push (V2 derives anew)', async () => {
    const repo = `swap${hex(6)}/app`;
    const one = { id: hex(64), layer: gzip(await buildTar([{ name: 'one.txt', body: 'first V1 push\n' }])) };
    await v1Push(registry.url, repo, 't', [{ ...one, json: JSON.stringify({ id: one.id, created: '2026-11-27T00:00:00Z', os: 'linux', architecture: 'amd64' }) }]);
    const first = await pull(host, repo, 't');
    expect(first.json.layers.map((l) => l.digest)).toEqual([sha256(one.layer)]);

    // skopeo pushes the fixture under the same tag: V2 and V1 both see it
    await ok('copy', '--dest-tls-verify=false', source.oci, ref(host, repo, 't'));
    expect(await ok('inspect', '--tls-verify=false', '--raw', ref(host, repo, 't'))).toBe(new TextDecoder().decode(fixture.ociManifest));
    const fromV2 = await v1Pull(registry.url, repo, 't');
    expect(fromV2.ancestry).toHaveLength(fixture.layers.length);
    expect(Buffer.from(fromV2.layers.get(fromV2.top)!).equals(Buffer.from(fixture.layers.at(-1)!.gz))).toBe(true);
    // the images of both pushes are listed (the list merges)
    expect(fromV2.listed).toContain(one.id);

    // a V1 client pushes a two-image tag again: V2 derives the new one
    const two = { id: hex(64), layer: gzip(await buildTar([{ name: 'two.txt', body: 'second V1 push\n' }])) };
    await v1Push(registry.url, repo, 't', [
      { ...one, json: JSON.stringify({ id: one.id, created: '2026-11-27T00:00:00Z', os: 'linux', architecture: 'amd64' }) },
      { ...two, json: JSON.stringify({ id: two.id, parent: one.id, created: '2026-11-27T00:00:01Z', os: 'linux', architecture: 'amd64', config: { Env: ['X=2'] } }) },
    ]);
    const third = await pull(host, repo, 't');
    expect(third.json.mediaType).toBe(DOCKER_MANIFEST);
    expect(third.json.layers.map((l) => l.digest)).toEqual([sha256(one.layer), sha256(two.layer)]);
    expect(Buffer.from(third.blobs.get(sha256(two.layer))!).equals(Buffer.from(two.layer))).toBe(true);
    const info = JSON.parse(await ok('inspect', '--tls-verify=false', ref(host, repo, 't')));
    expect(info.Env).toEqual(['X=2']);
    expect((await v1Pull(registry.url, repo, 't')).top).toBe(two.id);
  }, TIMEOUT);
});

describe('token mode (REGISTRY_AUTH=token) with skopeo credentials', () => {
  const USER = 'bridgeuser';
  const PASSWORD = 'bridge-pass-1';
  let secured: Supervisor;
  let securedHost: string;

  beforeAll(async () => {
    secured = await startSupervisor({ STORAGE: 'fs', REGISTRY_AUTH: 'token' });
    securedHost = `127.0.0.1:${secured.port}`;
    await addUser(USER, PASSWORD);
  }, TIMEOUT);

  /** `bun run admin -- user add` on the supervisor's database. */
  async function addUser(user: string, password: string): Promise<void> {
    const p = Bun.spawn([process.execPath, 'run', 'admin', '--', 'user', 'add', user, '--password', password], {
      cwd: ROOT,
      env: { ...process.env, STORAGE_PATH: join(secured.dir, 'data'), REGISTRY_DB: '', REGISTRY_CONFIG: '' },
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    if (code !== 0) throw new Error(`bun run admin -- user add ${user} exited ${code}: ${err}${out}`);
  }

  afterAll(async () => {
    await secured?.stop();
  });

  test('a private repository pushed by V1 is pulled through V2 by its owner only', async () => {
    const creds = `${USER}:${PASSWORD}`;
    const basic = `Basic ${Buffer.from(creds).toString('base64')}`;
    const repo = `${USER}/secret`;
    const image = { id: hex(64), layer: gzip(await buildTar([{ name: 'secret.txt', body: 'private V1 push\n' }])) };
    const token = await v1Push(secured.url, repo, 'v1', [{ ...image, json: JSON.stringify({ id: image.id, created: '2026-11-27T00:00:00Z', os: 'linux', architecture: 'amd64' }) }], basic);
    expect(token).toContain('access=write');
    const r = await v1(secured.url)('PUT', `/v1/repositories/${repo}/properties`, {
      body: JSON.stringify({ access: 'private' }),
      headers: { 'content-type': 'application/json', authorization: `Token ${token}` },
    });
    expect(r.status).toBe(200);
    await r.arrayBuffer();
    const p = await pull(securedHost, repo, 'v1', '--src-creds', creds);
    expect(p.json.layers.map((l) => l.digest)).toEqual([sha256(image.layer)]);
    expect(Buffer.from(p.blobs.get(sha256(image.layer))!).equals(Buffer.from(image.layer))).toBe(true);
    // anonymous: refused, by tag and by digest, and the layer blob too
    let run = await skopeo('inspect', '--tls-verify=false', ref(securedHost, repo, 'v1'));
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/denied|unauthorized|authentication required/i);
    run = await skopeo('inspect', '--tls-verify=false', `docker://${securedHost}/${repo}@${sha256(p.manifest)}`);
    expect(run.code).not.toBe(0);
    const blob = await fetch(`${secured.url}/v2/${repo}/blobs/${sha256(image.layer)}`);
    expect(blob.status).toBe(401);
    await blob.arrayBuffer();
    // another user: refused as well
    await addUser('otheruser', 'other-pass-1');
    run = await skopeo('inspect', '--tls-verify=false', '--creds', 'otheruser:other-pass-1', ref(securedHost, repo, 'v1'));
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/denied|unauthorized/i);
  }, TIMEOUT);

  test('--dest-creds pushes to <user>/app, --src-creds pulls it back byte-identical; V1 sees the tag', async () => {
    const creds = `${USER}:${PASSWORD}`;
    await ok('copy', '--dest-tls-verify=false', '--dest-creds', creds, source.oci, ref(securedHost, `${USER}/app`, 'v1'));
    const p = await pull(securedHost, `${USER}/app`, 'v1', '--src-creds', creds);
    expect(Buffer.from(p.manifest).equals(Buffer.from(fixture.ociManifest))).toBe(true);
    for (const l of fixture.layers) expect(Buffer.from(p.blobs.get(l.digest)!).equals(Buffer.from(l.gz))).toBe(true);
    expect(Buffer.from(p.blobs.get(fixture.configDigest)!).equals(Buffer.from(fixture.config))).toBe(true);
    // anonymous reads of a public repository (anonymous_read defaults on) work through V2 too
    const anon = JSON.parse(await ok('inspect', '--tls-verify=false', ref(securedHost, `${USER}/app`, 'v1')));
    expect(anon.Digest).toBe(fixture.ociManifestDigest);
    // the bridge wrote its V1 form: a V1 client lists the tag
    const tags = (await (await v1(secured.url)('GET', `/v1/repositories/${USER}/app/tags`)).json()) as Record<string, string>;
    expect(Object.keys(tags)).toEqual(['v1']);
    // and pulls it the docker 1.x way with the user's token: the bridged images are listed by
    // the repository, so the token reaches each of them
    const call = v1(secured.url);
    const basic = `Basic ${Buffer.from(creds).toString('base64')}`;
    let r = await call('GET', `/v1/repositories/${USER}/app/images`, { headers: { 'x-docker-token': 'true', authorization: basic } });
    expect(r.status).toBe(200);
    const token = r.headers.get('x-docker-token')!;
    expect(token).toContain(`repository="${USER}/app",access=read`);
    const auth = { authorization: `Token ${token}` };
    r = await call('GET', `/v1/repositories/${USER}/app/tags/v1`, { headers: auth });
    expect(r.status).toBe(200);
    const top = (await r.json()) as string;
    r = await call('GET', `/v1/images/${top}/ancestry`, { headers: auth });
    expect(r.status).toBe(200);
    const ancestry = ((await r.json()) as string[]).reverse();
    expect(ancestry).toHaveLength(fixture.layers.length);
    for (const [i, id] of ancestry.entries()) {
      r = await call('GET', `/v1/images/${id}/json`, { headers: auth });
      expect(r.status).toBe(200);
      await r.arrayBuffer();
      r = await call('GET', `/v1/images/${id}/layer`, { headers: auth });
      expect(r.status).toBe(200);
      expect(Buffer.from(await r.arrayBuffer()).equals(Buffer.from(fixture.layers[i]!.gz))).toBe(true);
    }
  }, TIMEOUT);

  test('a push to another namespace, or without credentials, is refused', async () => {
    const creds = `${USER}:${PASSWORD}`;
    let r = await skopeo('copy', '--dest-tls-verify=false', '--dest-creds', creds, source.oci, ref(securedHost, 'someoneelse/app', 'v1'));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/denied|unauthorized|forbidden/i);
    r = await skopeo('copy', '--dest-tls-verify=false', source.oci, ref(securedHost, `${USER}/other`, 'v1'));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/denied|unauthorized|authentication required/i);
    r = await skopeo('copy', '--dest-tls-verify=false', '--dest-creds', `${USER}:wrong-password`, source.oci, ref(securedHost, `${USER}/other`, 'v1'));
    expect(r.code).not.toBe(0);
    // nothing of the refused pushes is visible
    const check = await fetch(`${secured.url}/v2/token?service=${securedHost}&scope=repository:someoneelse/app:pull`);
    const { token } = (await check.json()) as { token: string };
    const m = await fetch(`${secured.url}/v2/someoneelse/app/manifests/v1`, { headers: { authorization: `Bearer ${token}` } });
    expect(m.status).toBe(404);
    await m.arrayBuffer();
  }, TIMEOUT);
});
