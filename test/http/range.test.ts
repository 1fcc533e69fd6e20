import { describe, expect, test } from 'bun:test';
import { parseRange } from '../../src/http/range.ts';

describe('parseRange', () => {
  const cases: [string | null, number, ReturnType<typeof parseRange>][] = [
    [null, 10, { kind: 'full' }],
    ['bytes=0-4', 10, { kind: 'partial', start: 0, end: 4 }],
    ['bytes=0-0', 10, { kind: 'partial', start: 0, end: 0 }],
    ['bytes=5-5', 10, { kind: 'partial', start: 5, end: 5 }],
    ['bytes=3-', 10, { kind: 'partial', start: 3, end: 9 }],
    ['bytes=-3', 10, { kind: 'partial', start: 7, end: 9 }],
    ['bytes=-30', 10, { kind: 'partial', start: 0, end: 9 }],
    ['bytes=2-99', 10, { kind: 'partial', start: 2, end: 9 }],
    ['BYTES=1-2', 10, { kind: 'partial', start: 1, end: 2 }],
    ['bytes=10-', 10, { kind: 'unsatisfiable' }],
    ['bytes=10-20', 10, { kind: 'unsatisfiable' }],
    ['bytes=-0', 10, { kind: 'unsatisfiable' }],
    ['bytes=0-', 0, { kind: 'unsatisfiable' }],
    ['bytes=-5', 0, { kind: 'unsatisfiable' }],
    ['bytes=5-2', 10, { kind: 'full' }],
    ['bytes=0-1,3-4', 10, { kind: 'full' }],
    ['bytes=-', 10, { kind: 'full' }],
    ['items=0-1', 10, { kind: 'full' }],
    ['bytes=a-b', 10, { kind: 'full' }],
    ['bytes=99999999999999999999-', 10, { kind: 'full' }],
  ];
  for (const [header, size, want] of cases) {
    test(`${header} of ${size}`, () => expect(parseRange(header, size)).toEqual(want));
  }
});
