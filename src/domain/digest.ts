/**
 * Content digests of the OCI Distribution (V2) API: `<algorithm>:<encoded>`, where the registry
 * computes and verifies sha256 (64 lowercase hex digits) and sha512 (128). The spec's wider
 * grammar (other algorithms, other encodings) is refused: a digest the registry cannot verify
 * never names content. Pure.
 */

export type DigestAlgorithm = 'sha256' | 'sha512';

const DIGEST_PATTERN = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/** True when `digest` is a digest this registry computes (see the top). */
export function isDigest(digest: string): boolean {
  return DIGEST_PATTERN.test(digest);
}

export function digestAlgorithm(digest: string): DigestAlgorithm {
  return digest.startsWith('sha512:') ? 'sha512' : 'sha256';
}

/** The hex part of a valid digest. */
export const digestHex = (digest: string): string => digest.slice(digest.indexOf(':') + 1);

/** A streaming hasher for `algorithm` (Bun's native one). */
export const digestHasher = (algorithm: DigestAlgorithm): Bun.CryptoHasher => new Bun.CryptoHasher(algorithm);

/** The digest of bytes held in memory. */
export function digestOf(bytes: Uint8Array | string, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${new Bun.CryptoHasher(algorithm).update(bytes).digest('hex')}`;
}
