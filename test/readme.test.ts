/** The README lists every setting (its environment variables and YAML key). */
import { expect, test } from 'bun:test';
import { join } from 'node:path';
import { settings } from '../src/config/schema.ts';
import { testDeps } from './install/test-deps-list.ts';

test('every setting is documented in the README', async () => {
  const readme = await Bun.file(join(import.meta.dir, '..', 'README.md')).text();
  const missing: string[] = [];
  for (const [key, spec] of Object.entries(settings)) {
    if (!readme.includes(`| \`${key}\` |`)) missing.push(`YAML key ${key}`);
    for (const env of spec.env) if (!readme.includes(`\`${env}\``)) missing.push(`env ${env}`);
  }
  expect(missing).toEqual([]);
});

test('the quick start names every system package `npm test` installs', async () => {
  const readme = await Bun.file(join(import.meta.dir, '..', 'README.md')).text();
  const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## Settings'));
  const unnamed = (await testDeps()).map((d) => d.pkg).filter((pkg) => !quickStart.includes(`\`${pkg}\``));
  expect(unnamed).toEqual([]);
  expect(quickStart).toContain('scripts/test-deps.sh');
});
