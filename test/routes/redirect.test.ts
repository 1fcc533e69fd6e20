/**
 * STORAGE_REDIRECT: a driver that can hand out URLs (S3 later) makes layer GETs a 302; the
 * built-in drivers cannot, so the setting leaves them streaming.
 */
import { expect, test } from 'bun:test';
import { MemoryDriver } from '../../src/storage/memory.ts';
import { makeApp, randomHex } from '../helpers/app.ts';
import { upload } from '../helpers/layers.ts';

class UrlDriver extends MemoryDriver {
  override async redirectUrl(key: string): Promise<string | null> {
    return `https://blobs.example.invalid/${key}?sig=1`;
  }
}

test('storage_redirect with a URL-capable driver: 302 to the driver URL, only for complete images', async () => {
  const app = makeApp({ storage_redirect: true }, new UrlDriver());
  try {
    const id = randomHex();
    await upload(app, id, null, 'layer bytes');
    const r = await app.req('GET', `/v1/images/${id}/layer`);
    expect(r.status).toBe(302);
    expect(r.headers.get('location')).toMatch(new RegExp(`^https://blobs\\.example\\.invalid/images/${id}/layer-[0-9a-f]{16}\\?sig=1$`));
    const missing = await app.req('GET', `/v1/images/${randomHex()}/layer`);
    expect(missing.status).toBe(404);
  } finally {
    app.close();
  }
});

test('storage_redirect off, or a driver without URLs: the layer streams', async () => {
  for (const [redirect, driver] of [
    [false, new UrlDriver()],
    [true, new MemoryDriver()],
  ] as const) {
    const app = makeApp({ storage_redirect: redirect }, driver);
    try {
      const id = randomHex();
      await upload(app, id, null, 'layer bytes');
      const r = await app.req('GET', `/v1/images/${id}/layer`);
      expect(r.status).toBe(200);
      expect(await r.text()).toBe('layer bytes');
    } finally {
      app.close();
    }
  }
});
