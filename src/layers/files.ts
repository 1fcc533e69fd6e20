/**
 * The E9 files listing of a layer (v1-api.md §1 E9), read with the streaming tar reader
 * (./tar.ts).
 */
import { readLayerTar } from './tar.ts';
import type { TarMember } from './tar.ts';

/** One E9 listing row: `[path, type, deleted, size, mtime, mode, uid, gid]`. */
export type FileEntry = [
  path: string,
  type: string,
  deleted: boolean,
  size: number,
  mtime: number,
  mode: number,
  uid: number,
  gid: number,
];

/**
 * The E9 listing of a layer, in archive order. Paths are made absolute (`./x`, `x` → `/x`; `.`,
 * `./` → `/`; trailing slashes dropped), whiteouts `<dir>/.wh.<name>` become `<dir>/<name>` with
 * `deleted: true`, and `.wh..wh.*` metadata entries (and anything under them) are dropped. `mode`
 * is the stored mode field. A 0-byte layer is a valid empty layer and lists as `[]`.
 * Unreadable layers reject with `RegistryError('LAYER_FORMAT')`.
 */
export async function listLayerFiles(
  layer: ReadableStream<Uint8Array> | Uint8Array,
): Promise<FileEntry[]> {
  const files: FileEntry[] = [];
  await readLayerTar(layer, (member) => {
    const entry = toFileEntry(member);
    if (entry !== null) files.push(entry);
  });
  return files;
}

/** Builds the E9 row for a member, or null when the member is union-fs metadata. */
function toFileEntry(member: TarMember): FileEntry | null {
  const where = layerPath(member.name);
  if (where === null) return null;
  return [
    where.path,
    fileTypeLetter(member.typeflag),
    where.deleted,
    member.size,
    member.mtime,
    member.mode,
    member.uid,
    member.gid,
  ];
}

/**
 * Normalises a member name to an absolute path and decodes whiteouts; null for `.wh..wh.*`
 * metadata (or entries beneath such a directory).
 */
export function layerPath(name: string): { path: string; deleted: boolean } | null {
  let rel = name;
  while (rel.startsWith('./')) rel = rel.slice(2);
  rel = rel.replace(/^\/+/, '');
  if (rel === '.') rel = '';
  rel = rel.replace(/\/+$/, '');
  const parts = rel === '' ? [] : rel.split('/');
  if (parts.some((p) => p.startsWith('.wh..wh.'))) return null;
  let deleted = false;
  const last = parts.at(-1);
  if (last !== undefined && last.startsWith('.wh.')) {
    deleted = true;
    const target = last.slice(4);
    if (target === '') parts.pop();
    else parts[parts.length - 1] = target;
  }
  return { path: `/${parts.join('/')}`, deleted };
}

const TYPE_LETTERS: Readonly<Record<string, string>> = {
  '0': 'f',
  '\0': 'f',
  '1': 'l',
  '2': 's',
  '3': 'c',
  '4': 'b',
  '5': 'd',
  '6': 'i',
  '7': 't',
  L: 'L',
  K: 'K',
  S: 'S',
};

/** E9 type letter for a tar typeflag character; `u` when unknown. */
function fileTypeLetter(typeflag: string): string {
  return TYPE_LETTERS[typeflag] ?? 'u';
}
