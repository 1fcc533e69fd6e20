/**
 * JSON the way the original's helper wrote it (Python `json.dumps(sort_keys=True)`): keys
 * sorted, `", "` and `": "` separators, non-ASCII escaped as \uXXXX. Pure.
 */
const escapeNonAscii = (s: string) =>
  s.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** Texts of frozen values, written once (see v1Json). */
const written = new WeakMap<object, string>();

/**
 * The text of `value`. A frozen object or array (the stores and services freeze what they cache,
 * and freeze only values whose contents cannot change either) is serialized once and its text
 * reused, so a repeated read of unchanged metadata costs a lookup.
 */
export function v1Json(value: unknown): string {
  if (typeof value !== 'object' || value === null || !Object.isFrozen(value)) return escapeNonAscii(serialize(value));
  let text = written.get(value);
  if (text === undefined) {
    text = escapeNonAscii(serialize(value));
    written.set(value, text);
  }
  return text;
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
