/**
 * JSON the way the original's helper wrote it (Python `json.dumps(sort_keys=True)`): keys
 * sorted, `", "` and `": "` separators, non-ASCII escaped as \uXXXX. Pure.
 */
const escapeNonAscii = (s: string) =>
  s.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

export function v1Json(value: unknown): string {
  return escapeNonAscii(serialize(value));
}

function serialize(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return `[${value.map(serialize).join(', ')}]`;
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}: ${serialize(obj[k])}`).join(', ')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
