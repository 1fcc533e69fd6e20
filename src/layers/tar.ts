/**
 * The one streaming tar reader of layers (plain or gzip): `listLayerFiles` (src/layers/files.ts)
 * and `tarsum` (src/checksum/tarsum.ts) are built on it. Nothing here buffers a whole layer: chunks
 * flow from the input through an optional gunzip into tar-stream's `extract()` with backpressure,
 * and every member body is drained as it arrives. One module, a little over 300 lines: the header
 * normalisation (GNU long names, pax, the original's type letters) and the stream plumbing serve
 * both readers and are private to them.
 */
import type { ExtractEvents, Header } from 'tar-stream';
import { RegistryError, isRegistryError } from '../errors.ts';

/** A tar member as the original's Python `tarfile` would describe it. */
export interface TarMember {
  /** Name after GNU long-name and pax `path` overrides, as stored (a directory may end in `/`). */
  name: string;
  /**
   * The header's typeflag character, unchanged (`'\0'` stays `'\0'`), except that an old-style
   * `'\0'` member whose name ends in `/` is a directory, `'5'` (as Python's tarfile does).
   */
  typeflag: string;
  /** The mode field as stored (not masked: 0o100644 stays 33188). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Integer seconds (pax `mtime` floored when present). */
  mtime: number;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  /** The pax extended records that applied to this member, or null. */
  pax: Readonly<Record<string, string>> | null;
}

/** Receives a member's body chunks (`data`), then `end` once the body is fully read. */
export interface MemberSink {
  data?(chunk: Uint8Array): void;
  end?(): void;
}

/** Called once per member, in archive order; may return a sink for the member's body. */
export type MemberVisitor = (member: TarMember) => MemberSink | void;

type EntryStream = ExtractEvents['entry'][1];
type Gunzip = ReadableWritablePair<Uint8Array, Uint8Array>;

/**
 * Streams a layer (plain tar, or gzip-compressed tar detected by magic bytes) and calls `visit`
 * for each member. A 0-byte layer has no members. Anything unreadable (other compressions such as
 * bzip2/xz/zstd, random bytes, corrupt or truncated tars, corrupt gzip) rejects with
 * `RegistryError('LAYER_FORMAT')`. An error raised by the input stream itself is rethrown as is
 * (it is not a format problem); a `RegistryError` thrown by `visit` passes through unchanged.
 */
export async function readLayerTar(
  layer: ReadableStream<Uint8Array> | Uint8Array,
  visit: MemberVisitor,
): Promise<void> {
  const reader = toStream(layer).getReader();
  let sourceFailed = false;
  let sourceError: unknown;
  const readSource = async (): Promise<Awaited<ReturnType<typeof reader.read>>> => {
    try {
      return await reader.read();
    } catch (err) {
      sourceFailed = true;
      sourceError = err;
      throw err;
    }
  };

  // Sniff the first bytes.
  const head: Uint8Array[] = [];
  let headLength = 0;
  while (headLength < 6) {
    const { done, value } = await readSource();
    if (done) break;
    if (value.byteLength === 0) continue;
    head.push(value);
    headLength += value.byteLength;
  }
  if (headLength === 0) return;
  const format = sniff(concat(head, 6));
  if (format === 'unsupported') {
    reader.cancel().catch(noop);
    throw new RegistryError('LAYER_FORMAT');
  }

  const raw = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const first = head.shift();
        if (first !== undefined) {
          controller.enqueue(first);
          return;
        }
        try {
          const { done, value } = await readSource();
          if (done) controller.close();
          else controller.enqueue(value);
        } catch (err) {
          controller.error(err);
        }
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  const tarBytes =
    format === 'gzip' ? raw.pipeThrough(new DecompressionStream('gzip') as unknown as Gunzip) : raw;

  try {
    await parseTar(tarBytes, visit);
  } catch (err) {
    if (sourceFailed) throw sourceError;
    if (isRegistryError(err)) throw err;
    throw new RegistryError('LAYER_FORMAT');
  }
}

type Format = 'gzip' | 'tar' | 'unsupported';

function sniff(magic: Uint8Array): Format {
  const starts = (...bytes: number[]) => bytes.every((b, i) => magic[i] === b);
  if (starts(0x1f, 0x8b)) return 'gzip';
  if (starts(0x42, 0x5a, 0x68)) return 'unsupported'; // bzip2 "BZh"
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return 'unsupported'; // xz
  if (starts(0x28, 0xb5, 0x2f, 0xfd)) return 'unsupported'; // zstd
  return 'tar';
}

