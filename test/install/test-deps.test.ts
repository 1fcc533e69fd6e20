/**
 * `npm test` installs what the tests need (scripts/test-deps.sh, run from `pretest`): every system
 * program a test runs or checks for must come from a package in that script's list, and the script
 * must probe for that very program, so that on a bare machine it is installed before the suite.
 * The programs are found by scanning test/**\/*.ts and dev/**\/*.ts (the helpers tests share with
 * the benchmarks): spawn sites, `Bun.which`, system-path constants. A spawn whose program the scan cannot tell fails here until it is explained in
 * INDIRECT, so a new test that runs a new tool fails until its package is listed.
 */
import { describe, expect, test } from 'bun:test';
import { Glob } from 'bun';
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT, SCRIPT, testDeps } from './test-deps-list.ts';

/** what the tests run: their own files and the dev-only helpers they import */
const SOURCE_DIRS = [join(ROOT, 'test'), join(ROOT, 'dev')];

/** system program (a PATH command or an absolute path) → the Debian package that provides it */
const PROVIDED_BY: Record<string, string> = {
  '/usr/bin/chromium': 'chromium',
  '/usr/lib/postgresql/15/bin/initdb': 'postgresql-15',
  '/usr/lib/postgresql/15/bin/postgres': 'postgresql-15',
  runuser: 'util-linux',
  setpriv: 'util-linux',
  mkfifo: 'coreutils',
  test: 'coreutils',
  id: 'coreutils',
  tar: 'tar',
  bzip2: 'bzip2',
  xz: 'xz-utils',
  skopeo: 'skopeo',
  'docker-registry': 'docker-registry',
  '/usr/lib/go-1.23/bin/go': 'golang-1.23-go',
};

/** programs the install step itself needs, so they are there whenever it ran */
const PREREQUISITES: Record<string, string> = {
  bash: 'runs scripts/test-deps.sh',
  'apt-get': 'installs the packages',
};

/**
 * Spawn sites whose command is not written at the call: `file|first argument` → how to find what
 * they run. `wrappers`: functions in that file whose array arguments (or arrow bodies) are
 * commands; `option`: a property callers anywhere in test/ or dev/ fill with a command array; `none`: runs
 * no system program (the reason).
 */
const INDIRECT: Record<string, { wrappers: string[] } | { option: string } | { none: string }> = {
  'dev/postgres.ts|cmd': { wrappers: ['run', 'asPostgres'] },
  'test/helpers/supervisor.ts|options.command': { option: 'command' },
  'test/build/binary.test.ts|binary': { none: 'the registry binary the test compiled' },
};

/** Source without comments (a commented-out spawn runs nothing; `//` inside strings is kept). */
function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
}

/** `[ 'x'` / `[process.execPath` / `[IDENT` at the start of a command array, as written */
function firstElement(text: string, at: number): { kind: 'literal' | 'bun' | 'ident' | 'other'; value: string } {
  const rest = text.slice(at);
  let m = /^\[\s*'([^']+)'/.exec(rest);
  if (m) return { kind: 'literal', value: m[1]! };
  if (/^\[\s*process\.execPath\b/.test(rest)) return { kind: 'bun', value: 'process.execPath' };
  m = /^\[\s*([A-Za-z_$][\w$]*)!?\s*[,\]]/.exec(rest);
  if (m) return { kind: 'ident', value: m[1]! };
  m = /^(\[?[\w$.]+\]?)/.exec(rest);
  return { kind: 'other', value: m ? m[1]! : rest.slice(0, 20) };
}

interface Scan {
  /** program → where it is used */
  programs: Map<string, string[]>;
  /** sites whose program could not be told */
  unresolved: string[];
  /** the tests read the TarSum fixtures */
  tarsumFixtures: string[];
}

