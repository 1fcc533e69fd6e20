/**
 * Logging in gunicorn's formats, so operators' tooling keeps working:
 * - error log: `[YYYY-MM-DD HH:MM:SS +ZZZZ] [pid] [LEVEL] message`
 * - access log: one line per request (see `accessLine`).
 * Both go to a file or to stderr/stdout ('-'); `reopen()` (SIGUSR1) reopens files after rotation.
 * The error log is written at once, line by line. The access log is buffered (as nginx's
 * `access_log … buffer=`): one write per `bufferBytes` or per `flushMs`, and on reopen, close and
 * process exit, because a write per request cost a third of the throughput (bench/README.md).
 * Every write is an append of whole lines, so lines from several processes sharing a file never
 * interleave mid-line; on a pipe or socket (stdout under docker or systemd) writes are cut at
 * line ends to at most PIPE_BUF bytes, the size the kernel keeps in one piece.
 */
import { closeSync, fstatSync, openSync, writeSync } from 'node:fs';

export type Level = 'debug' | 'info' | 'warning' | 'error' | 'critical';
const LEVELS: Record<Level, number> = { debug: 10, info: 20, warning: 30, error: 40, critical: 50 };

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

let cachedSecond = NaN;
let cachedTime = '';

/** `2026-11-27 18:30:00 +0000`, local time with its offset, as gunicorn prints it. */
export function gunicornTime(d = new Date()): string {
  // every access line asks for it: format each second once
  const second = Math.floor(d.getTime() / 1000);
  if (second !== cachedSecond) {
    cachedTime = formatTime(d);
    cachedSecond = second;
  }
  return cachedTime;
}

function formatTime(d: Date): string {
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const abs = Math.abs(off);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`
  );
}

/** Writes to a pipe of at most this many bytes are atomic (Linux PIPE_BUF). */
const PIPE_BUF = 4096;

/** A line sink: a file opened for appending, or a standard stream. */
class Sink {
  #fd: number;
  /** a pipe or socket: chunks must stay within PIPE_BUF to keep lines whole */
  #stream = false;
  readonly #path: string;

  constructor(path: string, fallbackFd: number) {
    this.#path = path;
    this.#fd = path === '-' ? fallbackFd : openSync(path, 'a');
    this.#stream = isStream(this.#fd);
  }

  /** Writes text made of whole lines, each ending in a newline. */
  write(text: string): void {
    try {
      if (!this.#stream || text.length <= PIPE_BUF / 4) return writeAll(this.#fd, Buffer.from(text));
      const bytes = Buffer.from(text);
      for (let at = 0; at < bytes.length; ) {
        let end = Math.min(bytes.length, at + PIPE_BUF);
        if (end < bytes.length) {
          const nl = bytes.lastIndexOf(10, end - 1);
          // a line longer than PIPE_BUF goes out whole, in one write
          end = nl >= at ? nl + 1 : bytes.indexOf(10, end) + 1 || bytes.length;
        }
        writeAll(this.#fd, bytes.subarray(at, end));
        at = end;
      }
    } catch {
      // a full disk or closed stream must never take a request down with it
    }
  }

  reopen(): void {
    if (this.#path === '-') return;
    const old = this.#fd;
    this.#fd = openSync(this.#path, 'a');
    this.#stream = isStream(this.#fd);
    closeSync(old);
  }

  close(): void {
    if (this.#path !== '-') closeSync(this.#fd);
  }
}

function isStream(fd: number): boolean {
  try {
    const st = fstatSync(fd);
    return st.isFIFO() || st.isSocket();
  } catch {
    return false;
  }
}

/** writeSync may write less than asked (a pipe nearly full): write the rest. */
function writeAll(fd: number, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at);
}

/**
 * Access lines held in memory and written together: when they pass `bufferBytes`, every
 * `flushMs`, and on `flush()`. The timer does not keep the process alive.
 */
class BufferedSink {
  readonly sink: Sink;
  #lines: string[] = [];
  #size = 0;
  readonly #max: number;
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor(sink: Sink, bufferBytes: number, flushMs: number) {
    this.sink = sink;
    this.#max = bufferBytes;
    if (flushMs > 0) {
      this.#timer = setInterval(() => this.flush(), flushMs);
      this.#timer.unref();
    }
  }

  write(line: string): void {
    this.#lines.push(line);
    // string length, not bytes: close enough for a flush threshold
    this.#size += line.length + 1;
    if (this.#size >= this.#max) this.flush();
  }

  flush(): void {
    if (this.#lines.length === 0) return;
    const text = `${this.#lines.join('\n')}\n`;
    this.#lines = [];
    this.#size = 0;
    this.sink.write(text);
  }

  close(): void {
    this.flush();
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.sink.close();
  }
}

