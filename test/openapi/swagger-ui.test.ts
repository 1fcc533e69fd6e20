/**
 * Swagger UI really renders: the app on a real socket, headless Chromium (Debian's `chromium`,
 * driven by playwright-core) opens /swagger and must show every operation (V1 under five tags, V2 under `v2`),
 * with no request leaving the machine. Leaves a screenshot in .bench-out/swagger-ui.png.
 * Chromium missing is a failure, not a skip: `npm test` installs it (scripts/test-deps.sh).
 */
import { expect, test } from 'bun:test';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { withDocumentApp } from '../../scripts/openapi.ts';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT_DIR = join(import.meta.dir, '..', '..', '.bench-out');
const TAGS = ['images', 'repositories', 'index', 'search', 'ping', 'v2'];

test('Swagger UI renders the V1 and V2 operations in headless Chromium, offline', async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium (bash scripts/test-deps.sh does it; npm test runs it first)`,
    );
  }
  await withDocumentApp(async (_app, fetch) => {
    const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch });
    const base = `http://127.0.0.1:${server.port}`;
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const outside: string[] = [];
      const failed: string[] = [];
      const pageErrors: string[] = [];
      page.on('request', (r) => {
        if (!r.url().startsWith(`${base}/`) && !r.url().startsWith('data:')) outside.push(r.url());
      });
      page.on('requestfailed', (r) => failed.push(`${r.url()}: ${r.failure()?.errorText}`));
      page.on('pageerror', (e) => pageErrors.push(e.message));

      const res = await page.goto(`${base}/swagger`, { waitUntil: 'load' });
      expect(res?.status()).toBe(200);
      await page.waitForSelector('.opblock', { timeout: 30_000 });

      expect(await page.locator('.info .title').first().innerText()).toContain('Docker Registry V1 and OCI Distribution');
      for (const tag of TAGS) expect(await page.locator(`h3.opblock-tag[data-tag="${tag}"]`).count()).toBe(1);
      // every operation is open by tag (docExpansion "list"); ids are operations-<tag>-<operationId>
      // 31 V1 operations, 14 V2 ones and the token endpoint's 2
      expect(await page.locator('.opblock').count()).toBe(47);
      const layerPut = page.locator('#operations-images-putImageLayer');
      await expect(layerPut.locator('.opblock-summary-path').innerText()).resolves.toContain('/v1/images/{id}/layer');
      await expect(layerPut.locator('.opblock-summary-method').innerText()).resolves.toBe('PUT');
      for (const id of ['#operations-images-getImageLayer', '#operations-repositories-listTags', '#operations-index-putRepository', '#operations-search-search', '#operations-ping-ping', '#operations-v2-v2GetBlob', '#operations-v2-v2PutManifest', '#operations-v2-getToken', '#operations-v2-postToken']) {
        expect(`${id}: ${await page.locator(id).count()}`).toBe(`${id}: 1`);
      }

      // open the layer upload: its body is documented as an octet-stream
      await layerPut.locator('.opblock-summary').click();
      await page.waitForSelector('#operations-images-putImageLayer .opblock-body', { timeout: 10_000 });
      expect(await layerPut.locator('.opblock-body').innerText()).toContain('application/octet-stream');

      // and a manifest push: its body may be any of the manifest media types, its errors are V2's
      const manifestPut = page.locator('#operations-v2-v2PutManifest');
      await expect(manifestPut.locator('.opblock-summary-path').innerText()).resolves.toContain('/v2/{name}/manifests/{reference}');
      await manifestPut.locator('.opblock-summary').click();
      await page.waitForSelector('#operations-v2-v2PutManifest .opblock-body', { timeout: 10_000 });
      const manifestBody = await manifestPut.locator('.opblock-body').innerText();
      expect(manifestBody).toContain('application/vnd.oci.image.manifest.v1+json');
      expect(manifestBody).toContain('MANIFEST_BLOB_UNKNOWN');

      mkdirSync(SCREENSHOT_DIR, { recursive: true });
      await page.screenshot({ path: join(SCREENSHOT_DIR, 'swagger-ui.png'), fullPage: true });

      expect(pageErrors).toEqual([]);
      expect(failed).toEqual([]);
      expect(outside).toEqual([]);
    } finally {
      await browser.close();
      await server.stop(true);
    }
  });
}, 120_000);
