/**
 * The V1 ⇄ V2 bridge's rules: how an image pushed through one protocol is described in the other,
 * deterministically (the same input gives the same bytes, so derived digests and ids are stable).
 * Pure: the I/O (reading layers and configs, writing rows) is services/bridge.ts.
 *
 * V1 → V2: the image's ancestry (root first) becomes one layer each (an empty V1 layer becomes
 * an `empty_layer` history entry, as Docker's own V1→V2 conversion did); the config is the top
 * image's V1 json without its V1-only keys, plus `rootfs.diff_ids` and `history`. All layers
 * gzip: a Docker schema 2 manifest; any uncompressed tar: an OCI manifest.
 * V2 → V1: one V1 image per layer of a single-platform image whose layers are tar or tar+gzip;
 * the ids chain the layers (a shared base gives shared V1 images), the top one also names the
 * config, whose fields its json carries.
 */
import { DOCKER_MANIFEST, OCI_MANIFEST, type Descriptor } from './manifest.ts';

/** A V1 layer as V2 sees it; null for an empty layer. */
export interface BridgedLayer {
  /** sha256 of the bytes as stored (the blob) */
  digest: string;
  /** sha256 of the uncompressed tar (the config's diff_id) */
  diffId: string;
  size: number;
  compression: 'gzip' | 'none';
}

export interface V1Image {
  /** the image json as stored, parsed */
  json: Record<string, unknown>;
  layer: BridgedLayer | null;
}

const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const DOCKER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
const OCI_TAR = 'application/vnd.oci.image.layer.v1.tar';
const OCI_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

/** The layer media types a V1 client can unpack (a tar, plain or gzip). */
const V1_READABLE = new Set([DOCKER_GZIP, OCI_TAR, OCI_GZIP, 'application/vnd.docker.image.rootfs.diff.tar']);

/** V1 json keys that are not config (Docker's image/v1 conversion drops the same ones). */
const V1_ONLY = ['id', 'parent', 'Size', 'parent_id', 'layer_id', 'throwaway', 'checksum'];

function createdBy(json: Record<string, unknown>): string {
  const cc = json.container_config;
  const cmd = typeof cc === 'object' && cc !== null ? (cc as { Cmd?: unknown }).Cmd : undefined;
  return Array.isArray(cmd) ? cmd.filter((c) => typeof c === 'string').join(' ') : '';
}

/** V1 → V2: the config (as bytes) of an ancestry given root first. */
export function configFromV1(ancestry: V1Image[]): string {
  const top = ancestry[ancestry.length - 1]!.json;
  const config: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(top)) if (!V1_ONLY.includes(k)) config[k] = v;
  config.rootfs = { type: 'layers', diff_ids: ancestry.flatMap((i) => (i.layer ? [i.layer.diffId] : [])) };
  config.history = ancestry.map((i) => {
    const h: Record<string, unknown> = {};
    if (typeof i.json.created === 'string') h.created = i.json.created;
    const by = createdBy(i.json);
    if (by) h.created_by = by;
    if (typeof i.json.author === 'string' && i.json.author) h.author = i.json.author;
    if (typeof i.json.comment === 'string' && i.json.comment) h.comment = i.json.comment;
    if (!i.layer) h.empty_layer = true;
    return h;
  });
  return JSON.stringify(config);
}

/** V1 → V2: the manifest (as bytes) over a config of `configSize` bytes and digest. */
export function manifestFromV1(ancestry: V1Image[], config: { digest: string; size: number }): { mediaType: string; content: string } {
  const layers = ancestry.flatMap((i) => (i.layer ? [i.layer] : []));
  const docker = layers.every((l) => l.compression === 'gzip');
  const mediaType = docker ? DOCKER_MANIFEST : OCI_MANIFEST;
  const manifest = {
    schemaVersion: 2,
    mediaType,
    config: { mediaType: docker ? DOCKER_CONFIG : OCI_CONFIG, size: config.size, digest: config.digest },
    layers: layers.map((l) => ({
      mediaType: docker ? DOCKER_GZIP : l.compression === 'gzip' ? OCI_GZIP : OCI_TAR,
      size: l.size,
      digest: l.digest,
    })),
  };
  return { mediaType, content: JSON.stringify(manifest) };
}

/** A V1 image derived from a V2 one: its id, parent, json bytes and the layer blob it uses. */
export interface DerivedV1Image {
  id: string;
  parent: string | null;
  json: string;
  layer: Descriptor;
}

const sha256Hex = (text: string): string => new Bun.CryptoHasher('sha256').update(text).digest('hex');

/**
 * V2 → V1: the V1 images (root first) of a single-platform image, or the reason it cannot be
 * bridged. `config` is the parsed image config.
 */
export function v1ImagesFromV2(layers: Descriptor[], config: Record<string, unknown>, configDigest: string): DerivedV1Image[] | string {
  if (layers.length === 0) return 'an image without layers has no V1 form';
  const unreadable = layers.find((l) => !V1_READABLE.has(l.mediaType) || l.urls?.length);
  if (unreadable) return `layer media type ${unreadable.mediaType} cannot be read by V1 clients`;
  const history = Array.isArray(config.history) ? (config.history as Record<string, unknown>[]).filter((h) => typeof h === 'object' && h !== null && !h.empty_layer) : [];
  const aligned = history.length === layers.length;
  const out: DerivedV1Image[] = [];
  let parent: string | null = null;
  layers.forEach((layer, i) => {
    const h = aligned ? history[i]! : {};
    const created = typeof h.created === 'string' ? h.created : typeof config.created === 'string' ? config.created : '1970-01-01T00:00:00Z';
    const by = typeof h.created_by === 'string' ? h.created_by : '';
    const top = i === layers.length - 1;
    const id: string = sha256Hex(JSON.stringify([parent, layer.digest, created, by, top ? configDigest : null]));
    const json: Record<string, unknown> = top ? { ...topFields(config) } : {};
    json.id = id;
    if (parent) json.parent = parent;
    if (!top) {
      json.created = created;
      json.container_config = { Cmd: by ? ['/bin/sh', '-c', by] : [] };
    } else {
      json.created ??= created;
      json.container_config ??= { Cmd: by ? ['/bin/sh', '-c', by] : [] };
    }
    out.push({ id, parent, json: JSON.stringify(json), layer });
    parent = id;
  });
  return out;
}

/** The config's fields a top V1 image json carries (everything but the V2-only ones). */
function topFields(config: Record<string, unknown>): Record<string, unknown> {
  const { rootfs: _rootfs, history: _history, ...rest } = config;
  return rest;
}
