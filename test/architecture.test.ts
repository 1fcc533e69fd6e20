/**
 * Layering (../shared/style.md): a module imports only from its own layer or the layers below,
 * by folder, with no exceptions:
 * errors, domain, os < config, log, ipc < checksum, layers < storage, db, upstream < services < http (helpers) < metrics <
 * routes < app (the composition root) < worker, supervisor < main. Type-only imports are erased
 * and do not count.
 */
import { expect, test } from 'bun:test';
import { Glob } from 'bun';
import { dirname, join, relative, resolve } from 'node:path';

const SRC = join(import.meta.dir, '..', 'src');

const LAYERS: readonly (readonly string[])[] = [
  // domain: the rules of what an image id is, pure, below every layer that applies them;
  // os: the libc calls Bun has no API for (bun:ffi), for storage and db;
  // each-limited.ts: bounded concurrency, for the I/O layers and services
  ['errors.ts', 'each-limited.ts', 'domain', 'os'],
  // ipc: the worker–supervisor protocol, imported by both
  ['config', 'log', 'ipc'],
  ['checksum', 'layers'],
  // upstream: the mirror's HTTP client to another registry, an I/O adapter like the stores
  ['storage', 'db', 'upstream'],
  ['services'],
  ['http'],
  ['metrics'],
  ['routes'],
  ['app'],
  ['worker', 'supervisor'],
  ['main.ts'],
];

function rank(file: string): number {
  const rel = relative(SRC, file);
  const top = rel.split('/')[0]!;
  const i = LAYERS.findIndex((layer) => layer.includes(top));
  if (i === -1) throw new Error(`no layer assigned to src/${rel}: add it to test/architecture.test.ts`);
  return i;
}

const transpiler = new Bun.Transpiler({ loader: 'ts' });
const files = [...new Glob('**/*.ts').scanSync(SRC)].map((f) => join(SRC, f));

test('every source file has a layer', () => {
  expect(files.length).toBeGreaterThan(20);
  for (const f of files) expect(() => rank(f)).not.toThrow();
});

test('no module imports from a layer above it', async () => {
  const violations: string[] = [];
  for (const file of files) {
    const imports = transpiler.scanImports(await Bun.file(file).text());
    for (const imp of imports) {
      if (!imp.path.startsWith('.')) continue;
      const target = resolve(dirname(file), imp.path);
      if (rank(target) > rank(file)) violations.push(`${relative(SRC, file)} → ${relative(SRC, target)}`);
    }
  }
  expect(violations).toEqual([]);
});

test('the supervisor never imports the HTTP stack or the stores, not even through another module', async () => {
  const violations: string[] = [];
  const seen = new Set<string>();
  // every module the supervisor loads: its own files, then what they import, transitively
  const queue = files.filter((f) => relative(SRC, f).startsWith('supervisor/')).map((f) => ({ file: f, via: relative(SRC, f) }));
  while (queue.length > 0) {
    const { file, via } = queue.shift()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const imp of transpiler.scanImports(await Bun.file(file).text())) {
      const target = imp.path.startsWith('.') ? relative(SRC, resolve(dirname(file), imp.path)) : imp.path;
      if (/^(http|routes|services|storage|db|worker)\//.test(target) || imp.path === 'elysia') {
        violations.push(`${via} → ${imp.path}`);
      } else if (imp.path.startsWith('.')) {
        queue.push({ file: join(SRC, target), via: `${via} → ${target}` });
      }
    }
  }
  expect(violations).toEqual([]);
});

test('routes never reach storage or SQL directly', async () => {
  const violations: string[] = [];
  for (const file of files.filter((f) => relative(SRC, f).startsWith('routes/'))) {
    const text = await Bun.file(file).text();
    for (const imp of transpiler.scanImports(text)) {
      const target = relative(SRC, resolve(dirname(file), imp.path));
      if (target.startsWith('storage/') || target.startsWith('db/') || imp.path === 'bun:sqlite') {
        violations.push(`${relative(SRC, file)} → ${imp.path}`);
      }
    }
    if (/Bun\.file\(|node:fs/.test(text)) violations.push(`${relative(SRC, file)} touches files`);
  }
  expect(violations).toEqual([]);
});
