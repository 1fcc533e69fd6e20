/**
 * Server-side copies, which Bun's S3 client does not offer: the requests are signed with aws4fetch
 * (SigV4, a small well-kept library) and sent with fetch.
 * - CopyObject: `move()` uses it so a V2 upload's chunk becomes its blob without its bytes passing
 *   through the node twice.
 * - A multipart upload of UploadPartCopy parts: `concat()` uses it so a V2 upload's several chunks
 *   become one blob on the server, which sees each chunk become one part, in order.
 * Objects over the 5 GiB copy limit, parts S3 would refuse (see the driver's `doConcat`), and
 * set-ups without explicit credentials (Bun's own environment lookup), have none of this: they are
 * streamed instead.
 */
import { AwsClient } from 'aws4fetch';
import type { S3DriverOptions } from './options.ts';

/** CopyObject's largest source object, and UploadPartCopy's largest part. */
export const MAX_COPY_SIZE = 5 * 1024 * 1024 * 1024;
/** S3's smallest part of a multipart upload (every part but the last). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
/** S3's most parts in one multipart upload. */
export const MAX_PARTS = 10_000;
/** UploadPartCopy requests one composition sends at once. */
const PART_CONCURRENCY = 4;

export type Copier = (sourceKey: string, targetKey: string) => Promise<void>;
/** Puts the concatenation of the source objects under the target (object keys, prefix included). */
export type Composer = (sourceKeys: string[], targetKey: string) => Promise<void>;

const encodeKey = (key: string) => key.split('/').map(encodeURIComponent).join('/');

/** The object URL of `objectKey`, addressed as Bun's client addresses it (path or virtual-hosted style). */
function urlBuilder(options: S3DriverOptions, pathStyle: boolean): (objectKey: string) => string {
  const endpoint = (options.endpoint?.trim() ?? '').replace(/\/+$/, '');
  if (endpoint !== '' && pathStyle) return (k) => `${endpoint}/${options.bucket}/${encodeKey(k)}`;
  if (endpoint !== '') return (k) => `${endpoint}/${encodeKey(k)}`;
  const host = pathStyle ? `s3.${options.region}.amazonaws.com/${options.bucket}` : `${options.bucket}.s3.${options.region}.amazonaws.com`;
  return (k) => `https://${host}/${encodeKey(k)}`;
}

/** A SigV4 signer for these settings, or null without explicit credentials. */
function signer(options: S3DriverOptions): AwsClient | null {
  if (!options.accessKeyId || !options.secretAccessKey) return null;
  return new AwsClient({
    accessKeyId: options.accessKeyId,
    secretAccessKey: options.secretAccessKey,
    ...(options.sessionToken && { sessionToken: options.sessionToken }),
    region: options.region,
    service: 's3',
  });
}

/** The text of the first `<name>` element (as sent: entities are left as they are). */
const element = (xml: string, name: string): string | undefined => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];

/** Sends one request and returns its body; a failure throws an error whose `code` is S3's error code. */
async function send(aws: AwsClient, url: string, init: RequestInit, action: string): Promise<string> {
  const response = await aws.fetch(url, init);
  const text = await response.text();
  // CopyObject, UploadPartCopy and CompleteMultipartUpload may fail after their 200 has started:
  // the error is then in the body
  if (!response.ok || text.includes('<Error>')) {
    const code = element(text, 'Code') ?? `HTTP ${response.status}`;
    throw Object.assign(new Error(`${action} failed: ${code}`), { code });
  }
  return text;
}

function malformed(action: string, what: string): Error {
  return Object.assign(new Error(`${action} failed: the reply has no ${what}`), { code: 'MalformedReply' });
}

/** A CopyObject caller for these settings, or null when it cannot sign (no explicit credentials). */
export function copier(options: S3DriverOptions, pathStyle: boolean): Copier | null {
  const aws = signer(options);
  if (!aws) return null;
  const url = urlBuilder(options, pathStyle);
  return async (sourceKey, targetKey) => {
    await send(aws, url(targetKey), {
      method: 'PUT',
      headers: { 'x-amz-copy-source': `/${options.bucket}/${encodeKey(sourceKey)}`, 'content-length': '0' },
    }, 'CopyObject');
  };
}

/**
 * A composer for these settings, or null when it cannot sign: CreateMultipartUpload on the
 * target, one UploadPartCopy per source (part numbers 1..n, in order), CompleteMultipartUpload
 * with their ETags. Nothing is visible under the target before Complete, which puts the whole
 * object in place at once; any failure sends AbortMultipartUpload (an upload a crashed process
 * left is for the bucket's lifecycle rule). The caller keeps to S3's part rules (sizes, count).
 */
export function composer(options: S3DriverOptions, pathStyle: boolean): Composer | null {
  const aws = signer(options);
  if (!aws) return null;
  const url = urlBuilder(options, pathStyle);
  return async (sourceKeys, targetKey) => {
    const target = url(targetKey);
    const created = await send(aws, `${target}?uploads`, { method: 'POST' }, 'CreateMultipartUpload');
    const uploadId = element(created, 'UploadId');
    if (!uploadId) throw malformed('CreateMultipartUpload', 'UploadId');
    const upload = `uploadId=${encodeURIComponent(uploadId)}`;
    try {
      const etags: string[] = new Array(sourceKeys.length);
      let next = 0;
      let failed = false;
      const worker = async () => {
        while (next < sourceKeys.length && !failed) {
          const i = next++;
          const reply = await send(aws, `${target}?partNumber=${i + 1}&${upload}`, {
            method: 'PUT',
            headers: { 'x-amz-copy-source': `/${options.bucket}/${encodeKey(sourceKeys[i]!)}`, 'content-length': '0' },
          }, 'UploadPartCopy');
          const etag = element(reply, 'ETag');
          if (!etag) throw malformed('UploadPartCopy', 'ETag');
          etags[i] = etag;
        }
      };
      // on a failure the other workers stop, and their copies in flight end before the abort
      const workers = Array.from({ length: Math.min(PART_CONCURRENCY, sourceKeys.length) }, () =>
        worker().catch((err: unknown) => {
          failed = true;
          throw err;
        }),
      );
      for (const result of await Promise.allSettled(workers)) if (result.status === 'rejected') throw result.reason;
      // the ETags go back as they came, still XML-escaped
      const parts = etags.map((etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${etag}</ETag></Part>`).join('');
      await send(aws, `${target}?${upload}`, {
        method: 'POST',
        headers: { 'content-type': 'application/xml' },
        body: `<CompleteMultipartUpload>${parts}</CompleteMultipartUpload>`,
      }, 'CompleteMultipartUpload');
    } catch (err) {
      await aws.fetch(`${target}?${upload}`, { method: 'DELETE' }).then((r) => r.arrayBuffer()).catch(() => {});
      throw err;
    }
  };
}
