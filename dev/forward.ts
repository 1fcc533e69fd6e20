/**
 * Forwarding one request to another origin as a transparent HTTP proxy does: the same method, path,
 * query, headers (hop-by-hop ones dropped) and streamed body, redirects and compression left to the
 * client. The one loop the test proxies share (dev/round-robin-proxy.ts, test/helpers/recording-proxy.ts).
 */

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authenticate', 'proxy-authorization'];

/** `headers` without the hop-by-hop ones (and without `also`, e.g. `host`). */
export function endToEnd(headers: Headers, also: readonly string[] = []): Headers {
  const out = new Headers(headers);
  for (const h of [...HOP_BY_HOP, ...also]) out.delete(h);
  return out;
}

/** Sends `req` to `origin` (e.g. `http://127.0.0.1:5000`); rejects when the origin cannot be reached. */
export function forward(origin: string, req: Request, options: { dropHeaders?: readonly string[] } = {}): Promise<Response> {
  const url = new URL(req.url);
  const hasBody = req.body !== null && req.method !== 'GET' && req.method !== 'HEAD';
  return fetch(`${origin}${url.pathname}${url.search}`, {
    method: req.method,
    headers: endToEnd(req.headers, options.dropHeaders),
    body: hasBody ? req.body : undefined,
    redirect: 'manual',
    decompress: false,
  } as RequestInit);
}
