import { describe, expect, test } from 'bun:test';
import { computeDiff } from '../../src/layers/diff.ts';
import type { FileEntry } from '../../src/layers/files.ts';

const file = (path: string, deleted = false, size = 0): FileEntry => [
  path,
  'f',
  deleted,
  size,
  0,
  420,
  0,
  0,
];

describe('computeDiff (§5, §7 item 52)', () => {
  test('deleted, changed and created land in their groups', () => {
    const top = [file('/deleted', true), file('/changed', false, 7), file('/created', false, 3)];
    const parent = [file('/deleted'), file('/changed', false, 5), file('/untouched')];
    expect(computeDiff(top, [parent])).toEqual({
      deleted: { '/deleted': ['f', true, 0, 0, 420, 0, 0] },
      changed: { '/changed': ['f', false, 7, 0, 420, 0, 0] },
      created: { '/created': ['f', false, 3, 0, 420, 0, 0] },
    });
  });

  test('a path deleted in an ancestor and present again is created', () => {
    const top = [file('/back')];
    const parent = [file('/back', true)];
    const grandparent = [file('/back')];
    expect(computeDiff(top, [parent, grandparent]).created).toEqual({
      '/back': ['f', false, 0, 0, 420, 0, 0],
    });
  });

  test('the newest ancestor holding the path decides', () => {
    const top = [file('/a'), file('/b'), file('/c'), file('/d')];
    const parent = [file('/a'), file('/b', true)];
    const grandparent = [file('/a', true), file('/b'), file('/c', true)];
    const root = [file('/c'), file('/d')];
    const diff = computeDiff(top, [parent, grandparent, root]);
    expect(Object.keys(diff.changed)).toEqual(['/a', '/d']); // parent has /a; only root has /d
    // parent deleted /b; grandparent deleted /c
    expect(Object.keys(diff.created)).toEqual(['/b', '/c']);
    expect(Object.keys(diff.deleted)).toEqual([]);
  });

  test('a path deleted in the top layer is deleted whatever the ancestors hold', () => {
    const top = [file('/gone', true), file('/never-existed', true)];
    const diff = computeDiff(top, [[file('/gone')], [file('/gone', true)]]);
    expect(Object.keys(diff.deleted)).toEqual(['/gone', '/never-existed']);
    expect(diff.changed).toEqual({});
    expect(diff.created).toEqual({});
  });

  test('with no ancestors everything is created, except deletions', () => {
    const diff = computeDiff([file('/x'), file('/y', true)], []);
    expect(Object.keys(diff.created)).toEqual(['/x']);
    expect(Object.keys(diff.deleted)).toEqual(['/y']);
  });

  test('the info is the top layer row without its path', () => {
    const top: FileEntry[] = [['/bin', 'd', false, 0, 1_400_000_000, 493, 0, 0]];
    const parent: FileEntry[] = [['/bin', 'd', false, 0, 1, 448, 5, 5]];
    const info = computeDiff(top, [parent]).changed['/bin'];
    expect(info).toEqual(['d', false, 0, 1_400_000_000, 493, 0, 0]);
  });

  test('a repeated path: the last row of a listing wins', () => {
    const top = [file('/dup', false, 1), file('/dup', false, 2)];
    const parent = [file('/dup'), file('/dup', true)];
    const diff = computeDiff(top, [parent]);
    expect(diff.created).toEqual({ '/dup': ['f', false, 2, 0, 420, 0, 0] });
    expect(diff.changed).toEqual({});
  });

  test('empty top layer gives empty groups; JSON shape is E10', () => {
    const diff = computeDiff([], [[file('/a')]]);
    expect(JSON.stringify(diff)).toBe('{"deleted":{},"changed":{},"created":{}}');
    const top = [file('/__proto__'), file('/constructor', true)];
    const full = computeDiff(top, [[file('/__proto__')]]);
    expect(JSON.parse(JSON.stringify(full))).toEqual({
      deleted: { '/constructor': ['f', true, 0, 0, 420, 0, 0] },
      changed: { '/__proto__': ['f', false, 0, 0, 420, 0, 0] },
      created: {},
    });
  });
});
