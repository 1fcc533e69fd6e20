/**
 * Apps over S3 for route tests: a fauxqs server for the test file (started before its tests,
 * stopped after them) and, per call, an app whose storage is a fresh bucket on it.
 */
import { afterAll, beforeAll } from 'bun:test';
import { S3Driver } from '../../src/storage/s3/driver.ts';
import { startFauxqs, type S3TestServer } from '../../dev/s3.ts';
import { makeApp, type TestApp } from './app.ts';

export type S3App = () => Promise<{ app: TestApp; storage: S3Driver }>;

/** Call at the top level of a test file: registers the server's hooks, returns the app maker. */
export function s3AppsPerFile(): S3App {
  let server: S3TestServer | undefined;
  beforeAll(async () => {
    server = await startFauxqs();
  });
  afterAll(async () => {
    await server?.stop();
  });
  return async () => {
    if (!server) throw new Error('s3AppsPerFile: the fauxqs server is not running (call it at the top level of the file)');
    const storage = new S3Driver(server.driverOptions({ bucket: await server.newBucket() }));
    return { app: makeApp({}, storage), storage };
  };
}
