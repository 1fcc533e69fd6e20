/**
 * The V1 ⇄ V2 bridge's I/O (its rules are domain/bridge.ts): one store, both protocols.
 * - A V1 tag pulled through V2: its manifest and config are derived on the first pull from the
 *   V1 jsons and layers; each layer's blob digest and diff_id are computed once (one read of the
 *   layer, two when gzip) and kept with the image; the layer becomes a blob without a byte copied
 *   (its blob record names the V1 layer's key); the tag then names both.
 * - A V2 manifest pushed by tag: when it is a single-platform image of tar or tar+gzip layers, its
 *   V1 images are written at once (no layer is read: only the config), listed in the repository's
 *   index image list, and the tag names both. Anything else (an index, zstd layers, no layers)
 *   stays V2-only: V1 does not list the tag.
 */
import type { BlobStore, ImageRecord, ImageStore, ManifestRecord, ManifestStore, NewImage, RepoRef, TagStore } from '../db/meta.ts';
import { configFromV1, manifestFromV1, v1ImagesFromV2, type BridgedLayer, type V1Image } from '../domain/bridge.ts';
import { digestOf } from '../domain/digest.ts';
import { parseManifest, requiredContent, type ParsedManifest } from '../domain/manifest.ts';
import { RegistryError } from '../errors.ts';
import { PathNotFoundError, StorageError, type StorageDriver } from '../storage/driver.ts';
import { newBlobKey } from '../storage/paths.ts';
import type { ImageService } from './images.ts';
import type { RepositoryService } from './repositories.ts';

type Store = Pick<ImageStore, 'getImage' | 'touchImage' | 'getImageCache' | 'setImageCache' | 'putImageIfUploading' | 'setLayerIfUploading' | 'markReady'> &
  Pick<TagStore, 'getTag'> &
  Pick<BlobStore, 'getLinkedBlob' | 'putBlob' | 'putLayerBlob' | 'linkBlob'> &
  Pick<ManifestStore, 'getManifest' | 'putManifest' | 'bridgeTag'>;

/** What a V1 layer's first bytes say it is. */
function compressionOf(head: Uint8Array): 'gzip' | 'none' | 'unsupported' {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  const bzip2 = head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68;
  const xz = head[0] === 0xfd && head[1] === 0x37 && head[2] === 0x7a && head[3] === 0x58;
  const zstd = head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd;
  return bzip2 || xz || zstd ? 'unsupported' : 'none';
}

/** A V1 image of the tag, or a layer of it, was garbage-collected while being bridged. */
const gone = () => new RegistryError('V2_MANIFEST_UNKNOWN', 'an image of the V1 tag is gone (garbage-collected meanwhile)');

function storageFailure(e: unknown): never {
  if (e instanceof PathNotFoundError) throw new RegistryError('V2_MANIFEST_UNKNOWN', 'a layer of the V1 image is missing from storage');
  if (e instanceof StorageError) throw new RegistryError('STORAGE_FAILURE');
  throw e;
}

export class BridgeService {
  constructor(
    private readonly meta: Store,
    private readonly storage: StorageDriver,
    private readonly images: ImageService,
    private readonly repos: RepositoryService,
  ) {}

