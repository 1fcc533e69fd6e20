/**
 * The load the garbage collection end-to-end tests run against a live registry while it collects:
 * N clients, half V1 and half V2, each pushing images that share base layers (V1 through shared
 * parent images, V2 through shared blobs, mounted across repositories or skipped after a HEAD;
 * the same base bytes in both protocols), pulling its own and the others' pinned images, and
 * deleting some of its own (V1 tags; V2 manifests by digest, or only their tag) to make garbage.
 * It records what survives, so a test can check that everything kept still pulls and compute,
 * independently of the registry, which storage objects must remain: one layer per V1 image a
 * surviving tag reaches, one blob per digest a surviving manifest references.
 */
import { hex } from '../../dev/ids.ts';
import { OCI_MANIFEST } from '../../src/domain/manifest.ts';
import { UA, payload } from './v1-push.ts';

const sha256 = (b: Uint8Array | string) => `sha256:${new Bun.CryptoHasher('sha256').update(b).digest('hex')}`;
const enc = new TextEncoder();
const BASES = 10;
/** the same base layer bytes for both protocols (V1 base image b, V2 base blob b) */
const baseLayer = (b: number) => enc.encode(`base layer ${b} `.repeat(40 + b));
/** V1 base image ids, fixed: every V1 client builds on them (pushing them when they are missing) */
const BASE_IDS = Array.from({ length: BASES }, (_, b) => sha256(`gc-load base ${b}`).slice(7));

interface V1Image {
  id: string;
  json: string;
  layer: Uint8Array;
}
interface V1Pushed {
  repo: string;
  tag: string;
  chain: V1Image[];
}
interface V2Pushed {
  repo: string;
  tag: string | null;
  manifest: string;
  blobs: Map<string, Uint8Array>;
}

export interface LoadResult {
  v1: V1Pushed[];
  v2: V2Pushed[];
  pushes: number;
  pulls: number;
  deletes: number;
  /** pushes refused with a clear error (a collection won a race): what and why */
  refusedPushes: string[];
  /** anything else that went wrong: must stay empty */
  failures: string[];
}

const v1Base = (b: number): V1Image => ({ id: BASE_IDS[b]!, json: JSON.stringify({ id: BASE_IDS[b] }), layer: baseLayer(b) });

/** A fetch that reports non-expected statuses as failures (the body included). */
async function call(url: string, method: string, path: string, init: { body?: string | Uint8Array; headers?: Record<string, string> } = {}) {
  const r = await fetch(`${url}${path}`, { method, body: init.body, headers: { 'user-agent': UA, ...init.headers } });
  return { status: r.status, bytes: new Uint8Array(await r.arrayBuffer()), headers: r.headers };
}
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** Pushes one V1 image unless present (another client may be pushing it too: retried). */
async function pushV1Image(url: string, img: V1Image): Promise<string | null> {
  for (let attempt = 0; attempt < 6; attempt++) {
    const got = await call(url, 'GET', `/v1/images/${img.id}/json`);
    if (got.status === 200) return null;
    if (got.status === 400) {
      await Bun.sleep(20);
      continue;
    }
    const steps: [string, { body?: string | Uint8Array; headers?: Record<string, string> }][] = [
      [`/v1/images/${img.id}/json`, { body: img.json, headers: { 'content-type': 'application/json' } }],
      [`/v1/images/${img.id}/layer`, { body: img.layer }],
      [`/v1/images/${img.id}/checksum`, { headers: { 'x-docker-checksum-payload': payload(img.json, img.layer) } }],
    ];
    let done = true;
    for (const [path, init] of steps) {
      const r = await call(url, 'PUT', path, init);
      if (r.status === 200) continue;
      // a concurrent push of the same image won a step: look again
      if (r.status === 409 || r.status === 400) {
        done = false;
        break;
      }
      return `PUT ${path} → ${r.status} ${text(r.bytes)}`;
    }
    if (done) return null;
  }
  return `image ${img.id}: gave up after concurrent pushes`;
}

