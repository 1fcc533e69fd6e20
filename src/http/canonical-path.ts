/**
 * One-part repository names mean `library/<name>` (v1-api.md §2). Routes are declared for the
 * two-part form only; this rewrites a one-part URL before routing. Which trailing segments are an
 * endpoint follows the original's precedence (the rule with more segments wins), so
 * `/v1/repositories/foo/tags/latest` is tag `latest` of `library/foo`. Pure.
 */
const PREFIX = '/v1/repositories/';
/** endpoint suffixes, longest first; '*' is any one segment */
const SUFFIXES: readonly (readonly string[])[] = [
  ['tags', '*', 'json'],
  ['tags', '*'],
  ['tags'],
  ['json'],
  ['properties'],
  ['images'],
  ['auth'],
  [],
];

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
  for (const suffix of SUFFIXES) {
    if (!matches(segments, suffix)) continue;
    const repoSegments = segments.length - suffix.length;
    if (repoSegments !== 1) return pathname;
    return `${PREFIX}library/${segments.join('/')}${trailing ? '/' : ''}`;
  }
  return pathname;
}
