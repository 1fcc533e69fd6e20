/** The README lists every setting (its environment variables and YAML key). */
import { expect, test } from 'bun:test';
import { join } from 'node:path';
import { settings } from '../src/config/schema.ts';

test('every setting is documented in the README', async () => {
  const readme = await Bun.file(join(import.meta.dir, '..', 'README.md')).text();
  const missing: string[] = [];
  for (const [key, spec] of Object.entries(settings)) {
    if (!readme.includes(`| \`${key}\` |`)) missing.push(`YAML key ${key}`);
    for (const env of spec.env) if (!readme.includes(`\`${env}\``)) missing.push(`env ${env}`);
  }
  expect(missing).toEqual([]);
});
