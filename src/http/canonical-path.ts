/**
 * Repository names in paths, made routable before routing. Pure.
 * - V1: one-part repository names mean `library/<name>` (v1-api.md §2). Routes are declared for
 *   the two-part form only; a one-part URL is rewritten to it.
 * - V2: a name has one or more parts (`a/b/c`); routes declare it as one segment, so its parts are
 *   joined with `%2F` (the router decodes the parameter back to `a/b/c`).
 * Which trailing segments are an endpoint follows the rule with more segments first, so
 * `/v1/repositories/foo/tags/latest` is tag `latest` of `library/foo`, and
 * `/v2/a/b/blobs/uploads/<id>` an upload of `a/b`.
 */
import { REPOSITORY_PREFIX, ROUTE_LIST, V2_REPOSITORY_PREFIX } from './route-table.ts';

const PREFIX = '/v1/repositories/';
const V2_PREFIX = '/v2/';

/**
 * The endpoint suffixes of the routes under `prefix` (route-table.ts), longest first; '*' is any
 * one segment, [] the repository itself (`…/:repository/`).
 */
function suffixesOf(prefix: string): readonly (readonly string[])[] {
  return [
    ...new Map(
      ROUTE_LIST.filter((r) => r.path.startsWith(`${prefix}/`))
        .map((r) => r.path.slice(prefix.length + 1).split('/').filter((s) => s !== ''))
        .map((segments) => segments.map((s) => (s.startsWith(':') ? '*' : s)))
        .map((suffix) => [suffix.join('/'), suffix] as const),
    ).values(),
  ].sort((a, b) => b.length - a.length);
}

const REPOSITORY_SUFFIXES = suffixesOf(REPOSITORY_PREFIX);
const V2_SUFFIXES = suffixesOf(V2_REPOSITORY_PREFIX);

function matches(segments: string[], suffix: readonly string[]): boolean {
  if (segments.length <= suffix.length) return false;
  const offset = segments.length - suffix.length;
  return suffix.every((s, i) => s === '*' || segments[offset + i] === s);
}

/** The segments after `prefix` (one trailing slash dropped), or null when one is empty. */
function segmentsAfter(pathname: string, prefix: string): string[] | null {
  const segments = pathname.slice(prefix.length).split('/').filter((s, i, all) => !(s === '' && i === all.length - 1));
  return segments.length === 0 || segments.some((s) => s === '') ? null : segments;
}

/**
 * Returns the path with `library/` inserted for a one-part V1 repository, or with a V2 name's
 * parts joined by `%2F`, or the path unchanged.
 */
export function canonicalPath(pathname: string): string {
  if (pathname.startsWith(V2_PREFIX)) return v2Path(pathname);
  if (!pathname.startsWith(PREFIX)) return pathname;
  const segments = segmentsAfter(pathname, PREFIX);
  if (!segments) return pathname;
  for (const suffix of REPOSITORY_SUFFIXES) {
    if (!matches(segments, suffix)) continue;
    const repoSegments = segments.length - suffix.length;
    if (repoSegments !== 1) return pathname;
    return `${PREFIX}library/${segments.join('/')}${pathname.endsWith('/') ? '/' : ''}`;
  }
  return pathname;
}

function v2Path(pathname: string): string {
  const segments = segmentsAfter(pathname, V2_PREFIX);
  if (!segments) return pathname;
  for (const suffix of V2_SUFFIXES) {
    if (!matches(segments, suffix)) continue;
    const nameSegments = segments.length - suffix.length;
    if (nameSegments === 1) return pathname;
    const name = segments.slice(0, nameSegments).join('%2F');
    return `${V2_PREFIX}${name}/${segments.slice(nameSegments).join('/')}${pathname.endsWith('/') ? '/' : ''}`;
  }
  return pathname;
}
