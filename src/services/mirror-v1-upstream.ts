/**
 * The V1 protocol as the pull-through mirror speaks it to its upstream: which paths it asks for,
 * how it authenticates, and what it accepts back. Every reply is validated here, so the mirror
 * stores only what would have passed a push: a reply that is not what the protocol says is
 * UPSTREAM_BAD_RESPONSE (502); a 404 is a miss (null); the transport's failures come from
 * upstream/client.ts (502, 503, 504).
 *
 * Authentication, as V1 clients do it: Basic credentials (mirroring.username) when there are
 * some; a repository's token (`X-Docker-Token`, from the index's `GET …/images` with
 * `X-Docker-Token: true`) is kept until it expires and sent as `Authorization: Token …` on the
 * registry calls about that repository; on a `401` with a `Token` challenge a fresh token is
 * fetched and the call sent once more; a token refused even so falls back to the Basic
 * credentials once.
 */
import type { RepoRef } from '../db/meta.ts';
import { isValidImageId } from '../domain/image-id.ts';
import { RegistryError } from '../errors.ts';
import { v1Authorization, type Upstream, type UpstreamRequest } from '../upstream/client.ts';
import { parseIndexImages, type IndexImageEntry } from './index-images.ts';
import { isTagName } from './names.ts';

/** An image's json and ancestry as the upstream has them, validated. */
export interface UpstreamImage {
  id: string;
  parent: string | null;
  /** the json bytes exactly as the upstream sent them */
  json: Uint8Array;
  /** self first, root last */
  ancestry: string[];
  /** `X-Docker-Size`, when the upstream sent one */
  size: number | null;
  /** the payload checksums (`sha256:<hex>`) the upstream sent with the json, if any */
  checksums: string[];
  /** a legacy `X-Docker-Checksum` (`tarsum+sha256:…` or `sha256:…`), when there are no payload checksums */
  legacyChecksum: string | null;
  fetchedAt: number;
}

const PAYLOAD_CHECKSUM = /^sha256:[a-f0-9]{64}$/;
/** the legacy checksums the mirror can check: tarsum v0 and a plain payload sha256 */
const LEGACY_CHECKSUM = /^(tarsum\+)?sha256:[a-f0-9]{64}$/;
/** Tokens without an expiry are kept this long (a refused one is replaced at once anyway). */
const TOKEN_DEFAULT_MS = 60_000;

const bad = (host: string, what: string) => new RegistryError('UPSTREAM_BAD_RESPONSE', `${host} sent ${what}`);
const fullName = (ref: RepoRef) => `${ref.namespace}/${ref.name}`;
const repoPath = (ref: RepoRef) => `/v1/repositories/${encodeURIComponent(ref.namespace)}/${encodeURIComponent(ref.name)}`;

async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => {});
}

export class V1Upstream {
  readonly #tokens = new Map<string, { value: string; expiresAt: number }>();

  constructor(
    /** mirroring.source: images, tags, repository json */
    readonly registry: Upstream,
    /** mirroring.source_index: repository image lists and tokens */
    readonly index: Upstream,
    private readonly options: { maxJsonSize: number },
  ) {}

  /** GET on the registry, about `repo` when known (its token, if any, goes along). */
  async #get(path: string, repo: RepoRef | null, headers?: Record<string, string>): Promise<Response> {
    const token = repo ? this.#cached(repo) : null;
    const init: UpstreamRequest = { headers, v1Token: repo ? () => this.#fresh(repo) : undefined };
    if (!token) return this.registry.request(path, init);
    try {
      return await this.registry.request(path, { ...init, authorization: token });
    } catch (e) {
      // a token the registry will not take for this path (e.g. the image is listed elsewhere): Basic once
      if (e instanceof RegistryError && e.code === 'UPSTREAM_DENIED') return this.registry.request(path, { headers });
      throw e;
    }
  }

