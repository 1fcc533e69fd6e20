/**
 * Errors are values from one catalogue (src/errors.ts) rendered by one function
 * (src/http/errors.ts): every code is used somewhere in src, and no other module builds a V1
 * error body.
 */
import { expect, test } from 'bun:test';
import { Glob } from 'bun';
import { join } from 'node:path';
import { catalogue } from '../../src/errors.ts';
import { errorReply } from '../../src/http/errors.ts';

const SRC = join(import.meta.dir, '..', '..', 'src');
const sources = await Promise.all(
  [...new Glob('**/*.ts').scanSync(SRC)].map(async (f) => ({ file: f, text: await Bun.file(join(SRC, f)).text() })),
);

test('every catalogue code is used outside the catalogue', () => {
  const unused = Object.keys(catalogue).filter(
    (code) => !sources.some(({ file, text }) => file !== 'errors.ts' && new RegExp(`\\b${code}\\b`).test(text)),
  );
  expect(unused).toEqual([]);
});

test('only http/errors.ts builds `{"error": ...}` bodies', () => {
  const builders = sources
    .filter(({ file, text }) => file !== 'http/errors.ts' && /(Reply|Response|\.json)\(\s*(\{\s*["']?error["']?\s*:|['"`]\{\s*"error")/.test(text))
    .map(({ file }) => file);
  expect(builders).toEqual([]);
});

test('a bare catalogue entry is sent as the JSON string, with no detail', async () => {
  const r = errorReply('USERNAME_TAKEN', { detail: 'ignored' });
  expect(r.status).toBe(400);
  expect(await r.json()).toBe(catalogue.USERNAME_TAKEN.message);
});

test('a HEAD error reply keeps status and headers, without a body', async () => {
  const get = errorReply('BAD_PATH_ENCODING');
  const head = errorReply('BAD_PATH_ENCODING', { head: true });
  expect(head.status).toBe(400);
  expect([...head.headers]).toEqual([...get.headers]);
  expect(await head.text()).toBe('');
});
