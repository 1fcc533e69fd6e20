/**
 * Layering (../shared/style.md): a module imports only from its own layer or the layers below.
 * errors < config < checksum, layers < storage, db < services < http helpers < routes <
 * http/app < worker, supervisor < main; log sits with config, metrics with the http helpers (its route
 * labels reuse http/canonical-path), ipc (the worker–supervisor protocol, imported by both) with config. Type-only imports are erased and do not count.
 */
import { expect, test } from 'bun:test';
import { Glob } from 'bun';
import { dirname, join, relative, resolve } from 'node:path';

const SRC = join(import.meta.dir, '..', 'src');

function rank(file: string): number {
  const rel = relative(SRC, file);
  if (rel === 'errors.ts') return 0;
  if (rel.startsWith('config/') || rel.startsWith('log/') || rel.startsWith('ipc/')) return 1;
  if (rel.startsWith('checksum/') || rel.startsWith('layers/')) return 2;
  if (rel.startsWith('storage/') || rel.startsWith('db/')) return 3;
  if (rel.startsWith('services/')) return 4;
  if (rel === 'http/app.ts') return 7;
  if (rel.startsWith('http/') || rel.startsWith('metrics/')) return 5;
  if (rel.startsWith('routes/')) return 6;
  if (rel.startsWith('worker/') || rel.startsWith('supervisor/')) return 8;
  if (rel === 'main.ts') return 9;
  throw new Error(`no layer assigned to src/${rel}: add it to test/architecture.test.ts`);
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
