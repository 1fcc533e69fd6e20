/**
 * A storage sandbox for hostile-input tests: a temp PARENT directory holding `storage/` (the
 * STORAGE_PATH the app's FsDriver is rooted in) and canaries beside it (`canary.txt`, a
 * `storage-evil/` sibling whose name shares the storage prefix, `etc/passwd`). `outside()`
 * snapshots everything in the parent except `storage/` (path, size, mtime, content hash), so a
 * before/after comparison shows any file created, modified or deleted outside STORAGE_PATH;
 * `storageFiles()` lists what is inside it.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CANARY_TEXT = 'canary: must never be served, modified or deleted\n';

export interface Sandbox {
  parent: string;
  storagePath: string;
  /** `path size mtime sha256` for every entry of the parent outside storage/ */
  outside(): string[];
  /** every file under storage/, relative */
  storageFiles(): string[];
  remove(): void;
}

function walk(root: string, rel: string, skip: string | null, out: string[], withMeta: boolean): void {
  for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (r === skip) continue;
    const abs = join(root, r);
    if (e.isDirectory()) {
      if (withMeta) out.push(`${r}/ dir`);
      walk(root, r, skip, out, withMeta);
    } else if (withMeta) {
      const st = statSync(abs);
      const hash = new Bun.CryptoHasher('sha256').update(readFileSync(abs)).digest('hex');
      out.push(`${r} ${st.size} ${st.mtimeMs} ${hash}`);
    } else {
      out.push(r);
    }
  }
}

export function makeSandbox(label: string): Sandbox {
  const parent = mkdtempSync(join(tmpdir(), `registry-${label}-`));
  const storagePath = join(parent, 'storage');
  mkdirSync(storagePath);
  writeFileSync(join(parent, 'canary.txt'), CANARY_TEXT);
  mkdirSync(join(parent, 'storage-evil'));
  writeFileSync(join(parent, 'storage-evil', 'layer'), CANARY_TEXT);
  mkdirSync(join(parent, 'etc'));
  writeFileSync(join(parent, 'etc', 'passwd'), CANARY_TEXT);
  return {
    parent,
    storagePath,
    outside() {
      const out: string[] = [];
      walk(parent, '', 'storage', out, true);
      return out.sort();
    },
    storageFiles() {
      const out: string[] = [];
      walk(storagePath, '', null, out, false);
      return out.sort();
    },
    remove() {
      rmSync(parent, { recursive: true, force: true });
    },
  };
}

/** Keys the registry may create in storage (src/storage/paths.ts) plus fs temp files. */
export const STORAGE_LAYOUT =
  /^(images\/([a-f0-9]{16}|[a-f0-9]{64})\/layer-[a-f0-9]{16}|blobs\/(sha256\/[a-f0-9]{64}|sha512\/[a-f0-9]{128})(-[a-f0-9]{16})?|uploads\/[a-f0-9]{32}\/\d+|mirror\/v1\/(tags|images|json)\/[a-f0-9]{64}|\.tmp\/[^/]+)$/;
