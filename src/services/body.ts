/**
 * Streaming a request body into storage, the one loop V1 layer PUTs and V2 blob uploads share:
 * every chunk is hashed, written (awaited: backpressure), then its memory handed back; the size
 * is bounded while reading and checked against the announced Content-Length at the end.
 */
import { RegistryError } from '../errors.ts';
import { StorageError, type FileWriter } from '../storage/driver.ts';

export interface RequestBody {
  stream: ReadableStream<Uint8Array> | null;
  /** the Content-Length the client announced, if any */
  declaredLength: number | null;
}

/**
 * Gives a written body chunk's memory back at once, by detaching its ArrayBuffer, instead of when
 * the garbage collector gets to it. Bun hands a request body out in chunks, one fresh ArrayBuffer
 * each; left to the collector, they pile up during a large upload and raise the worker's peak RSS
 * far above what releasing each chunk once written leaves (bench/upload-memory.ts and
 * bench/README.md have the figures). Forcing collections periodically did not do as well, for more
 * CPU than the hashing. Only for a chunk that is the whole of its buffer and that nobody
 * else holds: a body chunk pipeBody read itself, after the writer's write resolved (a writer
 * keeps no reference past that, see FileWriter.write).
 */
function release(chunk: Uint8Array): void {
  const buffer = chunk.buffer;
  if (
    buffer instanceof ArrayBuffer &&
    !buffer.resizable &&
    !buffer.detached &&
    chunk.byteOffset === 0 &&
    chunk.byteLength === buffer.byteLength
  ) {
    buffer.transfer(0);
  }
}

export interface PipeOptions {
  /** largest body accepted: more is BODY_TOO_LARGE (413), checked before and while reading */
  limit: number;
  /** the error when the body's length is not the announced Content-Length */
  sizeMismatch: RegistryError;
}

/**
 * Streams `body` through `hash` into `writer` (null: only hash, e.g. content already stored) and
 * returns its length. Throws RegistryErrors (too large, size mismatch, UPLOAD_ABORTED when the
 * client goes away or the body fails mid-way) and the writer's StorageErrors; the caller cancels
 * or commits the writer.
 */
export async function pipeBody(
  body: RequestBody,
  writer: FileWriter | null,
  hash: (chunk: Uint8Array) => void,
  options: PipeOptions,
): Promise<number> {
  const { limit } = options;
  if (body.declaredLength !== null && body.declaredLength > limit) {
    throw new RegistryError('BODY_TOO_LARGE', `limit is ${limit} bytes`);
  }
  let size = 0;
  try {
    if (body.stream) {
      for await (const chunk of body.stream) {
        size += chunk.byteLength;
        if (size > limit) throw new RegistryError('BODY_TOO_LARGE', `limit is ${limit} bytes`);
        hash(chunk);
        if (writer) await writer.write(chunk);
        release(chunk);
      }
    }
  } catch (e) {
    if (e instanceof RegistryError || e instanceof StorageError) throw e;
    // the client went away or the body stream failed mid-way
    throw new RegistryError('UPLOAD_ABORTED');
  }
  if (body.declaredLength !== null && body.declaredLength !== size) throw options.sizeMismatch;
  return size;
}
