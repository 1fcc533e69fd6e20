/** What the S3 driver's modules share: its name and how S3 failures become storage errors. */
import { errorCode, storageError } from '../base.ts';
import type { StorageError } from '../driver.ts';

export const DRIVER = 's3';

export function isNoSuchKey(err: unknown): boolean {
  return errorCode(err) === 'NoSuchKey';
}

/** NoSuchKey becomes PathNotFoundError; typed errors pass through; the rest is wrapped. */
export function s3Error(err: unknown, key: string, op: string): StorageError {
  return storageError(DRIVER, err, key, op, isNoSuchKey);
}
