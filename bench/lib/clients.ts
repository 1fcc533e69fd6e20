/**
 * Minimal sequential push/pull clients for bench/compare.ts, in the order the docker daemon
 * uses: V1 (index PUT, per image: GET json → PUT json, PUT layer, PUT checksum; tag; index
 * images) against our registry, and V2 (POST upload + PUT ?digest= per blob, schema2 manifest)
 * against either registry, plus a chunked V2 blob upload (POST, PATCHes with Content-Range,
 * PUT ?digest=). Layers are files; bodies are streamed with Bun.file.
 */

export interface Layer {
  path: string;
  size: number;
  /** sha256 hex of the file (V2 digest) */
  sha256: string;
}

export interface V1Image {
  id: string;
  parent?: string;
  json: string;
  layer: Layer;
  /** sha256:<hex> of json + "\n" + layer */
  checksum: string;
}

const hex = (n: number) => Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, '0')).join('');
const randomId = () => hex(32);

/** sha256 of a file, and optionally of `prefix + file` in the same pass. */
export async function hashFile(path: string, prefix?: string): Promise<{ sha256: string; prefixed?: string }> {
  const plain = new Bun.CryptoHasher('sha256');
  const pre = prefix !== undefined ? new Bun.CryptoHasher('sha256').update(prefix) : undefined;
  for await (const chunk of Bun.file(path).stream()) {
    plain.update(chunk);
    pre?.update(chunk);
  }
  return { sha256: plain.digest('hex'), prefixed: pre ? `sha256:${pre.digest('hex')}` : undefined };
}

/** A chain of V1 images over `layers` (root first), with ids, json and payload checksums. */
export async function v1Chain(layers: Layer[]): Promise<V1Image[]> {
  const out: V1Image[] = [];
  let parent: string | undefined;
  for (const layer of layers) {
    const id = randomId();
    const json = JSON.stringify({ id, ...(parent ? { parent } : {}), created: new Date().toISOString(), container_config: { Cmd: ['/bin/sh'] }, Size: layer.size });
    const { prefixed } = await hashFile(layer.path, `${json}\n`);
    out.push({ id, parent, json, layer, checksum: prefixed! });
    parent = id;
  }
  return out;
}

async function expect(r: Response, ok: number[], what: string): Promise<Response> {
  if (!ok.includes(r.status)) throw new Error(`${what}: HTTP ${r.status} ${(await r.text()).slice(0, 200)}`);
  return r;
}

const jsonHeaders = { 'content-type': 'application/json' };

/** Pushes one image's json, layer and checksum (it must not exist yet). */
async function v1PushImage(url: string, img: V1Image): Promise<void> {
  await expect(await fetch(`${url}/v1/images/${img.id}/json`, { method: 'PUT', headers: jsonHeaders, body: img.json }), [200], 'PUT json');
  await expect(
    await fetch(`${url}/v1/images/${img.id}/layer`, { method: 'PUT', headers: { 'content-length': String(img.layer.size) }, body: Bun.file(img.layer.path) }),
    [200],
    'PUT layer',
  );
  await expect(await fetch(`${url}/v1/images/${img.id}/checksum`, { method: 'PUT', headers: { 'x-docker-checksum-payload': img.checksum } }), [200], 'PUT checksum');
}

/** Full V1 push of a chain as `repo:tag`, like a docker 1.x daemon in standalone mode. */
export async function v1Push(url: string, repo: string, chain: V1Image[], tag = 'latest'): Promise<void> {
  const list = JSON.stringify(chain.map((i) => ({ id: i.id })));
  await expect(await fetch(`${url}/v1/repositories/${repo}/`, { method: 'PUT', headers: { ...jsonHeaders, 'x-docker-token': 'true' }, body: list }), [200], 'PUT repository');
  for (const img of chain) {
    const head = await fetch(`${url}/v1/images/${img.id}/json`);
    await head.arrayBuffer();
    if (head.status === 200) continue; // already there
    await v1PushImage(url, img);
  }
  const top = chain[chain.length - 1]!;
  await expect(await fetch(`${url}/v1/repositories/${repo}/tags/${tag}`, { method: 'PUT', headers: jsonHeaders, body: JSON.stringify(top.id) }), [200], 'PUT tag');
  const done = JSON.stringify(chain.map((i) => ({ id: i.id, checksum: i.checksum })));
  await expect(await fetch(`${url}/v1/repositories/${repo}/images`, { method: 'PUT', headers: jsonHeaders, body: done }), [200, 204], 'PUT images');
}

/** Reads a body to the end; returns its length. */
async function drain(r: Response): Promise<number> {
  let n = 0;
  for await (const c of r.body!) n += c.byteLength;
  return n;
}