  #cached(repo: RepoRef): string | null {
    const t = this.#tokens.get(fullName(repo));
    return t && t.expiresAt > Date.now() ? t.value : null;
  }

  #remember(repo: RepoRef, header: string | null): void {
    if (!header) return;
    const expires = /(?:^|[\s,])expires=(\d{1,12})(?:,|$)/.exec(header);
    const expiresAt = expires ? Number(expires[1]) * 1000 - 10_000 : Date.now() + TOKEN_DEFAULT_MS;
    if (this.#tokens.size >= 1024) this.#tokens.clear();
    this.#tokens.set(fullName(repo), { value: v1Authorization(header), expiresAt });
  }

  /** A new token for `repo` from the index (null: it hands out none). */
  async #fresh(repo: RepoRef): Promise<string | null> {
    this.#tokens.delete(fullName(repo));
    const reply = await this.index.request(`${repoPath(repo)}/images`, { headers: { 'x-docker-token': 'true' } });
    await discard(reply);
    if (reply.status !== 200) return null;
    this.#remember(repo, reply.headers.get('x-docker-token'));
    return this.#cached(repo);
  }

  /** A reply that must be 200 (null for a 404): anything else is a bad response. */
  #expectOk(reply: Response, what: string): Response | null {
    if (reply.status === 404) {
      void discard(reply);
      return null;
    }
    if (reply.status !== 200) {
      void discard(reply);
      throw bad(this.registry.host, `${reply.status} for ${what}`);
    }
    return reply;
  }

  async #json(upstream: Upstream, reply: Response, what: string): Promise<{ value: unknown; bytes: Uint8Array }> {
    const declared = Number(reply.headers.get('content-length') ?? NaN);
    if (declared > this.options.maxJsonSize) {
      await discard(reply);
      throw bad(upstream.host, `a ${what} larger than max_json_size`);
    }
    const got = await upstream.json(reply);
    if (got.bytes.byteLength > this.options.maxJsonSize) throw bad(upstream.host, `a ${what} larger than max_json_size`);
    return got;
  }

  /** E6 + E7: the json and ancestry of an image; null when the upstream has no such image. */
  async image(id: string, repo: RepoRef | null): Promise<UpstreamImage | null> {
    const host = this.registry.host;
    const [jsonReply, ancestryReply] = await Promise.allSettled([this.#get(`/v1/images/${id}/json`, repo), this.#get(`/v1/images/${id}/ancestry`, repo)]);
    if (jsonReply.status === 'rejected' || ancestryReply.status === 'rejected') {
      for (const r of [jsonReply, ancestryReply]) if (r.status === 'fulfilled') await discard(r.value);
      throw (jsonReply.status === 'rejected' ? jsonReply.reason : (ancestryReply as PromiseRejectedResult).reason) as Error;
    }
    const jsonOk = this.#expectOk(jsonReply.value, 'an image json');
    if (!jsonOk) {
      await discard(ancestryReply.value);
      return null;
    }
    const ancestryOk = this.#expectOk(ancestryReply.value, 'an image ancestry');
    if (!ancestryOk) {
      await discard(jsonOk);
      throw bad(host, 'an image json without its ancestry');
    }
    const [{ value: json, bytes }, { value: ancestry }] = await Promise.all([this.#json(this.registry, jsonOk, 'image json'), this.#json(this.registry, ancestryOk, 'ancestry')]);
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad(host, 'an image json that is not an object');
    const obj = json as Record<string, unknown>;
    if (obj.id !== id) throw bad(host, 'an image json for another id');
    const parent = obj.parent === undefined || obj.parent === null || obj.parent === '' ? null : obj.parent;
    if (parent !== null && (typeof parent !== 'string' || !isValidImageId(parent))) throw bad(host, 'an image json with an invalid parent');
    if (!Array.isArray(ancestry) || ancestry[0] !== id || ancestry.length > 4096) throw bad(host, 'an ancestry that does not start with the image');
    if (!ancestry.every((a) => typeof a === 'string' && isValidImageId(a)) || new Set(ancestry).size !== ancestry.length) {
      throw bad(host, 'an ancestry with invalid or repeated ids');
    }
    if ((parent === null && ancestry.length !== 1) || (parent !== null && ancestry[1] !== parent)) throw bad(host, 'an ancestry that does not match the parent');
    const headers = jsonOk.headers;
    const sizeText = headers.get('x-docker-size');
    if (sizeText !== null && !/^\d{1,15}$/.test(sizeText)) throw bad(host, 'an invalid X-Docker-Size');
    const checksumText = headers.get('x-docker-checksum-payload');
    const checksums = checksumText === null ? [] : checksumText.split(',').map((c) => c.trim());
    if (!checksums.every((c) => PAYLOAD_CHECKSUM.test(c))) throw bad(host, 'an invalid X-Docker-Checksum-Payload');
    // other forms (later tarsum versions) cannot be checked here: the layer then goes unverified
    const legacyText = checksums.length === 0 ? (headers.get('x-docker-checksum')?.trim() ?? null) : null;
    const legacy = legacyText !== null && LEGACY_CHECKSUM.test(legacyText) ? legacyText : null;
    return {
      id,
      parent,
      json: bytes,
      ancestry: ancestry as string[],
      size: sizeText === null ? null : Number(sizeText),
      checksums,
      legacyChecksum: legacy,
      fetchedAt: Date.now(),
    };
  }

  /** E3: the layer's body and its declared size; null when the upstream has no such layer. */
  async layer(id: string, repo: RepoRef | null): Promise<{ body: ReadableStream<Uint8Array>; size: number | null } | null> {
    // identity: the bytes as stored upstream, so Content-Length counts what the body holds
    const reply = this.#expectOk(await this.#get(`/v1/images/${id}/layer`, repo, { 'accept-encoding': 'identity' }), 'a layer');
    if (!reply) return null;
    const length = reply.headers.get('content-length');
    const size = length !== null && /^\d{1,15}$/.test(length) && !reply.headers.has('content-encoding') ? Number(length) : null;
    return { body: reply.body ?? new ReadableStream({ start: (c) => c.close() }), size };
  }

  /** E13: tag → image id (tag names this registry cannot hold are left out); null when the repository is unknown upstream. */
  async tags(ref: RepoRef): Promise<Map<string, string> | null> {
    const reply = this.#expectOk(await this.#get(`${repoPath(ref)}/tags`, ref), 'a tag list');
    if (!reply) return null;
    const { value } = await this.#json(this.registry, reply, 'tag list');
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(this.registry.host, 'a tag list that is not an object');
    const tags = new Map<string, string>();
    for (const [name, id] of Object.entries(value)) {
      if (typeof id !== 'string' || !isValidImageId(id)) throw bad(this.registry.host, 'a tag list naming an invalid image id');
      if (isTagName(name)) tags.set(name, id);
    }
    return tags;
  }

  /** E17: the repository json (an object) as text; null when the upstream has none. */
  async repositoryJson(ref: RepoRef): Promise<string | null> {
    const reply = this.#expectOk(await this.#get(`${repoPath(ref)}/json`, ref), 'a repository json');
    if (!reply) return null;
    const { value } = await this.#json(this.registry, reply, 'repository json');
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(this.registry.host, 'a repository json that is not an object');
    return JSON.stringify(value);
  }

  /** E24 on the index: the repository's image list (its token is kept); null when unknown upstream. */
  async indexImages(ref: RepoRef): Promise<IndexImageEntry[] | null> {
    const reply = await this.index.request(`${repoPath(ref)}/images`, { headers: { 'x-docker-token': 'true' } });
    if (reply.status === 404) {
      await discard(reply);
      return null;
    }
    if (reply.status !== 200) {
      await discard(reply);
      throw bad(this.index.host, `${reply.status} for an image list`);
    }
    this.#remember(ref, reply.headers.get('x-docker-token'));
    const { value } = await this.#json(this.index, reply, 'image list');
    try {
      return parseIndexImages(value);
    } catch {
      throw bad(this.index.host, 'an image list that is not a list of {id, checksum}');
    }
  }
}
