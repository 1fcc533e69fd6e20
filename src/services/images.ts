/**
 * (Over 300 lines on purpose: the upload state machine, the reads of a complete image, and the two
 * things every step shares — the mirror on a miss and the touches the collector relies on.)
 *
 * Image rules: the upload state machine of v1-api.md §3–§4 (PUT json → PUT layer → PUT checksum),
 * and the reads of a complete image. The database row's `state` replaces the `_inprogress`
 * marker; a layer is written to a temp object and only committed when the body is complete.
 * The checks a V1 push relies on (GET json of an image it may skip, the parent of a PUT json)
 * touch the image, so garbage collection spares it while the push goes on (services/gc.ts).
 */
import { PayloadHasher } from '../checksum/payload.ts';
import { tarsum } from '../checksum/tarsum.ts';
import type { ImageRecord, ImageStore } from '../db/meta.ts';
import { isValidImageId } from '../domain/image-id.ts';
import { RegistryError } from '../errors.ts';
import { computeDiff } from '../layers/diff.ts';
import { listLayerFiles, type FileEntry } from '../layers/files.ts';
import { PathNotFoundError, StorageError, type StorageDriver } from '../storage/driver.ts';
import { isLayerKeyOf, layerKey, newUploadId } from '../storage/paths.ts';
import { pipeBody, type RequestBody } from './body.ts';
import { RecentUse } from './recent-use.ts';
import { decodeJson } from './json.ts';
import { requireImageId } from './names.ts';
import { dockerTooOld } from './tag-metadata.ts';

export type LayerBody = RequestBody;

export type LayerSource =
  | { kind: 'blob'; blob: Blob; size: number; lastModified: Date }
  | { kind: 'redirect'; url: string }
  /** the pull-through mirror's copy of an upstream layer, as it arrives (size: when announced) */
  | { kind: 'stream'; stream: ReadableStream<Uint8Array>; size: number | null; lastModified: Date };

/** What the json and ancestry GETs (E6, E7) serve: a complete image here, or the mirror's view of an upstream one. */
export type ServedImage = Pick<ImageRecord, 'id' | 'json' | 'ancestry' | 'layerSize' | 'checksums' | 'updatedAt'>;

/** The caller of a pull: its Authorization header (the mirror passes its token's repository on). */
export interface Puller {
  authorization: string | null;
  /** a layer may be streamed while the mirror stores it (a plain GET; not HEAD nor a Range) */
  stream?: boolean;
}

/**
 * The pull-through mirror (services/mirror-v1.ts), asked only about images with no row here.
 * Both fail with IMAGE_NOT_FOUND when the upstream has none either, with a gateway error when
 * the upstream fails.
 */
export interface ImageMirror {
  image(id: string, authorization: string | null): Promise<{ json: Uint8Array; ancestry: string[]; size: number | null; checksums: string[]; fetchedAt: number }>;
  /** the bytes while they are stored (`stream`), or `stored` once they are here */
  layer(id: string, authorization: string | null, stream: boolean): Promise<Extract<LayerSource, { kind: 'stream' }> | { kind: 'stored' }>;
}

/** Maps storage failures at the service edge: a vanished object is a 404, the rest a 503. */
function storageFailure(e: unknown): never {
  if (e instanceof PathNotFoundError) throw new RegistryError('IMAGE_NOT_FOUND');
  if (e instanceof StorageError) throw new RegistryError('STORAGE_FAILURE');
  throw e;
}

/** A complete image always has a layer: it cannot pass PUT checksum without one. */
function readyLayerKey(image: ImageRecord): string {
  if (image.layerKey === null) throw new RegistryError('IMAGE_NOT_FOUND');
  return image.layerKey;
}

/** Bytes of image json the per-process cache of complete images may hold. */
const COMPLETE_CACHE_BYTES = 16 * 1024 * 1024;

