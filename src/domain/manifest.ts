/**
 * What a V2 manifest is (OCI image-spec manifest and index, Docker schema 2 manifest and manifest
 * list): which media types the registry stores, and what a manifest references. Parsing checks
 * only what the registry relies on — the JSON, the media type, descriptors well formed — and
 * never re-serializes: the bytes as PUT are what is stored and served. Pure.
 */
import { RegistryError } from '../errors.ts';
import { isDigest } from './digest.ts';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const DOCKER_SCHEMA1 = ['application/vnd.docker.distribution.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v1+prettyjws'];

/** The manifest media types the registry stores, and whether each is a list of manifests. */
const MANIFEST_TYPES: Readonly<Record<string, 'image' | 'index'>> = {
  [OCI_MANIFEST]: 'image',
  [DOCKER_MANIFEST]: 'image',
  [OCI_INDEX]: 'index',
  [DOCKER_MANIFEST_LIST]: 'index',
};

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  urls?: string[];
  platform?: Record<string, unknown>;
}

export interface ParsedManifest {
  mediaType: string;
  kind: 'image' | 'index';
  /** image: config then layers; index: its manifests */
  config: Descriptor | null;
  layers: Descriptor[];
  manifests: Descriptor[];
  subject: Descriptor | null;
  /** `artifactType`, else (image manifests) the config's media type — as the referrers API lists it */
  artifactType: string | null;
  annotations: Record<string, string> | null;
}

const invalid = (detail: string) => new RegistryError('V2_MANIFEST_INVALID', detail);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `type/subtype` with RFC 6838 characters (parameters not allowed). */
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

function annotationsOf(v: unknown, where: string): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v) || Object.values(v).some((x) => typeof x !== 'string')) throw invalid(`${where}: annotations must map strings to strings`);
  return v as Record<string, string>;
}

function descriptor(v: unknown, where: string): Descriptor {
  if (!isObject(v)) throw invalid(`${where} is not a descriptor`);
  const { mediaType, digest, size, artifactType, urls } = v;
  if (typeof mediaType !== 'string' || !MEDIA_TYPE.test(mediaType)) throw invalid(`${where}: mediaType missing or malformed`);
  if (typeof digest !== 'string' || !isDigest(digest)) throw invalid(`${where}: digest missing or not sha256/sha512`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw invalid(`${where}: size must be a non-negative integer`);
  if (artifactType !== undefined && (typeof artifactType !== 'string' || !MEDIA_TYPE.test(artifactType))) throw invalid(`${where}: artifactType malformed`);
  if (urls !== undefined && (!Array.isArray(urls) || urls.some((u) => typeof u !== 'string'))) throw invalid(`${where}: urls must be strings`);
  const out: Descriptor = { mediaType, digest, size };
  if (artifactType !== undefined) out.artifactType = artifactType as string;
  const annotations = annotationsOf(v.annotations, where);
  if (annotations) out.annotations = annotations;
  if (urls !== undefined) out.urls = urls as string[];
  if (isObject(v.platform)) out.platform = v.platform;
  return out;
}

function descriptors(v: unknown, where: string): Descriptor[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalid(`${where} must be an array`);
  return v.map((d, i) => descriptor(d, `${where}[${i}]`));
}

/** The media type a PUT declares: the Content-Type without parameters, unless generic. */
function declaredType(contentType: string | null): string | null {
  const type = contentType?.split(';')[0]?.trim().toLowerCase() ?? '';
  return type === '' || type === 'application/json' || type === 'application/octet-stream' ? null : type;
}

/**
 * Parses a manifest as PUT with `contentType`. The media type is the body's `mediaType`, else the
 * Content-Type; when both are given they must agree; with neither, the shape decides (an index
 * has `manifests`). Throws MANIFEST_INVALID (400), naming what is wrong.
 */
export function parseManifest(content: Uint8Array, contentType: string | null): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(content));
  } catch {
    throw invalid('not UTF-8 JSON');
  }
  if (!isObject(doc)) throw invalid('not a JSON object');
  if (doc.schemaVersion !== 2) throw invalid('schemaVersion must be 2 (Docker schema 1 manifests are not accepted)');
  const declared = declaredType(contentType);
  const own = doc.mediaType;
  if (own !== undefined && typeof own !== 'string') throw invalid('mediaType must be a string');
  if (own !== undefined && declared !== null && own !== declared) throw invalid(`mediaType ${own} does not match Content-Type ${declared}`);
  const mediaType = (own as string | undefined) ?? declared ?? ('manifests' in doc ? OCI_INDEX : OCI_MANIFEST);
  if (DOCKER_SCHEMA1.includes(mediaType)) throw invalid('Docker schema 1 manifests are not accepted');
  const kind = MANIFEST_TYPES[mediaType];
  if (!kind) throw invalid(`unsupported manifest media type ${mediaType}`);
  const subject = doc.subject === undefined ? null : descriptor(doc.subject, 'subject');
  const annotations = annotationsOf(doc.annotations, 'manifest') ?? null;
  const artifactType = doc.artifactType;
  if (artifactType !== undefined && (typeof artifactType !== 'string' || !MEDIA_TYPE.test(artifactType))) throw invalid('artifactType malformed');
  if (kind === 'index') {
    if (!Array.isArray(doc.manifests)) throw invalid('an index needs a manifests array');
    return {
      mediaType,
      kind,
      config: null,
      layers: [],
      manifests: descriptors(doc.manifests, 'manifests'),
      subject,
      artifactType: (artifactType as string | undefined) ?? null,
      annotations,
    };
  }
  const config = descriptor(doc.config, 'config');
  if (!Array.isArray(doc.layers) && mediaType === DOCKER_MANIFEST) throw invalid('a Docker manifest needs a layers array');
  return {
    mediaType,
    kind,
    config,
    layers: descriptors(doc.layers, 'layers'),
    manifests: [],
    subject,
    artifactType: (artifactType as string | undefined) ?? config.mediaType,
    annotations,
  };
}

/**
 * The blobs and manifests a manifest needs in its repository: config and layers (foreign layers,
 * which carry `urls`, live elsewhere and are not required), or an index's manifests. The subject
 * is not required (the referrers API accepts a manifest before its subject).
 */
export function requiredContent(m: ParsedManifest): { blobs: string[]; manifests: string[] } {
  const blobs = [...(m.config ? [m.config] : []), ...m.layers.filter((l) => !l.urls?.length)].map((d) => d.digest);
  return { blobs: [...new Set(blobs)], manifests: [...new Set(m.manifests.map((d) => d.digest))] };
}

/** A manifest as the referrers API lists it: its artifact type and annotations (see ParsedManifest). */
export function referrerDescriptor(m: ParsedManifest, digest: string, size: number): Descriptor {
  const d: Descriptor = { mediaType: m.mediaType, digest, size };
  if (m.artifactType) d.artifactType = m.artifactType;
  if (m.annotations) d.annotations = m.annotations;
  return d;
}
