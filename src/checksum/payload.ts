/**
 * The V1 payload checksum (v1-api.md §3): `sha256:` + hex sha256 of the image json bytes, a
 * newline, and the layer bytes exactly as sent. Pure: callers feed bytes, nothing is stored.
 */

const NEWLINE = new Uint8Array([0x0a]);

/** Streaming payload hasher: construct with the json bytes, `update` with layer chunks. */
export class PayloadHasher {
  #hasher = new Bun.CryptoHasher('sha256');
  #done = false;

  constructor(json: Uint8Array) {
    this.#hasher.update(json);
    this.#hasher.update(NEWLINE);
  }

  /** Adds a chunk of the layer body. */
  update(chunk: Uint8Array): void {
    if (this.#done) throw new Error('PayloadHasher: update after digest');
    this.#hasher.update(chunk);
  }

  /** `sha256:<64 lower-case hex>`; call once, after the last chunk. */
  digest(): string {
    if (this.#done) throw new Error('PayloadHasher: digest called twice');
    this.#done = true;
    return `sha256:${this.#hasher.digest('hex')}`;
  }
}

/** One-shot payload checksum of `json + "\n" + layer`. */
export function payloadChecksum(json: Uint8Array, layer: Uint8Array): string {
  const hasher = new PayloadHasher(json);
  hasher.update(layer);
  return hasher.digest();
}

/**
 * Reads a stored `_checksum` value: a JSON list (its string elements are returned), a JSON string
 * (one element), or anything else, i.e. legacy raw text written by ≤0.6, as a one-element list
 * holding the text unchanged.
 */
export function parseStoredChecksums(text: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [text];
  }
  if (Array.isArray(parsed)) return parsed.filter((v): v is string => typeof v === 'string');
  if (typeof parsed === 'string') return [parsed];
  return [text];
}