export interface LogOptions {
  errorlog: string;
  accesslog: string;
  loglevel: Level | string;
}

export interface BufferOptions {
  /** access lines are written once this many are held (default 64 KiB) */
  bufferBytes?: number;
  /** and at least this often (default 1000 ms; 0: only by size and flush()) */
  flushMs?: number;
}

const ACCESS_BUFFER_BYTES = 64 * 1024;
const ACCESS_FLUSH_MS = 1000;

/** Loggers with buffered lines, flushed when the process exits however it exits. */
const open = new Set<Logger>();
let exitHook = false;

export class Logger {
  readonly #error: Sink;
  readonly #access: BufferedSink | null;
  readonly #min: number;

  constructor(options: LogOptions, buffer: BufferOptions = {}) {
    this.#error = new Sink(options.errorlog, 2);
    this.#access =
      options.accesslog === 'off' || options.accesslog === ''
        ? null
        : new BufferedSink(new Sink(options.accesslog, 1), buffer.bufferBytes ?? ACCESS_BUFFER_BYTES, buffer.flushMs ?? ACCESS_FLUSH_MS);
    this.#min = LEVELS[options.loglevel as Level] ?? LEVELS.info;
    if (this.#access) {
      open.add(this);
      if (!exitHook) {
        exitHook = true;
        // process.exit() from any path (signals, max_requests, parent gone) runs this; writes are synchronous
        process.on('exit', () => {
          for (const l of open) l.flush();
        });
      }
    }
  }

  log(level: Level, message: string): void {
    if (LEVELS[level] < this.#min) return;
    this.#error.write(`[${gunicornTime()}] [${process.pid}] [${level.toUpperCase()}] ${message}\n`);
  }

  debug(message: string): void {
    this.log('debug', message);
  }
  info(message: string): void {
    this.log('info', message);
  }
  warning(message: string): void {
    this.log('warning', message);
  }
  error(message: string): void {
    this.log('error', message);
  }
  critical(message: string): void {
    this.log('critical', message);
  }

  get accessEnabled(): boolean {
    return this.#access !== null;
  }

  /** Buffers one access line (see BufferedSink). */
  access(line: string): void {
    this.#access?.write(line);
  }

  /** Writes the buffered access lines now. */
  flush(): void {
    this.#access?.flush();
  }

  /** Flushes, then reopens the files (after a rotation the held lines belong to the old file). */
  reopen(): void {
    this.#access?.flush();
    this.#error.reopen();
    this.#access?.sink.reopen();
  }

  close(): void {
    this.#error.close();
    this.#access?.close();
    open.delete(this);
  }
}

export interface AccessRecord {
  remote: string;
  method: string;
  path: string;
  status: number;
  /** response body bytes, or null when unknown (a stream) */
  bytes: number | null;
  durationMs: number;
  dockerSize: string | null;
  userAgent: string | null;
}

const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f]/;
const quote = (s: string | null) => {
  const v = s ?? '-';
  // most values need no escaping: skip the two replaces for them
  if (!NEEDS_ESCAPE.test(v)) return `"${v}"`;
  return `"${v.replace(/["\\]/g, (c) => `\\${c}`).replace(/[\u0000-\u001f\u007f]/g, '?')}"`;
};

/**
 * gunicorn's combined-style access line with two fields added at the end: the duration in
 * milliseconds and the X-Docker-Size header:
 * `remote - - [time] "METHOD /path" status bytes "-" "user-agent" 12.3ms size=1234`
 */
export function accessLine(r: AccessRecord, now = new Date()): string {
  return (
    `${r.remote} - - [${gunicornTime(now)}] ${quote(`${r.method} ${r.path}`)} ${r.status} ` +
    `${r.bytes ?? '-'} "-" ${quote(r.userAgent)} ${r.durationMs.toFixed(1)}ms size=${r.dockerSize ?? '-'}`
  );
}
