/**
 * One-part repository names mean `library/<name>` (v1-api.md §2). Routes are declared for the
 * two-part form only; this rewrites a one-part URL before routing. Which trailing segments are an
 * endpoint follows the original's precedence (the rule with more segments wins), so
 * `/v1/repositories/foo/tags/latest` is tag `latest` of `library/foo`. Pure.
 */
import { REPOSITORY_PREFIX, ROUTE_LIST } from './route-table.ts';

const PREFIX = '/v1/repositories/';
/**
 * The endpoint suffixes of the repository routes (route-table.ts), longest first; '*' is any one
 * segment, [] the repository itself (`…/:repository/`).
 */
const REPOSITORY_SUFFIXES: readonly (readonly string[])[] = [
  ...new Map(
    ROUTE_LIST.filter((r) => r.path.startsWith(`${REPOSITORY_PREFIX}/`))
      .map((r) => r.path.slice(REPOSITORY_PREFIX.length + 1).split('/').filter((s) => s !== ''))
      .map((segments) => segments.map((s) => (s.startsWith(':') ? '*' : s)))
      .map((suffix) => [suffix.join('/'), suffix] as const),
  ).values(),
].sort((a, b) => b.length - a.length);

function matches(segments: string[], suffix: readonly string[]): boolean {
  if (segments.length <= suffix.length) return false;
  const offset = segments.length - suffix.length;
  return suffix.every((s, i) => s === '*' || segments[offset + i] === s);
}

/** Returns the path with `library/` inserted for a one-part repository, or the path unchanged. */
export function canonicalPath(pathname: string): string {
  if (!pathname.startsWith(PREFIX)) return pathname;
  const rest = pathname.slice(PREFIX.length);
  const trailing = rest.endsWith('/');
  const segments = rest.split('/').filter((s, i, all) => !(s === '' && i === all.length - 1));
  if (segments.length === 0 || segments.some((s) => s === '')) return pathname;
  for (const suffix of REPOSITORY_SUFFIXES) {
    if (!matches(segments, suffix)) continue;
    const repoSegments = segments.length - suffix.length;
    if (repoSegments !== 1) return pathname;
    return `${PREFIX}library/${segments.join('/')}${trailing ? '/' : ''}`;
  }
  return pathname;
}
