/** Random V1 ids and layers, and the payload checksum the server computes over them. */

/** `n` random hex digits (64 make a V1 image id). */
export const hex = (n = 16): string =>
  Array.from(crypto.getRandomValues(new Uint8Array(n / 2)), (b) => b.toString(16).padStart(2, '0')).join('');

/** Random bytes (getRandomValues fills at most 64 KiB per call). */
export function randomBytes(size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += 65_536) crypto.getRandomValues(out.subarray(i, Math.min(size, i + 65_536)));
  return out;
}

/** The V1 payload checksum, `sha256:` + hex of sha256(json + "\n" + layer). */
export const payload = (json: string, layer: Uint8Array | string): string =>
  `sha256:${new Bun.CryptoHasher('sha256').update(json).update('\n').update(layer).digest('hex')}`;