/** What the test sources run: `files` maps a path relative to the root to its text. */
function scan(files: Map<string, string>): Scan {
  const result: Scan = { programs: new Map(), unresolved: [], tarsumFixtures: [] };
  const add = (program: string, where: string) => {
    const list = result.programs.get(program) ?? [];
    list.push(where);
    result.programs.set(program, list);
  };
  const sources = new Map([...files].map(([f, t]) => [f, stripComments(t)]));

  for (const [file, text] of sources) {
    // constants naming a system directory or program: '/usr/bin/x', '/usr/lib/postgresql/15/bin'
    const dirs = new Map<string, string>();
    for (const m of text.matchAll(/const\s+(\w+)\s*(?::\s*\w+\s*)?=\s*'((?:\/usr)?\/s?bin\/[^'\s]+|\/usr\/lib\/[^'\s]*\/s?bin(?:\/[^'\s]+)?)'/g)) {
      if (/\/s?bin$/.test(m[2]!)) dirs.set(m[1]!, m[2]!);
      else add(m[2]!, `${file}: const ${m[1]}`);
    }
    for (const [name, dir] of dirs) {
      const programs = [...text.matchAll(new RegExp(`join\\(\\s*${name}\\s*,\\s*'([^']+)'`, 'g'))].map((m) => `${dir}/${m[1]}`);
      if (programs.length === 0) result.unresolved.push(`${file}: ${name} = '${dir}' with no join(${name}, '…')`);
      for (const p of programs) add(p, `${file}: join(${name}, …)`);
    }

    // Bun.which('x'), or Bun.which(v) inside `for (const v of ['x', 'y'])`
    for (const m of text.matchAll(/Bun\.which\(\s*([^)]*?)\s*\)/g)) {
      const arg = m[1]!;
      const literal = /^'([^']+)'$/.exec(arg);
      if (literal) {
        add(literal[1]!, `${file}: Bun.which`);
        continue;
      }
      const loop = new RegExp(`for\\s*\\(\\s*const\\s+${arg}\\s+of\\s+\\[([^\\]]*)\\]`).exec(text);
      const names = loop ? [...loop[1]!.matchAll(/'([^']+)'/g)].map((n) => n[1]!) : [];
      if (names.length === 0) result.unresolved.push(`${file}: Bun.which(${arg})`);
      for (const n of names) add(n, `${file}: Bun.which`);
    }

    // spawn sites
    for (const m of text.matchAll(/\bspawn(?:Sync)?\(\s*/g)) {
      const first = firstElement(text, m.index + m[0].length);
      const where = `${file}: spawn(${first.value}`;
      if (first.kind === 'bun') continue;
      if (first.kind === 'literal') {
        add(first.value, where);
        continue;
      }
      // a variable set from Bun.which here, or imported from a test helper (scanned on its own)
      if (first.kind === 'ident') {
        if (new RegExp(`const\\s+${first.value}\\b[^=]*=\\s*Bun\\.which\\(`).test(text)) continue;
        const from = new RegExp(`import\\s*\\{[^}]*\\b${first.value}\\b[^}]*\\}\\s*from\\s*'(\\.[^']+)'`).exec(text);
        if (from) {
          const helper = relative(ROOT, join(ROOT, file, '..', from[1]!));
          if (sources.get(helper)?.includes('Bun.which(')) continue;
        }
      }
      const key = `${file}|${first.value}`;
      const how = INDIRECT[key];
      if (how === undefined) {
        result.unresolved.push(`${where}: what does it run? (explain it in INDIRECT as '${key}')`);
      } else if ('wrappers' in how) {
        for (const w of how.wrappers) {
          // arrow wrappers that prefix a command: const w = (cmd: string[]) => ['runuser', …, ...cmd]
          for (const d of text.matchAll(new RegExp(`const\\s+${w}\\s*=\\s*\\([^)]*\\)\\s*(?::[^=]+)?=>\\s*`, 'g'))) {
            const prefix = firstElement(text, d.index + d[0].length);
            if (prefix.kind === 'literal') add(prefix.value, `${file}: ${w}`);
          }
          for (const c of text.matchAll(new RegExp(`\\b${w}\\(\\s*`, 'g'))) {
            const at = c.index + c[0].length;
            const arg = firstElement(text, at);
            const after = text.slice(at);
            if (arg.kind === 'literal') add(arg.value, `${file}: ${w}(`);
            // process.execPath, a system-dir join (found above), another wrapper, or the wrapper's own parameter list
            else if (arg.kind === 'bun' || /^\[\s*join\(/.test(after) || how.wrappers.some((o) => after.startsWith(`${o}(`))) continue;
            else if (!/^[\w$]+\s*:/.test(after)) result.unresolved.push(`${file}: ${w}(${arg.value}`);
          }
        }
      } else if ('option' in how) {
        for (const [other, otherText] of sources) {
          for (const c of otherText.matchAll(new RegExp(`\\b${how.option}:\\s*`, 'g'))) {
            const arg = firstElement(otherText, c.index + c[0].length);
            if (arg.kind === 'literal') add(arg.value, `${other}: ${how.option}:`);
            else if (arg.kind !== 'bun') result.unresolved.push(`${other}: ${how.option}: ${arg.value}`);
          }
        }
      }
    }

    if (/'tarsum-testdata'/.test(text)) result.tarsumFixtures.push(file);
  }
  return result;
}

async function testSources(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const dir of SOURCE_DIRS) {
    for (const f of new Glob('**/*.ts').scanSync(dir)) {
      const path = relative(ROOT, join(dir, f));
      if (path === relative(ROOT, import.meta.path)) continue; // this file's tables are not uses
      files.set(path, await Bun.file(join(dir, f)).text());
    }
  }
  return files;
}

