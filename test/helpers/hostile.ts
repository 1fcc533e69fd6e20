/**
 * fast-check arbitraries for hostile HTTP requests against the registry (test/fuzz/): path
 * segments (unicode, control bytes, percent-encoded junk, traversal spellings, overlong), query
 * strings, headers within what the Fetch API can carry, and bodies (binary, invalid UTF-8, JSON of
 * every shape, 1e6-deep nesting, multi-MiB strings). Plus the reply contract the fuzz asserts.
 */
import fc from 'fast-check';
import { REPOSITORY_PREFIX, ROUTE_LIST } from '../../src/http/route-table.ts';
import { routeTemplate } from '../../src/metrics/route-label.ts';

export interface FuzzRequest {
  method: string;
  /** path + query, already percent-encoded (or raw junk) */
  target: string;
  headers: [string, string][];
  body?: Uint8Array | string;
}

/** Known-good values the generators mix in so requests reach past validation. */
export interface Seeds {
  /** a complete image */
  id: string;
  /** an image in progress */
  pending: string;
  namespace: string;
  repository: string;
  tag: string;
}

const HEX = '0123456789abcdef';
const hex2 = (b: number) => `%${HEX[b >> 4]!.toUpperCase()}${HEX[b & 15]!.toUpperCase()}`;
const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** Percent-encodes the UTF-8 of `s` (lone surrogates become U+FFFD) except unreserved chars. */
function pctEncode(s: string): string {
  let out = '';
  for (const b of new TextEncoder().encode(s)) {
    const c = String.fromCharCode(b);
    out += b < 0x80 && UNRESERVED.test(c) ? c : hex2(b);
  }
  return out;
}

const TRAVERSAL_SEGMENTS = [
  '..',
  '.',
  '%2e%2e',
  '%2E%2E',
  '.%2e',
  '%2e',
  '..%2f..%2f..%2fetc%2fpasswd',
  '..%2F..%2Fcanary.txt',
  '%2f',
  '%2F',
  '%2fetc%2fpasswd',
  '%00',
  '%2e%2e%00',
  '..%5c..%5cetc%5cpasswd',
  '%5c',
  '....%2f%2f',
  '%252e%252e%252f',
  '%c0%ae%c0%ae',
  '%e0%80%ae',
  '%ef%bc%8e%ef%bc%8e',
  '..%c0%af',
  'storage-evil',
  '..%2fstorage-evil%2flayer',
  '~',
  '*',
  '%20',
  '%0a',
  '%0d%0a',
  '%ff%fe',
  '%',
  '%z',
  '%zz',
  '%e2%82',
] as const;

function segmentArb(seeds: Seeds): fc.Arbitrary<string> {
  const hexId = fc.oneof(fc.stringMatching(/^[a-f0-9]{16}$/), fc.stringMatching(/^[a-f0-9]{64}$/));
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(seeds.id, seeds.pending, seeds.namespace, seeds.repository, seeds.tag, 'library') },
    { weight: 2, arbitrary: hexId },
    { weight: 4, arbitrary: fc.constantFrom(...TRAVERSAL_SEGMENTS) },
    { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).map(pctEncode) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }).map(pctEncode) },
    { weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9._~!$&'()*+,;=:@-]{0,30}$/) },
    { weight: 2, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 24 }).map((b) => Array.from(b, hex2).join('')) },
    { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 129, max: 12_000 }), fc.constantFrom('a', 'f', '%2e', '%ff')).map(([n, c]) => c.repeat(n)) },
  );
}

/**
 * Route templates (`{param}`) from the app's route table, plus the one-part spelling of every
 * repository route (rewritten to library/<name> before routing).
 */
function routeTable(): { path: string; methods: string[] }[] {
  const rows = new Map<string, string[]>();
  const add = (path: string, method: string) => {
    const methods = rows.get(path) ?? [];
    if (!methods.includes(method)) methods.push(method);
    rows.set(path, methods);
  };
  for (const { method, path } of ROUTE_LIST) add(routeTemplate(path), method);
  for (const { method, path } of ROUTE_LIST) {
    if (path.startsWith(`${REPOSITORY_PREFIX}/`)) add(routeTemplate(`/v1/repositories/:repository${path.slice(REPOSITORY_PREFIX.length)}`), method);
  }
  return [...rows].map(([path, methods]) => ({ path, methods }));
}

