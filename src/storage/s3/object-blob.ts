/**
 * The S3 driver's `blob()`: a stored object that is also a ReadableStream, so that a Response can
 * stream it (see {@link S3ObjectBlob}).
 */
import type { S3File } from 'bun';
import { StorageError } from '../driver.ts';
import { DRIVER, s3Error } from './errors.ts';

/**
 * A pull source over `file` (an S3File or a slice of one) that opens the GET on the first pull
 * and turns failures into storage errors. `size === 0` sends no request at all.
 */
function objectSource(file: S3File, size: number, key: string) {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return {
    async pull(controller: ReadableStreamDefaultController<Uint8Array>) {
      if (size === 0) {
        controller.close();
        return;
      }
      try {
        reader ??= file.stream().getReader() as ReadableStreamDefaultReader<Uint8Array>;
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (err) {
        controller.error(s3Error(err, key, 'read'));
      }
    },
    async cancel(reason: unknown) {
      await reader?.cancel(reason);
    },
  };
}

/**
 * A stored object, or a byte range of one, that is at once a `Blob` (size, slice, bytes, text,
 * stream) and a `ReadableStream` of its bytes. Bun sends a ReadableStream body through the server
 * as it reads it, so `new Response(blob, init)` streams the object: it never buffers it whole, and
 * never turns into the redirect that Bun makes of an `S3File` body. Each `stream()`, `bytes()`,
 * `text()` or `slice()` issues its own GET; the object itself, used as a body, can be read once
 * (a Response body is read once anyway). Nothing is fetched until something reads.
 */
export class S3ObjectBlob extends ReadableStream<Uint8Array> implements Blob {
  readonly size: number;
  readonly type = '';
  readonly #file: S3File;
  readonly #offset: number;
  readonly #key: string;

  /** `file` is the whole object; the blob covers bytes [offset, offset + size). */
  constructor(file: S3File, offset: number, size: number, key: string) {
    super(objectSource(S3ObjectBlob.#range(file, offset, size), size, key), { highWaterMark: 0 });
    this.size = size;
    this.#file = file;
    this.#offset = offset;
    this.#key = key;
  }

  static #range(file: S3File, offset: number, size: number): S3File {
    return size === 0 ? file : file.slice(offset, offset + size);
  }

  /** Blob semantics: negative positions count from the end, results are clamped. */
  slice(start?: number, end?: number, _contentType?: string): S3ObjectBlob {
    const at = (pos: number | undefined, fallback: number): number => {
      if (pos === undefined) return fallback;
      const p = Math.trunc(pos);
      return p < 0 ? Math.max(this.size + p, 0) : Math.min(p, this.size);
    };
    const a = at(start, 0);
    const b = at(end, this.size);
    return new S3ObjectBlob(this.#file, this.#offset + a, Math.max(b - a, 0), this.#key);
  }

  /** A fresh stream of the bytes (its own GET). */
  stream(): ReadableStream<Uint8Array<ArrayBuffer>> {
    const file = S3ObjectBlob.#range(this.#file, this.#offset, this.size);
    const source = objectSource(file, this.size, this.#key);
    return new ReadableStream(source, { highWaterMark: 0 }) as ReadableStream<Uint8Array<ArrayBuffer>>;
  }

  override async bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return new Uint8Array(await this.arrayBuffer());
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    return new Response(this.stream()).arrayBuffer();
  }

  override text(): Promise<string> {
    return new Response(this.stream()).text();
  }

  override json(): Promise<any> {
    return new Response(this.stream()).json();
  }

  formData(): Promise<FormData> {
    return new Response(this.stream()).formData() as unknown as Promise<FormData>;
  }

  /** Images are decoded from local bytes; a layer in S3 is never one. */
  image(): Bun.Image {
    throw new StorageError('image() is not available on an S3 object', DRIVER, this.#key);
  }
}

