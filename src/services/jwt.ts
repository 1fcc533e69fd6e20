/**
 * HS256 JSON Web Tokens (RFC 7519 over RFC 7515's compact form), the V2 Bearer tokens of
 * bearer.ts. Written with node:crypto's HMAC rather than `jose`: one fixed algorithm, so there is
 * no `alg` negotiation to get wrong (`none`, RS/HS confusion: any other header is refused), it
 * is a few dozen lines, and it adds no dependency to the shared install. Pure apart from the clock
 * the caller passes in.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const MAX_TOKEN_LENGTH = 16 * 1024;
const B64URL = /^[A-Za-z0-9_-]+$/;

const b64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
const HEADER = b64url(JSON.stringify({ typ: 'JWT', alg: 'HS256' }));

const mac = (secret: string, input: string) => createHmac('sha256', secret).update(input).digest('base64url');

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function parseJson(part: string): unknown {
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
}

/** `header.payload.signature`, base64url, HMAC-SHA256 with `secret`. */
export function signJwt(secret: string, claims: Record<string, unknown>): string {
  const input = `${HEADER}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${mac(secret, input)}`;
}

export interface JwtCheck {
  iss: string;
  aud: string;
  /** Unix time, seconds */
  now: number;
  /** seconds a token may be used before its `nbf` (clock skew between nodes) */
  nbfLeeway: number;
}

/**
 * The claims of a token signed with `secret` whose header says HS256, issued by `iss` for `aud`
 * (a string, or an array naming it), with `exp` in the future and `nbf` reached; else null.
 */
export function verifyJwt(secret: string, token: string, check: JwtCheck): Record<string, unknown> | null {
  if (token.length > MAX_TOKEN_LENGTH) return null;
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => B64URL.test(p))) return null;
  const [header, payload, signature] = parts as [string, string, string];
  const expected = Buffer.from(mac(secret, `${header}.${payload}`), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  const head = parseJson(header);
  const claims = parseJson(payload);
  if (!isObject(head) || head.alg !== 'HS256' || !isObject(claims)) return null;
  const { iss, aud, exp, nbf } = claims;
  if (iss !== check.iss) return null;
  if (!(aud === check.aud || (Array.isArray(aud) && aud.includes(check.aud)))) return null;
  if (typeof exp !== 'number' || exp <= check.now) return null;
  if (typeof nbf !== 'number' || nbf > check.now + check.nbfLeeway) return null;
  return claims;
}
