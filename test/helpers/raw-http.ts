/**
 * Raw HTTP/1.1 over a TCP socket (Bun.connect), for requests `fetch` would normalise or refuse:
 * request targets with literal `..`, backslashes or bytes outside the URL grammar, oversized
 * headers. Sends one request with `Connection: close` and parses the status line, headers and
 * body (Content-Length or read-to-close; chunked bodies are de-chunked).
 */
import { concatBytes } from './tar.ts';

export interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

function dechunk(body: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let at = 0;
  const text = new TextDecoder('latin1');
  while (at < body.byteLength) {
    const eol = body.indexOf(0x0a, at);
    if (eol === -1) break;
    const size = parseInt(text.decode(body.subarray(at, eol)).trim(), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(body.subarray(eol + 1, eol + 1 + size));
    at = eol + 1 + size + 2;
  }
  return concatBytes(parts);
}

/**
 * Sends `head` (request line + headers, without the final blank line; `\r\n` added between the
 * given lines) and an optional body to 127.0.0.1:`port`; resolves with the parsed reply, or
 * null when the server closed the connection without answering.
 */
export async function rawRequest(
  port: number,
  lines: string[],
  body: Uint8Array | string = '',
  timeoutMs = 10_000,
): Promise<RawReply | null> {
  const bodyBytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  const head = `${[...lines, 'Connection: close'].join('\r\n')}\r\n\r\n`;
  const chunks: Uint8Array[] = [];
  const { promise, resolve } = Promise.withResolvers<void>();
  const socket = await Bun.connect({
    hostname: '127.0.0.1',
    port,
    socket: {
      data(_s, data) {
        chunks.push(new Uint8Array(data));
      },
      close() {
        resolve();
      },
      error() {
        resolve();
      },
      end() {
        resolve();
      },
    },
  });
  // latin1: every char of `head` below 256 is sent as that byte (raw bytes in the target)
  socket.write(Uint8Array.from(head, (c) => c.charCodeAt(0) & 0xff));
  if (bodyBytes.byteLength > 0) socket.write(bodyBytes);
  socket.flush();
  const timer = setTimeout(() => socket.end(), timeoutMs);
  await promise;
  clearTimeout(timer);
  const all = concatBytes(chunks);
  const split = all.findIndex((_, i) => all[i] === 0x0d && all[i + 1] === 0x0a && all[i + 2] === 0x0d && all[i + 3] === 0x0a);
  if (split === -1) return null;
  const headText = new TextDecoder('latin1').decode(all.subarray(0, split));
  const [statusLine = '', ...headerLines] = headText.split('\r\n');
  const status = Number(statusLine.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const l of headerLines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  let rest: Uint8Array = all.subarray(split + 4);
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') rest = dechunk(rest);
  else if (headers['content-length'] !== undefined) rest = rest.subarray(0, Number(headers['content-length']));
  return { status, headers, body: rest };
}
