/** The S3 driver's settings, checked and defaulted in one place, and the client they describe. */
import { composer, copier, MIN_PART_SIZE, type Composer, type Copier } from './copy.ts';
import type { S3Client } from 'bun';
import { StorageError } from '../driver.ts';
import { DRIVER } from './errors.ts';

const MiB = 1024 * 1024;
/** S3's largest presigned-URL lifetime: 7 days. */
const MAX_PRESIGN_EXPIRY = 7 * 24 * 3600;

export interface S3DriverOptions {
  /** Service URL such as `http://127.0.0.1:7480`; empty or absent for AWS S3 in `region`. */
  endpoint?: string;
  bucket: string;
  /** Signing region, always explicit: Bun signs custom endpoints with `auto` otherwise. */
  region: string;
  /** Credentials; when absent Bun falls back to its own S3_* / AWS_* environment lookup. */
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /**
   * Path-style URLs (`<endpoint>/<bucket>/<key>`). Default: true with an `endpoint`, false
   * (virtual-hosted, `<bucket>.s3.<region>.amazonaws.com`) without. With an `endpoint` and
   * `pathStyle: false`, the endpoint must already name the bucket (Bun then ignores `bucket`).
   */
  pathStyle?: boolean;
  /** Folder inside the bucket that holds every key (`''`: the bucket root). */
  prefix?: string;
  /** Lifetime of presigned GET URLs in seconds (default 1200, at most 7 days). */
  presignExpiry?: number;
  /** Multipart part size in bytes (default and minimum 5 MiB). */
  partSize?: number;
  /** Parts one writer uploads in parallel (default 2). */
  queueSize?: number;
  /** Keys per ListObjectsV2 page (default 1000, S3's maximum); smaller values are for tests. */
  listPageSize?: number;
}

/** `'/a/b/'` → `'a/b/'`, `''` → `''`; rejects empty segments. */
function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return '';
  if (trimmed.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new StorageError(`invalid s3 key prefix ${JSON.stringify(prefix)}`, DRIVER);
  }
  return `${trimmed}/`;
}

/** Options with every default filled in, and the client for the bucket. */
export interface S3Settings {
  /** server-side copy (./copy.ts), null when it cannot be signed */
  copy: Copier | null;
  /** server-side concatenation (./copy.ts), null when it cannot be signed */
  compose: Composer | null;
  client: S3Client;
  /** `''` or `'a/b/'` */
  prefix: string;
  presignExpiry: number;
  partSize: number;
  queueSize: number;
  pageSize: number;
}

/** @throws StorageError naming the first setting out of range */
export function s3Settings(options: S3DriverOptions): S3Settings {
  const endpoint = options.endpoint?.trim() ?? '';
  if (!options.bucket) throw new StorageError('s3 driver needs a bucket', DRIVER);
  if (!options.region) throw new StorageError('s3 driver needs an explicit region', DRIVER);
  const presignExpiry = options.presignExpiry ?? 1200;
  const partSize = options.partSize ?? MIN_PART_SIZE;
  const queueSize = options.queueSize ?? 2;
  const pageSize = options.listPageSize ?? 1000;
  const intIn = (n: number, lo: number, hi: number) => Number.isSafeInteger(n) && n >= lo && n <= hi;
  if (!intIn(presignExpiry, 1, MAX_PRESIGN_EXPIRY)) {
    throw new StorageError(`s3 presign expiry must be 1..${MAX_PRESIGN_EXPIRY} seconds`, DRIVER);
  }
  if (!intIn(partSize, MIN_PART_SIZE, 5120 * MiB)) {
    throw new StorageError('s3 part size must be 5 MiB..5 GiB', DRIVER);
  }
  if (!intIn(queueSize, 1, 255)) throw new StorageError('s3 queue size must be 1..255', DRIVER);
  if (!intIn(pageSize, 1, 1000)) throw new StorageError('s3 list page size must be 1..1000', DRIVER);
  const prefix = normalizePrefix(options.prefix ?? '');
  const pathStyle = options.pathStyle ?? endpoint !== '';
  const client = new Bun.S3Client({
    bucket: options.bucket,
    region: options.region,
    virtualHostedStyle: !pathStyle,
    ...(endpoint !== '' && { endpoint }),
    ...(options.accessKeyId && { accessKeyId: options.accessKeyId }),
    ...(options.secretAccessKey && { secretAccessKey: options.secretAccessKey }),
    ...(options.sessionToken && { sessionToken: options.sessionToken }),
  });
  return { client, prefix, presignExpiry, partSize, queueSize, pageSize, copy: copier(options, pathStyle), compose: composer(options, pathStyle) };
}
