import { expect, test } from 'bun:test';
import { v1Json } from '../../src/http/v1-json.ts';

test('sorted keys and Python separators', () => {
  expect(v1Json({ b: 1, a: [true, null, 'x'], c: { z: 1, y: 2 } })).toBe(
    '{"a": [true, null, "x"], "b": 1, "c": {"y": 2, "z": 1}}',
  );
});
test('non-ASCII is escaped like ensure_ascii', () => {
  expect(v1Json({ error: 'é ✓' })).toBe('{"error": "\\u00e9 \\u2713"}');
});
test('scalars', () => {
  expect(v1Json(true)).toBe('true');
  expect(v1Json('OK')).toBe('"OK"');
  expect(v1Json('')).toBe('""');
  expect(v1Json({})).toBe('{}');
  expect(v1Json({ a: undefined, b: 1 })).toBe('{"b": 1}');
});