async function pullV1(url: string, p: V1Pushed): Promise<string | null> {
  const tag = await call(url, 'GET', `/v1/repositories/${p.repo}/tags/${p.tag}`);
  if (tag.status !== 200 || JSON.parse(text(tag.bytes)) !== p.chain[p.chain.length - 1]!.id) return `V1 tag ${p.repo}:${p.tag} → ${tag.status} ${text(tag.bytes)}`;
  const top = p.chain[p.chain.length - 1]!.id;
  const ancestry = await call(url, 'GET', `/v1/images/${top}/ancestry`);
  if (ancestry.status !== 200) return `V1 ancestry ${top} → ${ancestry.status}`;
  const ids = JSON.parse(text(ancestry.bytes)) as string[];
  if (ids.join() !== [...p.chain].reverse().map((i) => i.id).join()) return `V1 ancestry ${top}: ${ids.join()}`;
  for (const img of p.chain) {
    const json = await call(url, 'GET', `/v1/images/${img.id}/json`);
    if (json.status !== 200 || text(json.bytes) !== img.json) return `V1 json ${img.id} → ${json.status}`;
    const layer = await call(url, 'GET', `/v1/images/${img.id}/layer`);
    if (layer.status !== 200 || Buffer.compare(layer.bytes, img.layer) !== 0) return `V1 layer ${img.id} → ${layer.status} (${layer.bytes.byteLength} bytes)`;
  }
  return null;
}

async function pullV2(url: string, p: V2Pushed): Promise<string | null> {
  const ref = p.tag ?? sha256(p.manifest);
  const m = await call(url, 'GET', `/v2/${p.repo}/manifests/${ref}`, { headers: { accept: OCI_MANIFEST } });
  if (m.status !== 200 || text(m.bytes) !== p.manifest) return `V2 manifest ${p.repo}:${ref} → ${m.status} ${text(m.bytes).slice(0, 200)}`;
  for (const digest of p.blobs.keys()) {
    const b = await call(url, 'GET', `/v2/${p.repo}/blobs/${digest}`);
    if (b.status !== 200 || sha256(b.bytes) !== digest) return `V2 blob ${p.repo}@${digest} → ${b.status}`;
  }
  return null;
}

/** Uploads a blob into `repo` unless it is there (HEAD) or can be mounted from `from`. */
async function pushBlob(url: string, repo: string, from: string, bytes: Uint8Array, n: number): Promise<string | null> {
  const digest = sha256(bytes);
  if ((await call(url, 'HEAD', `/v2/${repo}/blobs/${digest}`)).status === 200) return null;
  const mount = await call(url, 'POST', `/v2/${repo}/blobs/uploads/?mount=${digest}&from=${from}`);
  if (mount.status === 201) return null;
  if (n % 2 === 0) {
    const r = await call(url, 'POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, { body: bytes, headers: { 'content-type': 'application/octet-stream' } });
    return r.status === 201 ? null : `monolithic ${digest} → ${r.status} ${text(r.bytes)}`;
  }
  const location = mount.headers.get('location');
  if (mount.status !== 202 || !location) return `POST upload → ${mount.status}`;
  const sep = location.includes('?') ? '&' : '?';
  const r = await call(url, 'PUT', `${location}${sep}digest=${digest}`, { body: bytes, headers: { 'content-type': 'application/octet-stream' } });
  return r.status === 201 ? null : `PUT upload ${digest} → ${r.status} ${text(r.bytes)}`;
}

/** Whether a refused push is one a collection may cause (clear 4xx), not a defect. */
const clearRefusal = (why: string) => /→ 404 .*(MANIFEST_BLOB_UNKNOWN|Image not found|BLOB_UNKNOWN)|BLOB_UPLOAD_INVALID/.test(why);

export async function runGcLoad(urls: string[], opts: { clients: number; durationMs: number }): Promise<LoadResult> {
  const result: LoadResult = { v1: [], v2: [], pushes: 0, pulls: 0, deletes: 0, refusedPushes: [], failures: [] };
  const pinned: (V1Pushed | V2Pushed)[] = [];
  const deadline = performance.now() + opts.durationMs;
  const pushed = (why: string | null, what: string): boolean => {
    if (why === null) return true;
    (clearRefusal(why) ? result.refusedPushes : result.failures).push(`${what}: ${why}`);
    return false;
  };

  const client = async (k: number) => {
    const v1 = k % 2 === 0;
    const repo = `gc${k}/app`;
    const mine: (V1Pushed | V2Pushed)[] = [];
    const url = () => urls[Math.floor(Math.random() * urls.length)]!;
    for (let n = 0; n === 0 || performance.now() < deadline; n++) {
      const base = (k * 7 + n) % BASES;
      const unique = enc.encode(`client ${k} image ${n} ${hex(16)} `.repeat(20));
      result.pushes++;
      if (v1) {
        const chain = [v1Base(base), { id: hex(64), json: '', layer: unique }];
        chain[1]!.json = JSON.stringify({ id: chain[1]!.id, parent: chain[0]!.id });
        const tag = n === 0 ? 'pinned' : `t${n}`;
        let why = (await pushV1Image(url(), chain[0]!)) ?? (await pushV1Image(url(), chain[1]!));
        if (why === null) {
          const r = await call(url(), 'PUT', `/v1/repositories/${repo}/tags/${tag}`, { body: JSON.stringify(chain[1]!.id) });
          if (r.status !== 200) why = `PUT tag → ${r.status} ${text(r.bytes)}`;
        }
        if (pushed(why, `V1 ${repo}:${tag}`)) mine.push({ repo, tag, chain });
      } else {
        const layers = [baseLayer(base), baseLayer((base + 3) % BASES), unique];
        const config = enc.encode(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256(l)) }, n, k }));
        const blobs = new Map([config, ...layers].map((b) => [sha256(b), b] as const));
        const tag = n === 0 ? 'pinned' : `t${n}`;
        let why: string | null = null;
        for (const b of blobs.values()) why ??= await pushBlob(url(), repo, `gc${(k + 2) % opts.clients}/app`, b, n);
        const manifest = JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.byteLength },
          layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(l), size: l.byteLength })),
        });
        if (why === null) {
          const r = await call(url(), 'PUT', `/v2/${repo}/manifests/${tag}`, { body: manifest, headers: { 'content-type': OCI_MANIFEST } });
          if (r.status !== 201) why = `PUT manifest → ${r.status} ${text(r.bytes)}`;
        }
        if (pushed(why, `V2 ${repo}:${tag}`)) mine.push({ repo, tag, manifest, blobs });
      }
      if (n === 0 && mine.length > 0) pinned.push(mine[0]!);
      // pull: the newest of mine, one older one, and another client's pinned image
      const others = pinned.filter((p) => p.repo !== repo);
      for (const p of [mine[mine.length - 1], mine[Math.floor(Math.random() * mine.length)], others[Math.floor(Math.random() * others.length)]]) {
        if (!p) continue;
        result.pulls++;
        const why = 'chain' in p ? await pullV1(url(), p) : await pullV2(url(), p);
        if (why) result.failures.push(`pull: ${why}`);
      }
      // delete one of my older images (never the pinned one) to make garbage
      const victim = mine.length > 3 && Math.random() < 0.7 ? mine.splice(1 + Math.floor(Math.random() * (mine.length - 3)), 1)[0]! : null;
      if (victim) {
        result.deletes++;
        const untagOnly = !('chain' in victim) && victim.tag !== null && Math.random() < 0.3;
        const path = 'chain' in victim ? `/v1/repositories/${victim.repo}/tags/${victim.tag}` : `/v2/${victim.repo}/manifests/${untagOnly ? victim.tag : sha256(victim.manifest)}`;
        const r = await call(url(), 'DELETE', path);
        if (r.status !== 200 && r.status !== 202) result.failures.push(`DELETE ${path} → ${r.status}`);
        // a manifest left untagged is still stored, and so are its blobs: pulled by digest from now on
        if (untagOnly && !('chain' in victim)) mine.splice(1, 0, { ...victim, tag: null });
      }
    }
    for (const p of mine) ('chain' in p ? result.v1 : result.v2).push(p as never);
  };
  await Promise.all(Array.from({ length: opts.clients }, (_, k) => client(k)));
  return result;
}