  /** V1 → V2: the manifest of a V1 tag (derived and stored on first use); null when there is no V1 tag. */
  async manifestOfV1Tag(ref: RepoRef, tag: string): Promise<ManifestRecord | null> {
    const found = await this.meta.getTag(ref, tag);
    if (!found) return null;
    const top = await this.images.ready(found.imageId).catch((e: unknown) => {
      // a tag may name an image that is still uploading or gone (V1 allows it): nothing to pull
      if (e instanceof RegistryError) return null;
      throw e;
    });
    if (!top) return null;
    const ancestry: V1Image[] = [];
    for (const id of [...top.ancestry].reverse()) {
      const image = id === top.id ? top : await this.images.ready(id);
      ancestry.push({ json: JSON.parse(new TextDecoder().decode(image.json)) as Record<string, unknown>, layer: await this.#layerOf(ref, image) });
    }
    const config = configFromV1(ancestry);
    const configDigest = digestOf(config);
    await this.#storeBlob(ref, configDigest, new TextEncoder().encode(config));
    const manifest = manifestFromV1(ancestry, { digest: configDigest, size: Buffer.byteLength(config) });
    const content = new TextEncoder().encode(manifest.content);
    const digest = digestOf(content);
    const parsed = parseManifest(content, manifest.mediaType);
    const newManifest = {
      digest,
      mediaType: manifest.mediaType,
      content,
      subject: null,
      artifactType: parsed.artifactType,
      references: requiredContent(parsed).blobs.map((d) => ({ digest: d, kind: 'blob' as const })),
    };
    // verified: a layer blob collected meanwhile (its V1 image untagged and swept) is not referenced
    if ((await this.meta.putManifest(ref, newManifest, undefined, { verify: true })) !== null) throw gone();
    await this.meta.bridgeTag(ref, tag, found.imageId, digest);
    return this.meta.getManifest(ref, digest);
  }

  /**
   * V2 → V1, after a manifest was stored under `tag`: writes its V1 images and points the tag at
   * the top one. Returns why it cannot be bridged (then V1 does not see the tag), or null.
   */
  async bridgeToV1(ref: RepoRef, tag: string, digest: string, manifest: ParsedManifest): Promise<string | null> {
    if (manifest.kind !== 'image' || !manifest.config) return 'a multi-platform index has no V1 form';
    const configBlob = await this.meta.getLinkedBlob(ref, manifest.config.digest);
    if (!configBlob) return 'the config blob is missing';
    const configBytes = await this.storage.getContent(configBlob.key).catch(storageFailure);
    let config: unknown;
    try {
      config = JSON.parse(new TextDecoder().decode(configBytes));
    } catch {
      return 'the config is not JSON';
    }
    if (typeof config !== 'object' || config === null || Array.isArray(config)) return 'the config is not a JSON object';
    const derived = v1ImagesFromV2(manifest.layers, config as Record<string, unknown>, manifest.config.digest);
    if (typeof derived === 'string') return derived;
    const ancestry: string[] = [];
    for (const image of derived) {
      ancestry.unshift(image.id);
      const blob = await this.meta.getLinkedBlob(ref, image.layer.digest);
      if (!blob) return `layer ${image.layer.digest} is missing`;
      const json = new TextEncoder().encode(image.json);
      if (!(await this.#writeV1Image({ id: image.id, parent: image.parent, json, ancestry: [...ancestry] }, blob))) {
        return `the V1 image ${image.id} is being written by concurrent pushes, or exists with other content`;
      }
    }
    const list = derived.map((i) => ({ id: i.id }));
    await this.repos.putIndexImages(ref, JSON.stringify(list), list);
    await this.meta.bridgeTag(ref, tag, derived[derived.length - 1]!.id, digest);
    return null;
  }

  /**
   * Writes a derived V1 image (uploading → its layer → ready) unless it is ready already; true
   * once it is ready with this json and this blob's bytes. Another push of the same image may
   * reset it to uploading between our steps (that clears the layer): it is marked ready only with
   * its layer recorded, and the steps are taken again, until one of the pushes has completed it.
   * A derived id is a function of the manifest, so a V1 client may also have pushed (or complete,
   * between our steps) an image under it with other bytes: a ready image is taken only when it is
   * this one, else false (the tag stays V2-only rather than naming those bytes).
   */
  async #writeV1Image(image: NewImage, blob: { digest: string; key: string; size: number }): Promise<boolean> {
    for (let attempt = 0; attempt < 5; attempt++) {
      // an image another push derived already is complete: it stays as it is, relied on from here
      // (touched, so garbage collection spares it until the tag names it); collected meanwhile, it is written anew
      if (!(await this.meta.putImageIfUploading(image))) {
        if (await this.meta.touchImage(image.id, Date.now())) return this.#isDerived(image, blob.key);
        continue;
      }
      // the blob's own bytes, recorded only while the blob still names them (not collected meanwhile)
      await this.meta.setLayerIfUploading(image.id, { key: blob.key, size: blob.size, checksums: [], json: image.json, blob: blob.digest });
      if (await this.meta.markReady(image.id, blob.key)) return true;
    }
    return false;
  }

  /** Whether the ready image `image.id` is the derived one: its json and the blob's bytes (by key). */
  async #isDerived(image: NewImage, layerKey: string): Promise<boolean> {
    const stored = await this.meta.getImage(image.id);
    return stored !== null && stored.layerKey === layerKey && Buffer.from(stored.json).equals(Buffer.from(image.json));
  }

  /** A V1 image's layer as a blob of `ref` (analysed once, then kept); null for an empty layer. */
  async #layerOf(ref: RepoRef, image: ImageRecord): Promise<BridgedLayer | null> {
    const cached = await this.meta.getImageCache(image.id, 'layer');
    let layer: BridgedLayer | null;
    if (cached !== null) layer = JSON.parse(cached) as BridgedLayer | null;
    else {
      layer = await this.#analyse(image);
      await this.meta.setImageCache(image.id, 'layer', JSON.stringify(layer));
    }
    // the V1 layer's own bytes, recorded only while the image still names them (not collected meanwhile)
    if (layer && !(await this.meta.putLayerBlob(ref, image.id, { digest: layer.digest, size: layer.size, key: image.layerKey! }))) throw gone();
    return layer;
  }

  /** Reads a V1 layer once (twice when gzip) for its digest and diff_id. */
  async #analyse(image: ImageRecord): Promise<BridgedLayer | null> {
    const key = image.layerKey;
    if (key === null || !image.layerSize) return null;
    const raw = new Bun.CryptoHasher('sha256');
    let head = new Uint8Array(0);
    try {
      for await (const chunk of await this.storage.read(key)) {
        if (head.byteLength < 8) head = new Uint8Array([...head, ...chunk.subarray(0, 8)]);
        raw.update(chunk);
      }
    } catch (e) {
      storageFailure(e);
    }
    const digest = `sha256:${raw.digest('hex')}`;
    const compression = compressionOf(head);
    if (compression === 'unsupported') throw new RegistryError('V2_BRIDGE_UNSUPPORTED', 'bzip2, xz and zstd V1 layers are not served through V2');
    if (compression === 'none') return { digest, diffId: digest, size: image.layerSize, compression };
    const tar = new Bun.CryptoHasher('sha256');
    try {
      const stream = (await this.storage.read(key)).pipeThrough(new DecompressionStream('gzip') as unknown as ReadableWritablePair<Uint8Array, Uint8Array>);
      for await (const chunk of stream) tar.update(chunk);
    } catch (e) {
      if (e instanceof StorageError) storageFailure(e);
      throw new RegistryError('V2_BRIDGE_UNSUPPORTED', 'the V1 layer is not valid gzip');
    }
    return { digest, diffId: `sha256:${tar.digest('hex')}`, size: image.layerSize, compression };
  }

  /** Stores small content as a blob of `ref` unless stored already (then links that one). */
  async #storeBlob(ref: RepoRef, digest: string, bytes: Uint8Array): Promise<void> {
    if (await this.meta.linkBlob(ref, digest)) return;
    const key = newBlobKey(digest);
    await this.storage.putContent(key, bytes).catch(storageFailure);
    const { blob } = await this.meta.putBlob(ref, { digest, size: bytes.byteLength, key });
    if (blob.key !== key) await this.storage.delete(key).catch(() => {});
  }
}
