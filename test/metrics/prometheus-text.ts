/** Reading the Prometheus text format in tests. */

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a text-format exposition (comments skipped). */
function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/**
 * The sum of the samples of `name` whose labels include `labels` (0 when none does). Throws
 * when the exposition has no such metric family at all, so that a misspelt name fails.
 */
export function metricValue(text: string, name: string, labels: Record<string, string>): number {
  const family = name.replace(/_(count|sum|bucket)$/, '');
  if (!new RegExp(`^# TYPE (${name}|${family}) `, 'm').test(text)) throw new Error(`no metric ${name} in:\n${text}`);
  return samples(text)
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}
