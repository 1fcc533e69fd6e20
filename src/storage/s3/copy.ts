/**
 * Server-side copy (S3 CopyObject), which Bun's S3 client does not offer: the request is signed
 * with aws4fetch (SigV4, a small well-kept library) and sent with fetch. `move()` uses it so a V2
 * upload's chunk becomes its blob without its bytes passing through the node twice. Objects over
 * CopyObject's 5 GiB limit, and set-ups without explicit credentials (Bun's own environment
 * lookup), have no copier: they are streamed instead.
 */
import { AwsClient } from 'aws4fetch';
import type { S3DriverOptions } from './options.ts';

/** CopyObject's largest source object. */
export const MAX_COPY_SIZE = 5 * 1024 * 1024 * 1024;

export type Copier = (sourceKey: string, targetKey: string) => Promise<void>;

const encodeKey = (key: string) => key.split('/').map(encodeURIComponent).join('/');

/** The object URL of `objectKey`, addressed as Bun's client addresses it (path or virtual-hosted style). */
function urlBuilder(options: S3DriverOptions, pathStyle: boolean): (objectKey: string) => string {
  const endpoint = (options.endpoint?.trim() ?? '').replace(/\/+$/, '');
  if (endpoint !== '' && pathStyle) return (k) => `${endpoint}/${options.bucket}/${encodeKey(k)}`;
  if (endpoint !== '') return (k) => `${endpoint}/${encodeKey(k)}`;
  const host = pathStyle ? `s3.${options.region}.amazonaws.com/${options.bucket}` : `${options.bucket}.s3.${options.region}.amazonaws.com`;
  return (k) => `https://${host}/${encodeKey(k)}`;
}

/** A CopyObject caller for these settings, or null when it cannot sign (no explicit credentials). */
export function copier(options: S3DriverOptions, pathStyle: boolean): Copier | null {
  if (!options.accessKeyId || !options.secretAccessKey) return null;
  const aws = new AwsClient({
    accessKeyId: options.accessKeyId,
    secretAccessKey: options.secretAccessKey,
    ...(options.sessionToken && { sessionToken: options.sessionToken }),
    region: options.region,
    service: 's3',
  });
  const url = urlBuilder(options, pathStyle);
  return async (sourceKey, targetKey) => {
    const response = await aws.fetch(url(targetKey), {
      method: 'PUT',
      headers: { 'x-amz-copy-source': `/${options.bucket}/${encodeKey(sourceKey)}`, 'content-length': '0' },
    });
    const text = await response.text();
    // CopyObject may fail after its 200 has started: the error is then in the body
    if (!response.ok || text.includes('<Error>')) {
      const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? `HTTP ${response.status}`;
      throw Object.assign(new Error(`CopyObject failed: ${code}`), { code });
    }
  };
}
