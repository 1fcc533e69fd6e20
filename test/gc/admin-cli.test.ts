/**
 * `bun run admin -- gc` as a real process on a registry's STORAGE_PATH (SQLite + fs storage):
 * the dry run lists and deletes nothing, the run deletes exactly that and frees those bytes,
 * --json, the lease held elsewhere (refused, or waited for), and bad options.
 */
import { afterEach, describe, expect, test } from 'bun:test';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { hex } from '../../dev/ids.ts';
import { createApp } from '../../src/app/app.ts';
import { createFetch } from '../../src/app/fetch.ts';
import { loadConfig } from '../../src/config/load.ts';
import { SqliteMetaStore } from '../../src/db/sqlite/store.ts';
import { createStorage, storageConfigOf } from '../../src/storage/factory.ts';
import { payload } from '../helpers/v1-push.ts';
import { useTempDirs } from '../helpers/temp-dirs.ts';

const ROOT = join(import.meta.dir, '..', '..');
const tempDir = useTempDirs('registry-gc-cli-');
let open: SqliteMetaStore[] = [];
afterEach(() => {
  for (const m of open) m.close();
  open = [];
});

async function admin(dir: string, args: string[]) {
  const proc = Bun.spawn([process.execPath, join(ROOT, 'scripts', 'admin.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, STORAGE_PATH: dir, REGISTRY_DB: '', REGISTRY_CONFIG: '', STORAGE: 'local' },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

/** A registry's data in `dir`: a kept V1 image and an untagged one, a kept V2 blob and a lonely one. */
async function registryData(dir: string) {
  const config = loadConfig({ env: { STORAGE_PATH: dir, STORAGE: 'local' } });
  const meta = SqliteMetaStore.open(join(dir, 'registry.db'));
  open.push(meta);
  const storage = createStorage(storageConfigOf(config));
  const fetch = createFetch(createApp({ config, meta, storage }));
  const req = (method: string, path: string, body?: string) => fetch(new Request(`http://localhost${path}`, { method, body, headers: { 'user-agent': 'docker/1.6.2', 'x-docker-checksum-payload': '' } }));
  const push = async (id: string, layer: string) => {
    const json = JSON.stringify({ id });
    expect((await req('PUT', `/v1/images/${id}/json`, json)).status).toBe(200);
    expect((await req('PUT', `/v1/images/${id}/layer`, layer)).status).toBe(200);
    const r = await fetch(new Request(`http://localhost/v1/images/${id}/checksum`, { method: 'PUT', headers: { 'user-agent': 'docker/1.6.2', 'x-docker-checksum-payload': payload(json, layer) } }));
    expect(r.status).toBe(200);
  };
  const [kept, dropped] = [hex(64), hex(64)];
  await push(kept, 'kept layer');
  await push(dropped, 'dropped layer');
  expect((await req('PUT', '/v1/repositories/team/app/tags/latest', JSON.stringify(kept))).status).toBe(200);
  const lonely = 'a blob no manifest names';
  const digest = `sha256:${new Bun.CryptoHasher('sha256').update(lonely).digest('hex')}`;
  expect((await req('POST', `/v2/team/app/blobs/uploads/?digest=${digest}`, lonely)).status).toBe(201);
  await Bun.sleep(5);
  const layerOf = async (id: string) => join(dir, (await meta.getImage(id))!.layerKey!);
  const blobFile = join(dir, (await meta.getBlob(digest))!.key);
  return { meta, kept, dropped, digest, files: { kept: await layerOf(kept), dropped: await layerOf(dropped), blob: blobFile }, bytes: 'dropped layer'.length + lonely.length };
}

describe('bun run admin -- gc', () => {
  test('--dry-run lists what would go and deletes nothing; the run then deletes exactly that', async () => {
    const dir = tempDir();
    const data = await registryData(dir);
    const dry = await admin(dir, ['gc', '--dry-run', '--grace', '0']);
    expect(dry.stderr).toBe('');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('dry run: nothing deleted');
    expect(dry.stdout).toMatch(/images\s+1\n/);
    expect(dry.stdout).toMatch(/blobs\s+1\n/);
    expect(dry.stdout).toContain(`bytes freed  ${data.bytes} `);
    expect(dry.stdout).toContain(`image   ${data.dropped}`);
    expect(dry.stdout).toContain(`blob    ${data.digest}`);
    for (const f of Object.values(data.files)) expect(existsSync(f)).toBe(true);
    expect(await data.meta.getImage(data.dropped)).not.toBeNull();

    const real = await admin(dir, ['gc', '--grace', '0', '--json']);
    expect(real.code).toBe(0);
    const report = JSON.parse(real.stdout);
    expect(report).toMatchObject({ dryRun: false, grace: 0, images: [data.dropped], blobs: [data.digest], bytes: data.bytes, orphans: 0, spared: 0 });
    expect(report.keys.map((k: { key: string }) => join(dir, k.key)).sort()).toEqual([data.files.dropped, data.files.blob].sort());
    expect(existsSync(data.files.kept)).toBe(true);
    expect(existsSync(data.files.dropped)).toBe(false);
    expect(existsSync(data.files.blob)).toBe(false);
    expect(await data.meta.getImage(data.dropped)).toBeNull();
    expect(await data.meta.getImage(data.kept)).not.toBeNull();
  }, 30_000);

  test('the grace period: with the default (gc_grace, an hour) nothing this young goes', async () => {
    const dir = tempDir();
    const data = await registryData(dir);
    const r = await admin(dir, ['gc']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('grace 3600 s');
    expect(r.stdout).toMatch(/images\s+0\n/);
    for (const f of Object.values(data.files)) expect(existsSync(f)).toBe(true);
  }, 30_000);

  test('another collector holding the lease: refused (exit 1, who holds it), or waited for with --wait', async () => {
    const dir = tempDir();
    const data = await registryData(dir);
    await data.meta.acquireLease('gc', 'node-b:123', 60_000);
    let r = await admin(dir, ['gc', '--grace', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('gc skipped: another collector (node-b:123) holds the lease until');
    expect(existsSync(data.files.dropped)).toBe(true);
    setTimeout(() => void data.meta.releaseLease('gc', 'node-b:123'), 1500);
    r = await admin(dir, ['gc', '--grace', '0', '--wait', '20']);
    expect(r.stderr).toContain('gc waiting: another collector (node-b:123)');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`image   ${data.dropped}`);
    expect(existsSync(data.files.dropped)).toBe(false);
  }, 30_000);

  test('bad options are usage errors (exit 2)', async () => {
    const dir = tempDir();
    for (const args of [['gc', '--grace', '-1'], ['gc', '--grace', 'soon'], ['gc', '--wait', '1.5'], ['gc', 'extra'], ['gc', '--force']]) {
      const r = await admin(dir, args);
      expect([args.join(' '), r.code]).toEqual([args.join(' '), 2]);
      expect(r.stderr).toContain('usage:');
    }
  }, 30_000);
});