const OTHER_METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS', 'PROPFIND', 'FOO', 'M-SEARCH'] as const;

const queryArb = (seg: fc.Arbitrary<string>) =>
  fc.option(
    fc
      .array(
        fc.tuple(
          fc.oneof(fc.constantFrom('q', 'n', 'page', 'q', 'n'), seg),
          fc.oneof(seg, fc.constantFrom('-1', '0', '1e309', 'NaN', '99999999999999999999', '1.5', '0x10', '100', '')),
        ),
        { maxLength: 4 },
      )
      .map((kv) => `?${kv.map(([k, v]) => `${k}=${v}`).join('&')}`),
    { nil: '' },
  );

const headerValue = fc.stringMatching(/^[\x21-\x7e][\x20-\x7e]{0,120}[\x21-\x7e]$|^$/);
const SPECIAL_HEADERS = [
  'range',
  'if-modified-since',
  'user-agent',
  'content-type',
  'x-docker-checksum-payload',
  'x-docker-checksum',
  'x-docker-payload-checksum',
  'authorization',
  'x-docker-token',
  'accept',
  'accept-encoding',
  'host',
  'transfer-encoding',
] as const;
const specialValue = fc.oneof(
  headerValue,
  fc.constantFrom(
    'bytes=0-0',
    'bytes=-1',
    'bytes=-0',
    'bytes=5-1',
    'bytes=0-99999999999999999999',
    'bytes=1-2,3-4',
    'bytes=99999999-',
    'bytes=',
    'Thu, 01 Jan 1970 00:00:00 GMT',
    'Fri, 31 Dec 9999 23:59:59 GMT',
    'Token signature=x,repository="a/b",access=write',
    'Token signature=../../etc,repository="../..",access=delete',
    'Basic Zm9vOmJhcg==',
    'Basic !!!notbase64',
    'Bearer x',
    'tarsum+sha256:00',
    'tarsum+junk',
    'sha256:0000',
    'application/json',
    'application/octet-stream',
    'multipart/form-data; boundary=x',
    'application/x-www-form-urlencoded',
    'docker/0.9.0 go/go1.2 git-commit/x kernel/3 os/linux arch/amd64',
    'docker/1.0.0 go/go1.2 git-commit/x kernel/3 os/linux arch/amd64',
    'gzip',
  ),
  fc.integer({ min: 1000, max: 12_000 }).map((n) => 'v'.repeat(n)),
);

const headersArb = fc.array(
  fc.oneof(
    fc.tuple(fc.constantFrom(...SPECIAL_HEADERS), specialValue),
    fc.tuple(fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,30}$/), headerValue),
  ),
  { maxLength: 6 },
);

const MiB = 1024 * 1024;
const BIG = new Uint8Array(6 * MiB + 1).fill(0x61);
/** A 1e6-deep array is 2 MB, within the 4 MiB JSON limit. */
const deepJson = fc
  .tuple(fc.constantFrom(1000, 10_000, 100_000, 1_000_000), fc.constantFrom('array', 'object', 'unclosed'))
  .map(([n, kind]) =>
    kind === 'array' ? '['.repeat(n) + ']'.repeat(n) : kind === 'object' ? '{"a":'.repeat(n) + '1' + '}'.repeat(n) : '['.repeat(n),
  );

function bodyArb(seeds: Seeds, seg: fc.Arbitrary<string>): fc.Arbitrary<Uint8Array | string | undefined> {
  const idish = fc.oneof(fc.constantFrom(seeds.id, seeds.pending), seg, fc.jsonValue());
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 3, arbitrary: fc.uint8Array({ maxLength: 2048 }) },
    // invalid UTF-8 inside a JSON string
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Uint8Array.from([0x22, ...b.map((x) => x | 0x80), 0x22])) },
    { weight: 3, arbitrary: fc.json() },
    { weight: 2, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 1, arbitrary: deepJson },
    { weight: 3, arbitrary: fc.record({ id: idish, parent: fc.option(idish) }, { requiredKeys: [] }).map((o) => JSON.stringify(o)) },
    { weight: 2, arbitrary: idish.map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 1, arbitrary: fc.array(fc.record({ id: idish, Tag: fc.option(seg) }, { requiredKeys: [] }), { maxLength: 5 }).map((a) => JSON.stringify(a)) },
    { weight: 1, arbitrary: fc.constantFrom(MiB, 4 * MiB - 16, 4 * MiB + 1, 6 * MiB + 1).map((n) => BIG.subarray(0, n)) },
  );
}