/** Full V1 pull of `repo:tag`: index images, tags, ancestry, then json + layer per image (root first). Returns layer bytes. */
export async function v1Pull(url: string, repo: string, tag = 'latest'): Promise<number> {
  await (await expect(await fetch(`${url}/v1/repositories/${repo}/images`, { headers: { 'x-docker-token': 'true' } }), [200], 'GET images')).arrayBuffer();
  const tags = (await (await expect(await fetch(`${url}/v1/repositories/${repo}/tags`), [200], 'GET tags')).json()) as Record<string, string>;
  const id = tags[tag];
  if (!id) throw new Error(`tag ${tag} missing`);
  const ancestry = (await (await expect(await fetch(`${url}/v1/images/${id}/ancestry`), [200], 'GET ancestry')).json()) as string[];
  let bytes = 0;
  for (const img of [...ancestry].reverse()) {
    await (await expect(await fetch(`${url}/v1/images/${img}/json`), [200], 'GET json')).arrayBuffer();
    bytes += await drain(await expect(await fetch(`${url}/v1/images/${img}/layer`), [200], 'GET layer'));
  }
  return bytes;
}

// ---------------------------------------------------------------- V2 (distribution)

export const MANIFEST_V2 = 'application/vnd.docker.distribution.manifest.v2+json';

/**
 * The manifest types a docker daemon accepts on a pull (moby's distribution client sends one
 * Accept header per type; wrk keeps one header per name, so here they are one list, which HTTP
 * defines as the same).
 */
export const DOCKER_PULL_ACCEPT = [
  MANIFEST_V2,
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
].join(', ');

/** POST …/blobs/uploads/: the upload's Location (absolute). */
export async function v2StartUpload(url: string, name: string): Promise<URL> {
  const post = await expect(await fetch(`${url}/v2/${name}/blobs/uploads/`, { method: 'POST' }), [202], 'POST upload');
  await post.arrayBuffer();
  return new URL(post.headers.get('location')!, url);
}

/** A blob in `chunk`-byte PATCHes with `Content-Range: <start>-<end>` (each to the Location the last answer gave), then PUT ?digest=. */
export async function v2ChunkedUpload(url: string, name: string, layer: Layer, chunk: number): Promise<void> {
  let loc = await v2StartUpload(url, name);
  const file = Bun.file(layer.path);
  for (let start = 0; start < layer.size; start += chunk) {
    const end = Math.min(layer.size, start + chunk);
    const r = await expect(
      await fetch(loc, {
        method: 'PATCH',
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${start}-${end - 1}`, 'content-length': String(end - start) },
        body: file.slice(start, end),
      }),
      [202],
      'PATCH chunk',
    );
    await r.arrayBuffer();
    loc = new URL(r.headers.get('location')!, url);
  }
  loc.searchParams.set('digest', `sha256:${layer.sha256}`);
  await (await expect(await fetch(loc, { method: 'PUT' }), [201], 'PUT ?digest=')).arrayBuffer();
}

/** One blob: POST an upload, then PUT the body to its Location with ?digest= (2 requests). */
async function v2PushBlob(url: string, name: string, digestHex: string, body: Blob | string, size: number): Promise<void> {
  const loc = await v2StartUpload(url, name);
  loc.searchParams.set('digest', `sha256:${digestHex}`);
  await (
    await expect(
      await fetch(loc, { method: 'PUT', headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) }, body }),
      [201],
      'PUT blob',
    )
  ).arrayBuffer();
}

/** Push like a docker daemon: HEAD each blob, upload the missing ones, then the schema2 manifest. */
export async function v2Push(url: string, name: string, layers: Layer[], tag = 'latest'): Promise<void> {
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => `sha256:${l.sha256}`) },
  });
  const configHex = new Bun.CryptoHasher('sha256').update(config).digest('hex');
  const blobs: [string, Blob | string, number][] = [
    ...layers.map((l) => [l.sha256, Bun.file(l.path), l.size] as [string, Blob, number]),
    [configHex, config, Buffer.byteLength(config)],
  ];
  for (const [d, body, size] of blobs) {
    const head = await fetch(`${url}/v2/${name}/blobs/sha256:${d}`, { method: 'HEAD' });
    if (head.status === 200) continue;
    await v2PushBlob(url, name, d, body, size);
  }
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST_V2,
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: Buffer.byteLength(config), digest: `sha256:${configHex}` },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: l.size, digest: `sha256:${l.sha256}` })),
  });
  await (await expect(await fetch(`${url}/v2/${name}/manifests/${tag}`, { method: 'PUT', headers: { 'content-type': MANIFEST_V2 }, body: manifest }), [201], 'PUT manifest')).arrayBuffer();
}

/** Pull like a docker daemon: manifest, config blob, then each layer blob. Returns layer bytes. */
export async function v2Pull(url: string, name: string, tag = 'latest'): Promise<number> {
  const m = (await (await expect(await fetch(`${url}/v2/${name}/manifests/${tag}`, { headers: { accept: MANIFEST_V2 } }), [200], 'GET manifest')).json()) as {
    config: { digest: string };
    layers: { digest: string }[];
  };
  await (await expect(await fetch(`${url}/v2/${name}/blobs/${m.config.digest}`), [200], 'GET config')).arrayBuffer();
  let bytes = 0;
  for (const l of m.layers) bytes += await drain(await expect(await fetch(`${url}/v2/${name}/blobs/${l.digest}`), [200], 'GET blob'));
  return bytes;
}
