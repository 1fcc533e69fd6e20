/**
 * Third-party fixtures fetched by scripts/test-deps.sh (run by `npm test` before the suite):
 * Docker's TarSum test data, the same layer tarballs the original docker-registry tested with.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const TARSUM_TESTDATA = join(import.meta.dir, '..', '..', '.cache', 'tarsum-testdata');

export interface TarsumFixture {
  name: string;
  json: Uint8Array;
  layer: Uint8Array;
}

/** Loads one fixture; throws with instructions when the fixtures were not fetched. */
export async function tarsumFixture(name: string): Promise<TarsumFixture> {
  const dir = join(TARSUM_TESTDATA, name);
  if (!existsSync(join(dir, 'layer.tar'))) {
    throw new Error(`missing fixture ${dir}: run scripts/test-deps.sh (needs apt-get)`);
  }
  return {
    name,
    json: new Uint8Array(await Bun.file(join(dir, 'json')).arrayBuffer()),
    layer: new Uint8Array(await Bun.file(join(dir, 'layer.tar')).arrayBuffer()),
  };
}
