/**
 * The libc call Bun has no API for, through bun:ffi (loaded on first use): mapping a descriptor
 * that must stay open (`Bun.mmap` opens and closes its own, which drops the POSIX locks of the
 * process on the file). It answers null where libc cannot be loaded (not glibc Linux, an FFI
 * failure): the caller then does without.
 *
 * (sync_file_range, to start writeback without waiting, was tried for the fs writer in place of
 * its background fdatasync and made V2 uploads slower: bench/README.md, "perf: issue 13".)
 */
import type { Pointer } from 'bun:ffi';

interface Libc {
  mmap: (address: null, length: number, prot: number, flags: number, fd: number, offset: number) => Pointer | bigint | null;
  toArrayBuffer: (pointer: Pointer, offset: number, length: number) => ArrayBuffer;
}

let libc: Libc | null | undefined;

function load(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (process.platform !== 'linux') return libc;
  try {
    const { dlopen, FFIType, toArrayBuffer } = require('bun:ffi') as typeof import('bun:ffi');
    const { symbols } = dlopen('libc.so.6', {
      mmap: { args: [FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.i32, FFIType.i32, FFIType.i64], returns: FFIType.ptr },
    });
    libc = { mmap: symbols.mmap as Libc['mmap'], toArrayBuffer };
  } catch {
    libc = null;
  }
  return libc;
}

const PROT_READ = 1;
const MAP_SHARED = 1;

/**
 * The first `length` bytes of the file open on `fd`, mapped read-only and shared (changes any
 * process makes show at once), as an ArrayBuffer that is never unmapped; null when it cannot be
 * mapped. Reading past the file's end faults: map only what the file holds and will keep.
 */
export function mapShared(fd: number, length: number): ArrayBuffer | null {
  const c = load();
  if (!c) return null;
  const address = c.mmap(null, length, PROT_READ, MAP_SHARED, fd, 0);
  // MAP_FAILED, (void *)-1, comes back as a bigint (above 2^53), NULL as null
  if (typeof address !== 'number' || address <= 0) return null;
  return c.toArrayBuffer(address, 0, length);
}