describe('scripts/test-deps.sh names every system package a test needs', async () => {
  const deps = await testDeps();
  const found = scan(await testSources());
  // apt-get installs both kinds (backports: after enabling the release's backports suite)
  const installed = new Map(deps.filter((d) => d.how === 'install' || d.how === 'backports').map((d) => [d.pkg, d]));

  test('every spawn and Bun.which in test/ and dev/ is understood', () => {
    expect(found.unresolved).toEqual([]);
  });

  test('every program a test runs comes from a listed package that the script probes for', () => {
    const problems: string[] = [];
    for (const [program, where] of found.programs) {
      if (program in PREREQUISITES) continue;
      const pkg = PROVIDED_BY[program];
      if (pkg === undefined) {
        problems.push(`${program} (${where[0]}): add its package to scripts/test-deps.sh and to PROVIDED_BY here`);
      } else if (!installed.has(pkg)) {
        problems.push(`${program} (${where[0]}): package ${pkg} is not in the install list of scripts/test-deps.sh`);
      } else if (!installed.get(pkg)!.probes.includes(program)) {
        problems.push(`${program} (${where[0]}): the ${pkg} line of scripts/test-deps.sh does not probe for it, so it is not installed when missing`);
      }
    }
    expect(problems).toEqual([]);
  });

  test('the TarSum fixtures the tests read are unpacked by the script', () => {
    expect(found.tarsumFixtures).not.toEqual([]);
    const unpack = deps.filter((d) => d.how === 'unpack');
    expect(unpack.map((d) => d.pkg)).toEqual(['golang-github-docker-docker-dev']);
    expect(unpack[0]!.probes.every((p) => p.startsWith('.cache/tarsum-testdata/'))).toBe(true);
  });

  test('every listed package is needed by a test, and the tests it names exist', () => {
    const needed = new Set([...found.programs.keys()].map((p) => PROVIDED_BY[p]));
    const stale = [...installed.keys()].filter((pkg) => !needed.has(pkg));
    expect(stale).toEqual([]);
    const missingFiles = deps.flatMap((d) =>
      [...d.neededBy.matchAll(/(?:test|dev)\/[\w./-]+\.ts/g)].map((m) => m[0]).filter((f) => !existsSync(join(ROOT, f))),
    );
    expect(missingFiles).toEqual([]);
  });

  test('npm test runs the script first, and .ci/run installs nothing of its own', async () => {
    const pkg = await Bun.file(join(ROOT, 'package.json')).json();
    expect(pkg.scripts.pretest).toContain(`bash ${relative(ROOT, SCRIPT)}`);
    expect(await Bun.file(join(ROOT, '.ci', 'run')).text()).not.toMatch(/apt-get|apt_install/);
  });
});

describe('the scan itself', () => {
  test('a new tool in a test is found, and an opaque spawn is reported', () => {
    const files = new Map([
      ['test/x/new.test.ts', "Bun.spawn(['wrk', '-t1', url]);\nconst SKOPEO = '/usr/bin/skopeo';\nconst p = Bun.which('nginx');\nBun.spawnSync(args);"],
    ]);
    const found = scan(files);
    expect([...found.programs.keys()].sort()).toEqual(['/usr/bin/skopeo', 'nginx', 'wrk']);
    expect(found.unresolved).toEqual(["test/x/new.test.ts: spawn(args: what does it run? (explain it in INDIRECT as 'test/x/new.test.ts|args')"]);
  });

  test('finds the programs of the current suite', async () => {
    const found = scan(await testSources());
    for (const p of ['/usr/bin/chromium', '/usr/lib/postgresql/15/bin/initdb', '/usr/lib/postgresql/15/bin/postgres', 'runuser', 'setpriv', 'mkfifo', 'tar', 'bzip2', 'xz']) {
      expect(found.programs.has(p)).toBe(true);
    }
    // the PostgreSQL helper lives in dev/: its programs are found there
    expect(found.programs.get('runuser')!.some((where) => where.startsWith('dev/postgres.ts'))).toBe(true);
  });
});
