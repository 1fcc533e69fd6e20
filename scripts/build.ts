/**
 * `bun run build`: compiles src/main.ts into one executable (default dist/registry) holding the
 * Bun runtime, the bundled app and its dependencies, and the database migrations (inlined by the
 * macro of src/db/migration-files.ts). The executable runs the supervisor, which re-executes the
 * executable itself with the `worker` argument for each worker (see workerCommand in src/main.ts).
 *
 *   bun scripts/build.ts [--outfile <path>] [--target <bun-os-arch[-variant]>]
 *
 * --target defaults to this machine (bun-linux-x64 on x86-64 Linux; that build needs AVX2, use
 * bun-linux-x64-baseline for older CPUs). Other targets make Bun download that runtime once.
 */
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = join(import.meta.dir, '..');

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    outfile: { type: 'string', default: join(ROOT, 'dist', 'registry') },
    target: { type: 'string', default: `bun-${process.platform}-${process.arch}` },
  },
  strict: true,
});
const outfile = resolve(values.outfile);
const target = values.target as Bun.Build.CompileTarget;

const started = performance.now();
const result = await Bun.build({
  entrypoints: [join(ROOT, 'src', 'main.ts')],
  compile: {
    target,
    outfile,
    // Same settings as `bun src/main.ts` in production: environment and the config file only.
    // A .env or bunfig.toml lying in the working directory must not change a release binary.
    autoloadDotenv: false,
    autoloadBunfig: false,
    autoloadTsconfig: false,
    autoloadPackageJson: false,
  },
  // esm: main.ts awaits at top level (bytecode builds default to cjs, which cannot).
  format: 'esm',
  bytecode: true,
  minify: { whitespace: true, syntax: true, identifiers: true, keepNames: true },
  // The map is embedded in the executable (stack traces name src/*.ts lines); Bun also writes it
  // beside the executable, where nothing needs it.
  sourcemap: 'linked',
  throw: false,
});

for (const log of result.logs) console.error(log);
if (!result.success) {
  console.error('build: failed');
  process.exit(1);
}
for (const out of result.outputs) if (out.kind === 'sourcemap') rmSync(out.path, { force: true });

const size = Bun.file(outfile).size;
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(`build: ${outfile} (${target}, ${(size / 1024 / 1024).toFixed(1)} MiB) in ${seconds}s`);
