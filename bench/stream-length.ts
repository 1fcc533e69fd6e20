/**
 * `bun bench/stream-length.ts`: which response bodies `Bun.serve` sends with the Content-Length
 * the handler set, and which it sends chunked. This is the measurement behind the README's limit
 * "no Content-Length on streamed S3 layer GETs": a layer streamed from S3 through the node is a
 * ReadableStream, and every kind of stream body loses the length; only bodies Bun can size itself
 * (bytes in memory, a regular file) keep one. Each body is 3,000,000 bytes; the reply's head is
 * read off a raw socket, so nothing in between adds or drops a header.
 */
import { connect } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOST } from './lib/servers.ts';

const SIZE = 3_000_000;
const CHUNK = 65536;
const data = new Uint8Array(SIZE).fill(65);
const dir = mkdtempSync(join(tmpdir(), 'stream-length-'));
const file = join(dir, 'layer');
writeFileSync(file, data);

function pulled(): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(c) {
      if (sent >= SIZE) return c.close();
      c.enqueue(data.subarray(sent, Math.min(SIZE, (sent += CHUNK))));
    },
  });
}

async function* iterated() {
  for (let s = 0; s < SIZE; s += CHUNK) yield data.subarray(s, Math.min(SIZE, s + CHUNK));
}

/** body kind → the Response the handler returns, always with `Content-Length: SIZE` set */
const bodies: Record<string, (req: Request, origin: string) => Response | Promise<Response>> = {
  'ReadableStream (pull)': () => new Response(pulled()),
  'ReadableStream (type: "bytes")': () =>
    new Response(new ReadableStream({ type: 'bytes', start: (c) => (c.enqueue(data.slice()), c.close()) })),
  'async iterable': () => new Response(iterated() as unknown as ReadableStream),
  'proxied fetch() Response': async (_req, origin) => {
    const upstream = await fetch(`${origin}/file`);
    return new Response(upstream.body);
  },
  'Blob in memory': () => new Response(new Blob([data])),
  'Bun.file (regular file)': () => new Response(Bun.file(file)),
  'HEAD, null body': () => new Response(null),
};

const server = Bun.serve({
  hostname: HOST,
  port: 0,
  async fetch(req) {
    const path = decodeURIComponent(new URL(req.url).pathname.slice(1));
    const make = path === 'file' ? bodies['Bun.file (regular file)'] : bodies[path];
    if (!make) return new Response('?', { status: 404 });
    const res = await make(req, `http://${HOST}:${server.port}`);
    res.headers.set('content-length', String(SIZE));
    return res;
  },
});

/** The reply head to one request, read off a raw socket (the body is drained and discarded). */
function head(method: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port!, HOST);
    let text = '';
    socket.on('data', (b) => {
      text += b.toString('latin1', 0, Math.min(b.length, 4096));
      const end = text.indexOf('\r\n\r\n');
      if (end >= 0) {
        socket.destroy();
        resolve(text.slice(0, end));
      }
    });
    socket.on('error', reject);
    socket.write(`${method} /${encodeURIComponent(path)} HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`);
  });
}

const rows: string[][] = [];
for (const kind of Object.keys(bodies)) {
  const reply = await head(kind.startsWith('HEAD') ? 'HEAD' : 'GET', kind);
  const length = /^content-length: *(\d+)/im.exec(reply)?.[1];
  const chunked = /^transfer-encoding: *chunked/im.test(reply);
  rows.push([kind, length ?? '—', chunked ? 'chunked' : '—', length === String(SIZE) ? 'kept' : 'lost']);
}
server.stop(true);
rmSync(dir, { recursive: true, force: true });

console.log(`Bun ${Bun.version}, Bun.serve, handler sets Content-Length: ${SIZE}\n`);
console.log('| body | Content-Length sent | Transfer-Encoding | handler length |');
console.log('|---|---|---|---|');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