/** Parses a plain tar byte stream; rejects with the parser's (or the visitor's) error. */
async function parseTar(bytes: ReadableStream<Uint8Array>, visit: MemberVisitor): Promise<void> {
  // loaded on first use: most workers never list a layer, and the parser adds memory to a process
  const { extract } = await import('tar-stream');
  const ex = extract({ allowUnknownFormat: true } as Parameters<typeof extract>[0]);
  const window = new ByteWindow();
  let firstError: unknown = null;
  let fail!: (err: unknown) => void;
  const failure = new Promise<never>((_, reject) => {
    fail = (err) => {
      firstError ??= err;
      reject(firstError);
    };
  });
  failure.catch(noop);
  let isFinished = false;
  let finished!: () => void;
  const done = new Promise<void>((resolve) => {
    finished = () => {
      isFinished = true;
      resolve();
    };
  });

  ex.on('entry', (header, stream, next) => {
    consumeEntry(header, stream, window, visit).then(
      () => next(),
      (err: unknown) => {
        fail(err);
        next(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
  ex.on('finish', () => finished());
  ex.on('error', (err) => fail(err));
  ex.on('close', () => {
    if (!isFinished) fail(new Error('tar parser closed before the end of the archive'));
  });

  const reader = bytes.getReader();
  let offset = 0;
  try {
    for (;;) {
      const { done: eof, value } = await Promise.race([reader.read(), failure]);
      if (eof) break;
      if (value.byteLength === 0) continue;
      window.push(offset, value);
      offset += value.byteLength;
      if (!ex.write(value)) {
        await Promise.race([new Promise<void>((resolve) => ex.once('drain', resolve)), failure]);
      }
    }
    ex.end(undefined);
    await Promise.race([done, failure]);
  } catch (err) {
    ex.destroy();
    reader.cancel().catch(noop);
    throw firstError ?? err;
  }
}

async function consumeEntry(
  header: Header,
  stream: EntryStream,
  window: ByteWindow,
  visit: MemberVisitor,
): Promise<void> {
  const headerOffset = stream.offset;
  const rawTypeflag = window.byteAt(headerOffset + 156);
  window.dropBefore(headerOffset);
  const member = toMember(header, rawTypeflag);
  const sink = visit(member);
  // tar-stream only attaches a body to members with a size that are not directories.
  if (header.size > 0 && header.type !== 'directory') {
    let position = headerOffset + 512;
    for await (const chunk of stream as AsyncIterable<Uint8Array>) {
      sink?.data?.(chunk);
      position += chunk.byteLength;
      window.dropBefore(position);
    }
  }
  sink?.end?.();
}

const TYPEFLAGS: Readonly<Record<string, string>> = {
  file: '0',
  link: '1',
  symlink: '2',
  'character-device': '3',
  'block-device': '4',
  directory: '5',
  fifo: '6',
  'contiguous-file': '7',
};

function toMember(header: Header, rawTypeflag: number | undefined): TarMember {
  const pax = (header.pax ?? null) as Record<string, string> | null;
  let typeflag =
    rawTypeflag !== undefined
      ? String.fromCharCode(rawTypeflag)
      : (TYPEFLAGS[header.type as string] ?? '0');
  if (typeflag === '\0' && header.name.endsWith('/')) typeflag = '5';
  const member: TarMember = {
    name: header.name,
    typeflag,
    mode: header.mode,
    uid: paxInteger(pax?.uid) ?? header.uid,
    gid: paxInteger(pax?.gid) ?? header.gid,
    size: header.size,
    mtime: paxSeconds(pax?.mtime) ?? Math.floor(header.mtime.getTime() / 1000),
    linkname: header.linkname ?? '',
    uname: pax?.uname ?? header.uname ?? '',
    gname: pax?.gname ?? header.gname ?? '',
    devmajor: header.devmajor,
    devminor: header.devminor,
    pax,
  };
  const numbers = [
    member.mode,
    member.uid,
    member.gid,
    member.size,
    member.mtime,
    member.devmajor,
    member.devminor,
  ];
  if (!numbers.every(Number.isFinite)) throw new Error('invalid numeric field in tar header');
  return member;
}

function paxInteger(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  return Number.parseInt(value, 10);
}

function paxSeconds(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) ? Math.floor(seconds) : undefined;
}

/**
 * Keeps the most recent input chunks so the raw typeflag byte of a header can be read back
 * (tar-stream folds '\0' into 'file' and hides unknown typeflags). Chunks are dropped as soon as
 * the parser has moved past them, so only a few chunks are ever held.
 */
class ByteWindow {
  #chunks: { start: number; bytes: Uint8Array }[] = [];

  push(start: number, bytes: Uint8Array): void {
    this.#chunks.push({ start, bytes });
  }

  byteAt(position: number): number | undefined {
    for (const { start, bytes } of this.#chunks) {
      if (position >= start && position < start + bytes.byteLength) return bytes[position - start];
    }
    return undefined;
  }

  dropBefore(position: number): void {
    let drop = 0;
    for (const { start, bytes } of this.#chunks) {
      if (start + bytes.byteLength > position) break;
      drop++;
    }
    if (drop > 0) this.#chunks.splice(0, drop);
  }
}

function toStream(layer: ReadableStream<Uint8Array> | Uint8Array): ReadableStream<Uint8Array> {
  if (!(layer instanceof Uint8Array)) return layer;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      if (layer.byteLength > 0) controller.enqueue(layer);
      controller.close();
    },
  });
}

function concat(chunks: Uint8Array[], limit: number): Uint8Array {
  const out = new Uint8Array(limit);
  let length = 0;
  for (const chunk of chunks) {
    const take = Math.min(chunk.byteLength, limit - length);
    out.set(chunk.subarray(0, take), length);
    length += take;
    if (length === limit) break;
  }
  return out.subarray(0, length);
}

function noop(): void {}