/**
 * Complete images, remembered by id. Safe in every process and on every node without any
 * invalidation: once an image is complete nothing about it changes (PUT json, layer and checksum
 * refuse a complete image), so a copy can only be missing, or name an image garbage collection
 * has deleted since — one no tag reaches; a push asking for it (GET json) finds out at its next
 * touch (`found`), which drops the copy. Bounded by json bytes; the least recently used go first.
 */
class CompleteImages {
  readonly #byId = new Map<string, ImageRecord>();
  #bytes = 0;

  get(id: string): ImageRecord | undefined {
    const image = this.#byId.get(id);
    if (image) {
      this.#byId.delete(id);
      this.#byId.set(id, image);
    }
    return image;
  }

  forget(id: string): void {
    const image = this.#byId.get(id);
    if (!image) return;
    this.#byId.delete(id);
    this.#bytes -= image.json.byteLength;
  }

  add(image: ImageRecord): void {
    if (image.json.byteLength > COMPLETE_CACHE_BYTES / 4 || this.#byId.has(image.id)) return;
    Object.freeze(image.ancestry);
    Object.freeze(image.checksums);
    this.#byId.set(image.id, Object.freeze(image));
    this.#bytes += image.json.byteLength;
    for (const [id, old] of this.#byId) {
      if (this.#bytes <= COMPLETE_CACHE_BYTES) break;
      this.#byId.delete(id);
      this.#bytes -= old.json.byteLength;
    }
  }
}

export class ImageService {
  /** complete images seen lately (see CompleteImages) */
  readonly #complete = new CompleteImages();
  readonly #recent: RecentUse;

  constructor(
    private readonly meta: ImageStore,
    private readonly storage: StorageDriver,
    private readonly options: { redirect: boolean; maxLayerSize: number; gcGrace?: number } = {
      redirect: false,
      maxLayerSize: Number.MAX_SAFE_INTEGER,
    },
    /** mirroring.source: the pull-through mirror (null: none) */
    private readonly mirror: ImageMirror | null = null,
  ) {
    this.#recent = RecentUse.forGrace(options.gcGrace ?? 3600);
  }


  /** Touches an image unless this process did lately; false when it is gone (collected meanwhile). */
  async #touch(id: string): Promise<boolean> {
    if (await this.#recent.touch(id, (staleBefore) => this.meta.touchImage(id, staleBefore))) return true;
    this.#complete.forget(id);
    return false;
  }

  /** A complete image, or the V1 error: 404 invalid id / not found, 400 still uploading. */
  async ready(id: string): Promise<ImageRecord> {
    requireImageId(id);
    const image = await this.#find(id);
    if (!image) throw new RegistryError('IMAGE_NOT_FOUND');
    return image;
  }

  /** A complete image; null when there is no such image here at all; 400 while it is uploading. */
  async #find(id: string): Promise<ImageRecord | null> {
    const known = this.#complete.get(id);
    if (known) return known;
    const image = await this.meta.getImage(id);
    if (!image) return null;
    if (image.state !== 'ready') throw new RegistryError('IMAGE_UPLOADING');
    this.#complete.add(image);
    return image;
  }

  /** E6, E7: a complete image here (touched), else (mirroring) the upstream's json and ancestry. */
  async served(id: string, puller: Puller): Promise<ServedImage> {
    requireImageId(id);
    const image = await this.#find(id);
    // touched: a V1 push asks for the json before deciding not to upload the image
    if (image && (await this.#touch(id))) return image;
    if (!this.mirror) throw new RegistryError('IMAGE_NOT_FOUND');
    const upstream = await this.mirror.image(id, puller.authorization);
    return { id, json: upstream.json, ancestry: upstream.ancestry, layerSize: upstream.size, checksums: upstream.checksums, updatedAt: upstream.fetchedAt };
  }

  /** E8: stores the json exactly as sent and (re)starts the upload. */
  async putJson(id: string, body: Uint8Array): Promise<void> {
    requireImageId(id);
    const decoded = decodeJson(body);
    if (!decoded.ok) throw new RegistryError('INVALID_JSON');
    const data = decoded.value;
    if (typeof data !== 'object' || data === null || Array.isArray(data) || Object.keys(data).length === 0) {
      throw new RegistryError('INVALID_JSON');
    }
    const obj = data as Record<string, unknown>;
    if (!('id' in obj)) throw new RegistryError('JSON_MISSING_ID');
    if (obj.id !== id) throw new RegistryError('JSON_INVALID_ID');
    let parent: string | null = null;
    let ancestry = [id];
    if (obj.parent !== undefined && obj.parent !== null && obj.parent !== '' && obj.parent !== false) {
      if (typeof obj.parent !== 'string') throw new RegistryError('JSON_INVALID_PARENT');
      if (!isValidImageId(obj.parent)) throw new RegistryError('PARENT_NOT_FOUND');
      const p = await this.meta.getImage(obj.parent);
      // touched: the parent stays while the rest of this push goes on
      if (!p || !(await this.#touch(obj.parent))) throw new RegistryError('PARENT_NOT_FOUND');
      // an image cannot descend from itself (a retried PUT could otherwise build a cycle)
      if (p.ancestry.includes(id)) throw new RegistryError('JSON_INVALID_PARENT');
      parent = obj.parent;
      ancestry = [id, ...p.ancestry];
    }
    const ok = await this.meta.putImageIfUploading({ id, parent, json: body, ancestry });
    if (!ok) throw new RegistryError('IMAGE_EXISTS');
  }

  /** E4: streams the body into storage while computing the payload checksum. */
  async putLayer(id: string, body: LayerBody, userAgent: string | null): Promise<void> {
    requireImageId(id);
    if (dockerTooOld(userAgent)) throw new RegistryError('DOCKER_TOO_OLD');
    const image = await this.meta.getImage(id);
    if (!image) throw new RegistryError('IMAGE_NOT_FOUND');
    if (image.state !== 'uploading') throw new RegistryError('IMAGE_EXISTS');

    const hasher = new PayloadHasher(image.json);
    const key = layerKey(id, newUploadId());
    const writer = await this.storage.writer(key).catch(storageFailure);
    let size: number;
    try {
      size = await pipeBody(body, writer, (chunk) => hasher.update(chunk), {
        limit: this.options.maxLayerSize,
        sizeMismatch: new RegistryError('LAYER_SIZE_MISMATCH'),
      });
      await writer.commit();
    } catch (e) {
      await writer.cancel().catch(() => {});
      if (e instanceof StorageError) storageFailure(e);
      throw e;
    }
    const { recorded, replacedKey } = await this.meta.setLayerIfUploading(id, {
      key,
      size,
      checksums: [hasher.digest()],
      // recorded only if no PUT json replaced the json these checksums cover meanwhile
      json: image.json,
    });
    // whichever upload lost (ours, or the one we replaced) is garbage now; nobody reads it — unless
    // the replaced one was a V2 blob's bytes (a bridged image reset by a V1 push): the blob keeps them
    const garbage = recorded ? replacedKey : key;
    if (garbage && isLayerKeyOf(id, garbage)) await this.storage.delete(garbage).catch(() => {});
    if (!recorded) {
      // complete meanwhile (another client won), or still uploading under a json a concurrent PUT json put there
      const now = await this.meta.getImage(id);
      throw new RegistryError(now?.state === 'uploading' ? 'IMAGE_JSON_CHANGED' : 'IMAGE_EXISTS');
    }
  }

  /**
   * E5: compares the client's payload checksum (or, for clients that send none, its legacy
   * `X-Docker-Checksum` tarsum) with the stored layer and completes the image.
   */
  async putChecksum(id: string, payload: string | null, legacy: string | null): Promise<void> {
    requireImageId(id);
    const useTarsum = payload === null && legacy !== null && legacy.startsWith('tarsum+');
    if (payload === null && !useTarsum) throw new RegistryError('CHECKSUM_PAYLOAD_NOT_SET');
    const expected = useTarsum ? legacy! : payload!;
    if (expected.trim() === '') throw new RegistryError('CHECKSUM_MISSING');
    const image = await this.meta.getImage(id);
    if (!image) throw new RegistryError('IMAGE_NOT_FOUND');
    if (image.state !== 'uploading') throw new RegistryError('CHECKSUM_CANNOT_SET');
    if (image.layerSize === null || image.layerKey === null) throw new RegistryError('LAYER_NOT_UPLOADED');
    let matches: boolean;
    if (useTarsum) {
      const stream = await this.storage.read(image.layerKey).catch(storageFailure);
      let sum: string;
      try {
        sum = await tarsum(image.json, stream);
      } catch (e) {
        // a layer that is not a tar cannot match any tarsum
        if (e instanceof RegistryError && e.code === 'LAYER_FORMAT') throw new RegistryError('CHECKSUM_MISMATCH');
        if (e instanceof StorageError) storageFailure(e);
        throw e;
      }
      matches = sum === expected;
    } else {
      matches = image.checksums.includes(expected);
    }
    if (!matches) throw new RegistryError('CHECKSUM_MISMATCH');
    // completes only the layer verified above (not one a concurrent PUT json or layer put there since)
    if (!(await this.meta.markReady(id, image.layerKey))) throw new RegistryError('CHECKSUM_CANNOT_SET');
  }

  /**
   * E3: the layer as a Blob (a BunFile on local disk: sendfile), or a redirect URL; an image
   * missing here comes through the mirror (streamed while stored, or read once stored).
   */
  async layer(id: string, puller: Puller = { authorization: null }): Promise<LayerSource> {
    requireImageId(id);
    let image = await this.#find(id);
    if (!image && this.mirror) {
      const fetched = await this.mirror.layer(id, puller.authorization, puller.stream === true);
      if (fetched.kind === 'stream') return fetched;
      image = await this.#find(id);
    }
    if (!image) throw new RegistryError('IMAGE_NOT_FOUND');
    const key = readyLayerKey(image);
    if (this.options.redirect) {
      const url = await this.storage.redirectUrl(key).catch(storageFailure);
      if (url) return { kind: 'redirect', url };
    }
    const blob = await this.storage.blob(key).catch(storageFailure);
    return { kind: 'blob', blob, size: blob.size, lastModified: new Date(image.updatedAt) };
  }

  /** E9: the layer's file list of a complete image (see `ready`), computed once and cached. */
  async files(image: ImageRecord): Promise<string> {
    return JSON.stringify(await this.#files(image));
  }

  async #files(image: ImageRecord): Promise<FileEntry[]> {
    const cached = await this.meta.getImageCache(image.id, 'files');
    if (cached !== null) return JSON.parse(cached) as FileEntry[];
    const stream = await this.storage.read(readyLayerKey(image)).catch(storageFailure);
    // a read that breaks part-way is the storage failing too (503), not a bad layer or a 500
    const entries = await listLayerFiles(stream).catch((e: unknown) => {
      if (e instanceof StorageError) storageFailure(e);
      throw e;
    });
    await this.meta.setImageCache(image.id, 'files', JSON.stringify(entries));
    return entries;
  }

  /** E10, for a complete image: computed on demand from the ancestry's file lists (no Redis queue) and cached. */
  async diff(image: ImageRecord): Promise<string> {
    const id = image.id;
    const cached = await this.meta.getImageCache(id, 'diff');
    if (cached !== null) return cached;
    const top = await this.#files(image);
    const ancestors: FileEntry[][] = [];
    for (const parentId of image.ancestry.slice(1)) {
      ancestors.push(await this.#files(await this.ready(parentId)));
    }
    const diff = JSON.stringify(computeDiff(top, ancestors));
    await this.meta.setImageCache(id, 'diff', diff);
    return diff;
  }

  /** Whether an image json exists at all (tags may point at uploading images, E15). */
  async exists(id: string): Promise<boolean> {
    return this.#complete.get(id) !== undefined || (await this.meta.getImage(id)) !== null;
  }
}
