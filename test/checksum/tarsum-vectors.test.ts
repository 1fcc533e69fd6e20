/**
 * TarSum known-answer vectors. v1-api.md §3 says the original's TarSum "is the same as Docker
 * tarsum v0"; its three vectors were computed from fixture jsons we cannot obtain, but the same
 * three layer tarballs ship with Docker's own TarSum tests, with Docker's json files and Docker's
 * expected v0 sums (pkg/tarsum/tarsum_test.go). Our implementation must reproduce those exactly,
 * plain and gzip-compressed, and the registry must accept them as a client's X-Docker-Checksum.
 */
import { describe, expect, test } from 'bun:test';
import { tarsum } from '../../src/checksum/tarsum.ts';
import { makeApp } from '../helpers/app.ts';
import { tarsumFixture } from '../helpers/fixtures.ts';
import { gzip, streamOf } from '../helpers/tar.ts';

const VECTORS = [
  ['46af0962ab5afeb5ce6740d4d91652e69206fc991fd5328c1a94d364ad00e457', 'tarsum+sha256:4095cc12fa5fdb1ab2760377e1cd0c4ecdd3e61b4f9b82319d96fcea6c9a41c6'],
  ['511136ea3c5a64f264b78b5433614aec563103b4d4702f3ba7d4d2698e22c158', 'tarsum+sha256:c66bd5ec9f87b8f4c6135ca37684618f486a3dd1d113b138d0a177bfa39c2571'],
  ['xattr', 'tarsum+sha256:07e304a8dbcb215b37649fde1a699f8aeea47e60815707f1cdf4d55d25ff6ab4'],
] as const;

describe('TarSum v0 known-answer vectors (Docker pkg/tarsum testdata)', () => {
  for (const [name, expected] of VECTORS) {
    test(`${name.slice(0, 12)}: plain, gzip, streamed in odd chunks`, async () => {
      const f = await tarsumFixture(name);
      expect(await tarsum(f.json, f.layer)).toBe(expected);
      expect(await tarsum(f.json, gzip(f.layer))).toBe(expected);
      expect(await tarsum(f.json, streamOf(f.layer, 333))).toBe(expected);
      // the json is part of the sum
      expect(await tarsum(new Uint8Array([...f.json, 0x20]), f.layer)).not.toBe(expected);
    });
  }

  test('a client that sends only X-Docker-Checksum (tarsum) completes the image; a wrong one does not', async () => {
    const app = makeApp();
    try {
      for (const [name, expected] of VECTORS) {
        const f = await tarsumFixture(name);
        const { id, parent } = JSON.parse(new TextDecoder().decode(f.json)) as { id: string; parent?: string };
        if (parent) expect((await app.req('PUT', `/v1/images/${parent}/json`, { json: { id: parent } })).status).toBe(200);
        expect((await app.req('PUT', `/v1/images/${id}/json`, { body: f.json })).status).toBe(200);
        expect((await app.req('PUT', `/v1/images/${id}/layer`, { body: f.layer })).status).toBe(200);
        const wrong = await app.req('PUT', `/v1/images/${id}/checksum`, {
          headers: { 'x-docker-checksum': expected.replace(/.$/, (c) => (c === '0' ? '1' : '0')) },
        });
        expect(wrong.status).toBe(400);
        expect(await wrong.json()).toEqual({ error: 'Checksum mismatch' });
        const ok = await app.req('PUT', `/v1/images/${id}/checksum`, { headers: { 'x-docker-checksum': expected } });
        expect(`${name}: ${ok.status}`).toBe(`${name}: 200`);
        const json = await app.req('GET', `/v1/images/${id}/json`);
        expect(json.status).toBe(200);
        expect(Buffer.from(await json.arrayBuffer()).equals(f.json)).toBe(true);
      }
    } finally {
      app.close();
    }
  });
});
