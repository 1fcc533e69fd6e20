import { describe, expect, test } from 'bun:test';
import { createHash } from 'node:crypto';
import {
  PayloadHasher,
  parseStoredChecksums,
  payloadChecksum,
} from '../../src/checksum/payload.ts';

const text = (s: string) => new TextEncoder().encode(s);

describe('payloadChecksum (v1-api.md §3 vectors)', () => {
  test('empty json and empty layer', () => {
    expect(payloadChecksum(text(''), text(''))).toBe(
      'sha256:01ba4719c80b6fe911b091a7c05124b64eeece964e09c058ef8f9805daca546b',
    );
  });

  test('json "test" and empty layer', () => {
    expect(payloadChecksum(text('test'), new Uint8Array(0))).toBe(
      'sha256:f2ca1bb6c7e907d06dafe4687e579fce76b37e4e93b7605022da52e6ccc26fd2',
    );
  });

  test('is sha256(json + "\\n" + layer)', () => {
    const json = text('{"id":"abc"}');
    const layer = crypto.getRandomValues(new Uint8Array(10_000));
    const expected = createHash('sha256').update(json).update('\n').update(layer).digest('hex');
    expect(payloadChecksum(json, layer)).toBe(`sha256:${expected}`);
  });
});

describe('PayloadHasher', () => {
  test('many chunks give the one-shot value', () => {
    const json = text('{"id":"0123456789abcdef","parent":"x"}');
    const layer = crypto.getRandomValues(new Uint8Array(100_003));
    const hasher = new PayloadHasher(json);
    for (let offset = 0; offset < layer.byteLength; offset += 997) {
      hasher.update(layer.subarray(offset, offset + 997));
    }
    hasher.update(new Uint8Array(0));
    const digest = hasher.digest();
    expect(digest).toBe(payloadChecksum(json, layer));
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  test('single-byte chunks', () => {
    const json = text('j');
    const layer = text('layer bytes');
    const hasher = new PayloadHasher(json);
    for (const byte of layer) hasher.update(new Uint8Array([byte]));
    expect(hasher.digest()).toBe(payloadChecksum(json, layer));
  });

  test('no update gives the empty-layer value', () => {
    expect(new PayloadHasher(text('test')).digest()).toBe(
      'sha256:f2ca1bb6c7e907d06dafe4687e579fce76b37e4e93b7605022da52e6ccc26fd2',
    );
  });

  test('is single use', () => {
    const hasher = new PayloadHasher(text(''));
    hasher.digest();
    expect(() => hasher.digest()).toThrow();
    expect(() => hasher.update(text('x'))).toThrow();
  });
});

describe('parseStoredChecksums', () => {
  const sum = 'sha256:01ba4719c80b6fe911b091a7c05124b64eeece964e09c058ef8f9805daca546b';

  test('JSON list', () => {
    expect(parseStoredChecksums(JSON.stringify([sum]))).toEqual([sum]);
    expect(parseStoredChecksums(`["${sum}", "tarsum+sha256:ab"]`)).toEqual([
      sum,
      'tarsum+sha256:ab',
    ]);
    expect(parseStoredChecksums('[]')).toEqual([]);
  });

  test('non-string list elements are ignored', () => {
    expect(parseStoredChecksums(`[1, null, "${sum}"]`)).toEqual([sum]);
  });

  test('legacy raw text is a one-element list, unchanged', () => {
    expect(parseStoredChecksums(sum)).toEqual([sum]);
    expect(parseStoredChecksums('tarsum+sha256:abc\n')).toEqual(['tarsum+sha256:abc\n']);
    expect(parseStoredChecksums('')).toEqual(['']);
  });

  test('a JSON string is one element', () => {
    expect(parseStoredChecksums(JSON.stringify(sum))).toEqual([sum]);
  });

  test('other JSON values are kept as raw text', () => {
    expect(parseStoredChecksums('42')).toEqual(['42']);
    expect(parseStoredChecksums('{"a":1}')).toEqual(['{"a":1}']);
  });
});
