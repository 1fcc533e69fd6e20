/** scripts/admin.ts as real processes against a temporary STORAGE_PATH. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteMetaStore } from '../../src/db/sqlite/store.ts';

const ROOT = join(import.meta.dir, '..', '..');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'registry-admin-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function admin(args: string[], stdin?: string, env: Record<string, string> = {}) {
  const proc = Bun.spawn([process.execPath, join(ROOT, 'scripts', 'admin.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, STORAGE_PATH: dir, REGISTRY_DB: '', REGISTRY_CONFIG: '', ...env },
    stdin: stdin === undefined ? 'ignore' : new TextEncoder().encode(stdin),
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

/** Reads the database the way the server would (the file under STORAGE_PATH). */
async function user(name: string) {
  const meta = SqliteMetaStore.open(join(dir, 'registry.db'));
  try {
    return await meta.getUser(name);
  } finally {
    meta.close();
  }
}

describe('bun scripts/admin.ts', () => {
  test('user add: creates the account (hashed password, email default, admin flag); a taken name exits 1', async () => {
    let r = await admin(['user', 'add', 'alice', '--password', 'pw-1', '--email', 'alice@example.com']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('user alice created');
    let u = await user('alice');
    expect(u).toMatchObject({ email: 'alice@example.com', admin: false });
    expect(await Bun.password.verify('pw-1', u!.passwordHash)).toBe(true);
    r = await admin(['user', 'add', 'rooty', '--password=pw-2', '--admin']);
    expect(r.code).toBe(0);
    u = await user('rooty');
    expect(u).toMatchObject({ email: 'rooty@localhost', admin: true });
    r = await admin(['user', 'add', 'alice', '--password', 'other']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('user alice already exists');
  }, 30_000);

  test('user add: invalid name or missing password are refused', async () => {
    let r = await admin(['user', 'add', 'Bad-Name', '--password', 'x']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('username must be 4 to 30 characters');
    r = await admin(['user', 'add', 'carol']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--password is required');
    expect(await user('carol')).toBeNull();
  }, 30_000);

  test('user passwd: with the flag or one line on stdin; unknown user exits 1', async () => {
    let r = await admin(['user', 'passwd', 'alice', '--password', 'pw-3']);
    expect(r.code).toBe(0);
    expect(await Bun.password.verify('pw-3', (await user('alice'))!.passwordHash)).toBe(true);
    r = await admin(['user', 'passwd', 'alice'], 'pw-4\n');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('password of alice changed');
    expect(await Bun.password.verify('pw-4', (await user('alice'))!.passwordHash)).toBe(true);
    r = await admin(['user', 'passwd', 'nobody', '--password', 'x']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no user nobody');
  }, 30_000);

  test('user admin: on and --off; unknown user exits 1', async () => {
    let r = await admin(['user', 'admin', 'alice']);
    expect(r.code).toBe(0);
    expect((await user('alice'))?.admin).toBe(true);
    r = await admin(['user', 'admin', 'alice', '--off']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('no longer an admin');
    expect((await user('alice'))?.admin).toBe(false);
    expect((await admin(['user', 'admin', 'nobody'])).code).toBe(1);
  }, 30_000);

  test('user del; then it is gone (exit 1 the second time); usage errors exit 2', async () => {
    expect((await admin(['user', 'del', 'alice'])).code).toBe(0);
    expect(await user('alice')).toBeNull();
    expect((await admin(['user', 'del', 'alice'])).code).toBe(1);
    expect((await admin([])).code).toBe(2);
    expect((await admin(['user', 'frob', 'x'])).code).toBe(2);
    expect((await admin(['user', 'del'])).code).toBe(2);
    expect((await admin(['user', 'del', 'x', '--nope'])).code).toBe(2);
  }, 30_000);

  test('repo del: a repository goes with its V1 tags and its V2 manifests, tags and links; unknown exits 1', async () => {
    const meta = SqliteMetaStore.open(join(dir, 'registry.db'));
    const ref = { namespace: 'team', name: 'app/web' };
    const digest = `sha256:${'a'.repeat(64)}`;
    try {
      await meta.putBlob(ref, { digest, size: 2, key: `blobs/sha256/${'a'.repeat(64)}` });
      await meta.putManifest(ref, { digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', content: new Uint8Array([123, 125]), subject: null, artifactType: null, references: [] }, 'v2tag');
      await meta.putTag({ namespace: 'library', name: 'solo' }, { name: 'latest', imageId: 'b'.repeat(64), metadata: '{}' });
    } finally {
      meta.close();
    }
    let r = await admin(['repo', 'del', 'team/app/web']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('repository team/app/web deleted');
    r = await admin(['repo', 'del', 'solo']);
    expect(r.code).toBe(0);
    const after = SqliteMetaStore.open(join(dir, 'registry.db'));
    try {
      expect(await after.listTagNames(ref)).toBeNull();
      expect(await after.getManifest(ref, digest)).toBeNull();
      expect(await after.getLinkedBlob(ref, digest)).toBeNull();
      // the blob's record stays: garbage collection reclaims unreferenced bytes
      expect(await after.getBlob(digest)).not.toBeNull();
      expect(await after.listTags({ namespace: 'library', name: 'solo' })).toBeNull();
    } finally {
      after.close();
    }
    expect((await admin(['repo', 'del', 'team/app/web'])).code).toBe(1);
    expect((await admin(['repo', 'frob', 'x'])).code).toBe(2);
    expect((await admin(['repo', 'del'])).code).toBe(2);
  }, 30_000);

  test('REGISTRY_DB names the database file, as for the server', async () => {
    const db = join(dir, 'elsewhere.db');
    expect((await admin(['user', 'add', 'dave', '--password', 'p'], undefined, { REGISTRY_DB: db })).code).toBe(0);
    const meta = SqliteMetaStore.open(db);
    expect((await meta.getUser('dave'))?.username).toBe('dave');
    meta.close();
    expect(await user('dave')).toBeNull();
  }, 30_000);
});
