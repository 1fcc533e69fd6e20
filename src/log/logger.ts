/**
 * Logging in gunicorn's formats, so operators' tooling keeps working:
 * - error log: `[YYYY-MM-DD HH:MM:SS +ZZZZ] [pid] [LEVEL] message`
 * - access log: one line per request (see `accessLine`).
 * Both go to a file or to stderr/stdout ('-'); `reopen()` (SIGUSR1) reopens files after rotation.
 * Writes are synchronous appends of whole lines, so lines from several processes sharing a
 * file never interleave mid-line.
 */
import { closeSync, openSync, writeSync } from 'node:fs';

export type Level = 'debug' | 'info' | 'warning' | 'error' | 'critical';
const LEVELS: Record<Level, number> = { debug: 10, info: 20, warning: 30, error: 40, critical: 50 };

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** `2026-11-27 18:30:00 +0000`, local time with its offset, as gunicorn prints it. */
export function gunicornTime(d = new Date()): string {
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const abs = Math.abs(off);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`
  );
}

/** A line sink: a file opened for appending, or a standard stream. */
class Sink {
  #fd: number;
  readonly #path: string;

  constructor(path: string, fallbackFd: number) {
    this.#path = path;
    this.#fd = path === '-' ? fallbackFd : openSync(path, 'a');
  }

  write(line: string): void {
    try {
      writeSync(this.#fd, `${line}\n`);
    } catch {
      // a full disk or closed stream must never take a request down with it
    }
  }

  reopen(): void {
    if (this.#path === '-') return;
    const old = this.#fd;
    this.#fd = openSync(this.#path, 'a');
    closeSync(old);
  }

  close(): void {
    if (this.#path !== '-') closeSync(this.#fd);
  }
}

export interface LogOptions {
  errorlog: string;
  accesslog: string;
  loglevel: Level | string;
}

export class Logger {
  readonly #error: Sink;
  readonly #access: Sink | null;
  readonly #min: number;

  constructor(options: LogOptions) {
    this.#error = new Sink(options.errorlog, 2);
    this.#access = options.accesslog === 'off' || options.accesslog === '' ? null : new Sink(options.accesslog, 1);
    this.#min = LEVELS[options.loglevel as Level] ?? LEVELS.info;
  }

  log(level: Level, message: string): void {
    if (LEVELS[level] < this.#min) return;
    this.#error.write(`[${gunicornTime()}] [${process.pid}] [${level.toUpperCase()}] ${message}`);
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

  access(line: string): void {
    this.#access?.write(line);
  }

  reopen(): void {
    this.#error.reopen();
    this.#access?.reopen();
  }

  close(): void {
    this.#error.close();
    this.#access?.close();
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

const quote = (s: string | null) => `"${(s ?? '-').replace(/["\\]/g, (c) => `\\${c}`).replace(/[\u0000-\u001f\u007f]/g, '?')}"`;

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
