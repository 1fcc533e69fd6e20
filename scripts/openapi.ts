/**
 * `bun run openapi`: writes openapi.json at the repository root, the OpenAPI document the server
 * serves at /swagger/json, so that every change to the contract shows up in review.
 * test/openapi/document.test.ts fails when the committed file and the served document differ.
 *
 * The app is built in-process (in-memory database and storage) with every optional route module
 * on, and the document is fetched through the same fetch handler servers use.
 */
import { join } from 'node:path';
import { loadConfig } from '../src/config/load.ts';
import { SqliteMetaStore } from '../src/db/sqlite-store.ts';
import { createApp, createFetch, SPEC_PATH } from '../src/http/app.ts';
import { MemoryDriver } from '../src/storage/memory.ts';

export const OPENAPI_FILE = join(import.meta.dir, '..', 'openapi.json');

/** The settings the document is generated with: defaults, index and search routes on. */
export const DOCUMENT_OVERRIDES = { standalone: true, search: true } as const;

/** Builds the app, runs `use` on it and its fetch handler, then closes the database. */
export async function withDocumentApp<T>(
  use: (app: ReturnType<typeof createApp>, fetch: (request: Request) => Promise<Response>) => Promise<T>,
): Promise<T> {
  const meta = SqliteMetaStore.open(':memory:');
  try {
    const config = loadConfig({ env: {}, overrides: DOCUMENT_OVERRIDES });
    const app = createApp({ config, meta, storage: new MemoryDriver() });
    return await use(app, createFetch(app));
  } finally {
    meta.close();
  }
}

/** The document as served at /swagger/json. */
export async function servedDocument(): Promise<Record<string, unknown>> {
  return withDocumentApp(async (_app, fetch) => {
    const res = await fetch(new Request(`http://localhost${SPEC_PATH}`));
    if (res.status !== 200) throw new Error(`GET ${SPEC_PATH} answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as Record<string, unknown>;
  });
}

/** The file's format: 2-space JSON in the served key order, with a trailing newline. */
export const formatDocument = (doc: unknown): string => `${JSON.stringify(doc, null, 2)}\n`;

if (import.meta.main) {
  const text = formatDocument(await servedDocument());
  const file = Bun.file(OPENAPI_FILE);
  const before = (await file.exists()) ? await file.text() : null;
  if (before === text) {
    console.log('openapi.json is up to date');
  } else {
    await Bun.write(OPENAPI_FILE, text);
    console.log(`openapi.json ${before === null ? 'created' : 'updated'}: review the diff`);
  }
}
