/** The package list of scripts/test-deps.sh (what `npm test` installs before the suite), parsed. */
import { join } from 'node:path';

export const ROOT = join(import.meta.dir, '..', '..');
export const SCRIPT = join(ROOT, 'scripts', 'test-deps.sh');

export interface TestDep {
  /** install: apt-get install; backports: the same from the release's backports suite; unpack: fixtures */
  how: 'install' | 'backports' | 'unpack';
  pkg: string;
  /** paths or PATH commands whose presence means the package is there */
  probes: string[];
  /** the tests that need it, as written in the script */
  neededBy: string;
}

export async function testDeps(): Promise<TestDep[]> {
  const text = await Bun.file(SCRIPT).text();
  const block = /^PACKAGES='\n([^']*)'$/m.exec(text);
  if (block === null) throw new Error(`no PACKAGES='…' block in ${SCRIPT}`);
  return block[1]!
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [how, pkg, probes, ...rest] = line.trim().split(/\s+/);
      if ((how !== 'install' && how !== 'backports' && how !== 'unpack') || pkg === undefined || probes === undefined || rest.length === 0) {
        throw new Error(`bad line in ${SCRIPT}: ${line}`);
      }
      return { how, pkg, probes: probes.split(','), neededBy: rest.join(' ') };
    });
}