/** Pulls every surviving image and compares it with what was pushed; the failures. */
export async function verifyAll(url: string, r: LoadResult): Promise<string[]> {
  const out: string[] = [];
  for (const p of r.v1) {
    const why = await pullV1(url, p);
    if (why) out.push(why);
  }
  for (const p of r.v2) {
    const why = await pullV2(url, p);
    if (why) out.push(why);
  }
  return out;
}

/** What storage must hold once garbage is collected: V1 image ids (one layer each) and V2 blob digests. */
export function expectedContent(r: LoadResult): { v1Images: string[]; blobs: string[] } {
  const v1 = new Set(r.v1.flatMap((p) => p.chain.map((i) => i.id)));
  const blobs = new Set(r.v2.flatMap((p) => [...p.blobs.keys()]));
  return { v1Images: [...v1].sort(), blobs: [...blobs].sort() };
}

/** Storage keys as the content they hold: `images/<id>/layer-…` → id, `blobs/<alg>/<hex>-…` → digest. */
export function contentOfKeys(keys: string[]): { v1Images: string[]; blobs: string[]; other: string[] } {
  const v1Images: string[] = [];
  const blobs: string[] = [];
  const other: string[] = [];
  for (const key of keys) {
    const layer = /^images\/([a-f0-9]+)\/layer-[a-f0-9]{16}$/.exec(key);
    const blob = /^blobs\/(sha256|sha512)\/([a-f0-9]+)(-[a-f0-9]{16})?$/.exec(key);
    if (layer) v1Images.push(layer[1]!);
    else if (blob) blobs.push(`${blob[1]}:${blob[2]}`);
    else other.push(key);
  }
  return { v1Images: v1Images.sort(), blobs: blobs.sort(), other };
}