export function requestArb(seeds: Seeds): fc.Arbitrary<FuzzRequest> {
  const seg = segmentArb(seeds);
  const routes = routeTable();
  const fromTable = fc
    .tuple(fc.constantFrom(...routes), fc.array(seg, { minLength: 5, maxLength: 5 }), fc.nat(100), fc.constantFrom(...OTHER_METHODS), fc.constantFrom('', '', '', '/', '/x'))
    .map(([route, segs, pick, other, suffix]) => {
      let i = 0;
      const path = route.path.replace(/\{[^}]+\}/g, () => segs[i++]!);
      const method = pick < 75 ? route.methods[pick % route.methods.length]! : pick < 85 ? 'HEAD' : other;
      return { method, path: pick % 7 === 0 ? path + suffix : path };
    });
  const randomPath = fc
    .tuple(fc.constantFrom('/', '/v1/', '/v1/images/', '/v1/repositories/', '/v2/', '/swagger/'), fc.array(seg, { maxLength: 6 }), fc.constantFrom(...OTHER_METHODS))
    .map(([prefix, segs, method]) => ({ method, path: prefix + segs.join('/') }));
  return fc
    .tuple(fc.oneof({ weight: 4, arbitrary: fromTable }, { weight: 1, arbitrary: randomPath }), queryArb(seg), headersArb, bodyArb(seeds, seg))
    .map(([{ method, path }, query, headers, body]) => ({
      method,
      target: path + query,
      headers,
      body: method === 'GET' || method === 'HEAD' ? undefined : body,
    }));
}

/** Short text of a request for counterexamples (bodies abbreviated). */
export function describeRequest(r: FuzzRequest): string {
  const body = r.body === undefined ? '' : ` body(${typeof r.body === 'string' ? r.body.length : r.body.byteLength})=${JSON.stringify(String(typeof r.body === 'string' ? r.body : new TextDecoder().decode(r.body.subarray(0, 80))).slice(0, 80))}`;
  return `${r.method} ${r.target.slice(0, 300)} headers=${JSON.stringify(r.headers.map(([k, v]) => [k, v.slice(0, 60)]))}${body}`;
}

/**
 * The reply contract: no 5xx; a 4xx is JSON (`Content-Type: application/json`; a HEAD reply may
 * have no body): `{"error": string}` for V1, and under `/v2/` the OCI Distribution body
 * `{"errors": [{"code": string, "message": string, ...}]}`. Returns a problem description or null.
 */
export async function replyProblem(method: string, status: number, headers: Headers | Record<string, string>, body: string, target = ''): Promise<string | null> {
  const get = (n: string) => (headers instanceof Headers ? headers.get(n) : (headers[n] ?? null));
  if (status >= 500) return `status ${status}: ${body.slice(0, 200)}`;
  if (status < 400) return null;
  if (get('content-type') !== 'application/json') return `4xx ${status} content-type ${get('content-type')}: ${body.slice(0, 200)}`;
  if (method === 'HEAD' && body === '') return null;
  // the path as the server sees it (`/v2/%2E%2E/x` is `/x` once the URL is parsed)
  let path = target;
  try {
    path = new URL(target, 'http://localhost').pathname;
  } catch {
    // an unparsable target keeps its raw form
  }
  const v2 = /^(https?:\/\/[^/]*)?\/v2(\/|$|\?)/.test(path);
  try {
    const parsed = JSON.parse(body) as { error?: unknown; errors?: { code?: unknown; message?: unknown }[] };
    if (!v2 && typeof parsed?.error === 'string') return null;
    const first = Array.isArray(parsed?.errors) ? parsed.errors[0] : undefined;
    if (v2 && typeof first?.code === 'string' && typeof first.message === 'string') return null;
  } catch {
    // fall through
  }
  return `4xx ${status} body is not ${v2 ? '{"errors": [{code, message}]}' : '{"error": string}'}: ${body.slice(0, 200)}`;
}
