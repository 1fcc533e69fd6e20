/** The token secret: configured, or generated once in <storage_path>/token.secret (0600) and shared. */
import { afterEach, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync, statSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteMetaStore } from '../../src/db/sqlite/store.ts';
import { AuthService } from '../../src/services/auth.ts';
import { tokenSecret } from '../../src/services/token-secret.ts';
import { makeApp } from '../helpers/app.ts';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'registry-secret-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

test('a configured secret is used as is, nothing written', () => {
  const dir = tempDir();
  expect(tokenSecret('configured', dir)).toBe('configured');
  expect(readdirSync(dir)).toEqual([]);
});

test('generated once: 32 random bytes (hex), mode 0600, the same on every later call, no temp files left', () => {
  const dir = join(tempDir(), 'not-yet-created');
  const a = tokenSecret('', dir);
  expect(a).toMatch(/^[0-9a-f]{64}$/);
  expect(statSync(join(dir, 'token.secret')).mode & 0o777).toBe(0o600);
  expect(tokenSecret('', dir)).toBe(a);
  expect(readFileSync(join(dir, 'token.secret'), 'utf8').trim()).toBe(a);
  expect(readdirSync(dir)).toEqual(['token.secret']);
});

test('two services on one storage directory agree: a token from one verifies in the other', () => {
  const dir = tempDir();
  const m1 = SqliteMetaStore.open(':memory:');
  const m2 = SqliteMetaStore.open(':memory:');
  const one = new AuthService(m1, { secret: tokenSecret('', dir), ttl: 60, anonymousRead: true });
  const two = new AuthService(m2, { secret: tokenSecret('', dir), ttl: 60, anonymousRead: true });
  const token = one.issueToken({ namespace: 'a', name: 'b' }, 'write');
  expect(two.verifyToken(token, 'write').repository).toBe('a/b');
  const other = new AuthService(m2, { secret: tokenSecret('', tempDir()), ttl: 60, anonymousRead: true });
  expect(() => other.verifyToken(token, 'write')).toThrow('Requires authorization');
  m1.close();
  m2.close();
});

test('processes starting at once all end up with the same secret', async () => {
  const dir = tempDir();
  const script = `import { tokenSecret } from ${JSON.stringify(join(import.meta.dir, '../../src/services/token-secret.ts'))};
    console.log(tokenSecret('', process.env.SECRET_DIR ?? ''));`;
  const procs = Array.from({ length: 6 }, () =>
    Bun.spawn([process.execPath, '-e', script], { env: { ...process.env, SECRET_DIR: dir }, stdout: 'pipe', stderr: 'inherit' }),
  );
  const outs = await Promise.all(procs.map(async (p) => (await new Response(p.stdout).text()).trim()));
  expect(new Set(outs).size).toBe(1);
  expect(outs[0]).toMatch(/^[0-9a-f]{64}$/);
  expect(readdirSync(dir)).toEqual(['token.secret']);
}, 30_000);

test('an app in token mode without token_secret creates the file under storage_path', () => {
  const dir = tempDir();
  const app = makeApp({ auth: 'token', storage_path: dir });
  expect(statSync(join(dir, 'token.secret')).isFile()).toBe(true);
  app.close();
  const open = makeApp({ auth: 'open', storage_path: join(dir, 'open') });
  expect(() => statSync(join(dir, 'open', 'token.secret'))).toThrow();
  open.close();
});
