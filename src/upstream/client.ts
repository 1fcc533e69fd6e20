/**
 * The HTTP client of the pull-through mirror: the one way the registry talks to another registry
 * (`mirroring.source`, `mirroring.source_index`). It sits beside the storage drivers and the
 * metadata stores: I/O behind a small interface, so the mirror services (services/mirror-*.ts)
 * hold only the registry rules.
 *
 * What it guarantees to its callers:
 * - Every failure of the upstream is a `RegistryError` with a gateway status, never a raw error:
 *   cannot connect (refused, DNS, reset before the reply) → UPSTREAM_UNAVAILABLE (503); no reply
 *   headers within `timeoutMs`, or no body bytes for `timeoutMs` → UPSTREAM_TIMEOUT (504); a 5xx,
 *   a reply that is not what the protocol says (garbage) or credentials it refuses →
 *   UPSTREAM_BAD_RESPONSE / UPSTREAM_DENIED (502); 429 → UPSTREAM_UNAVAILABLE (503).
 * - Any other reply (2xx, 404 and the other 4xx) is handed back as it came: a 404 is a miss, the
 *   caller decides about the rest.
 * - Authentication as clients do it, driven by the upstream's challenges: a request goes out
 *   with the caller's `authorization` or a token cached for its scope, else bare; on a `401` with
 *   a `Bearer realm=…,service=…,scope=…` challenge, a token from the realm (with the Basic
 *   credentials when there are some, anonymously otherwise), kept per realm, service and scope
 *   until it expires, and the request sent once more with it (a cached token the upstream refuses
 *   is fetched anew once); on a `Basic` challenge the credentials, sent on every request from then
 *   on. Credentials are never sent before a challenge asks for them: a registry in token mode
 *   (this one, Docker Hub) would otherwise check the password on every request instead of a
 *   token. V1's token flow: on a `401` with a `Token` challenge, the caller's `v1Token`
 *   (services/mirror-v1-upstream.ts asks the index for an `X-Docker-Token`) gives the token and
 *   the request is sent once more with `Authorization: Token …`; without `v1Token` (the index's
 *   own request for a token) the Basic credentials answer it.
 * - A body handed back fails with UPSTREAM_TIMEOUT when it stalls for `timeoutMs`, and the
 *   connection is aborted when the caller cancels it.
 */
import { RegistryError } from '../errors.ts';

export interface UpstreamOptions {
  username?: string;
  password?: string;
  /** ms to wait for the reply's headers, and then between two body chunks */
  timeoutMs: number;
  /** for tests: a fetch to call instead of the global one */
  fetch?: typeof fetch;
  userAgent?: string;
}

export interface UpstreamRequest {
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  /** sent instead of the Basic credentials (a V1 `Token …` the caller holds) */
  authorization?: string;
  /**
   * V1's token flow: on a `401` whose challenge is `Token`, a fresh token (an index's
   * `X-Docker-Token` value), or null when there is none to be had; the request is then sent once
   * more with it.
   */
  v1Token?: () => Promise<string | null>;
}

interface Token {
  value: string;
  expiresAt: number;
}

/** The largest JSON reply `json()` accepts (image jsons, manifests, tag lists, token replies). */
const MAX_JSON_BYTES = 16 * 1024 * 1024;

export class Upstream {
  readonly base: string;
  readonly #options: UpstreamOptions;
  readonly #fetch: typeof fetch;
  readonly #basic: string | null;
  readonly #tokens = new Map<string, Token>();
  /** set by the first Basic challenge: the credentials go with every request from then on */
  #basicWanted = false;

  constructor(base: string, options: UpstreamOptions) {
    this.base = base.replace(/\/+$/, '');
    this.#options = options;
    this.#fetch = options.fetch ?? fetch;
    this.#basic = options.username ? `Basic ${Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64')}` : null;
  }

  /** The host the registry's own replies name when they speak of the upstream (logs, errors). */
  get host(): string {
    return new URL(this.base).host;
  }

  /**
   * `path` (starting with `/`, query included) on the upstream. Resolves with the reply for
   * anything but an upstream failure (see the file comment); the body, if read, is guarded by the
   * same timeout.
   */
  async request(path: string, init: UpstreamRequest = {}): Promise<Response> {
    const url = this.base + path;
    const cached = init.authorization ?? this.#cachedTokenFor(url);
    const first = cached ?? (this.#basicWanted ? this.#basic : null);
    let response = await this.#send(url, init, first);
    if (response.status === 401) {
      const challenge = parseChallenge(response.headers.get('www-authenticate'));
      await response.body?.cancel().catch(() => {});
      if (challenge?.scheme === 'bearer' && challenge.params.realm) {
        // a cached token it refused (expired early, signed by a key it no longer has): a new one
        const token = await this.#token(challenge.params, cached !== null);
        response = await this.#send(url, init, `Bearer ${token}`);
      } else if (challenge?.scheme === 'token' && init.v1Token) {
        const token = await init.v1Token();
        if (token) response = await this.#send(url, init, v1Authorization(token));
      } else if (challenge?.scheme === 'basic' || (challenge?.scheme === 'token' && this.#basic !== null)) {
        if (this.#basic === null) throw new RegistryError('UPSTREAM_DENIED', `${this.host} needs credentials (mirroring.username)`);
        if (challenge.scheme === 'basic') this.#basicWanted = true;
        if (first !== this.#basic) response = await this.#send(url, init, this.#basic);
      }
      if (response.status === 401) {
        await response.body?.cancel().catch(() => {});
        throw new RegistryError('UPSTREAM_DENIED', `${this.host} refused the mirror's credentials`);
      }
    }
    if (response.status === 403) {
      await response.body?.cancel().catch(() => {});
      throw new RegistryError('UPSTREAM_DENIED', `${this.host} denied access`);
    }
    if (response.status === 429) {
      await response.body?.cancel().catch(() => {});
      throw new RegistryError('UPSTREAM_UNAVAILABLE', `${this.host} is rate limiting (429)`);
    }
    if (response.status >= 500) {
      await response.body?.cancel().catch(() => {});
      throw new RegistryError('UPSTREAM_BAD_RESPONSE', `${this.host} answered ${response.status}`);
    }
    return response;
  }

  /**
   * Reads a JSON reply (at most 16 MiB); a body that is not JSON is UPSTREAM_BAD_RESPONSE. Returns
   * the raw bytes too, for callers that must keep them exactly (manifests, image jsons).
   */
  async json<T = unknown>(response: Response): Promise<{ value: T; bytes: Uint8Array }> {
    const bytes = await this.bytes(response, MAX_JSON_BYTES);
    try {
      return { value: JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as T, bytes };
    } catch {
      throw new RegistryError('UPSTREAM_BAD_RESPONSE', `${this.host} answered something that is not JSON`);
    }
  }

  /** The whole body, refused past `limit` bytes (UPSTREAM_BAD_RESPONSE). */
  async bytes(response: Response, limit: number): Promise<Uint8Array> {
    const declared = Number(response.headers.get('content-length') ?? NaN);
    if (declared > limit) {
      await response.body?.cancel().catch(() => {});
      throw new RegistryError('UPSTREAM_BAD_RESPONSE', `${this.host} sent ${declared} bytes where at most ${limit} were expected`);
    }
    const parts: Uint8Array[] = [];
    let size = 0;
    if (response.body) {
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > limit) {
          await reader.cancel().catch(() => {});
          throw new RegistryError('UPSTREAM_BAD_RESPONSE', `${this.host} sent more than ${limit} bytes`);
        }
        parts.push(value);
      }
    }
    return Buffer.concat(parts);
  }

  async #send(url: string, init: UpstreamRequest, authorization: string | null): Promise<Response> {
    const controller = new AbortController();
    const headers: Record<string, string> = { 'user-agent': this.#options.userAgent ?? 'docker-registry-mirror', ...init.headers };
    if (authorization) headers.authorization = authorization;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.#options.timeoutMs);
    let response: Response;
    try {
      response = await this.#fetch(url, { method: init.method ?? 'GET', headers, signal: controller.signal, redirect: 'follow' });
    } catch (e) {
      clearTimeout(timer);
      if (timedOut) throw new RegistryError('UPSTREAM_TIMEOUT', `${this.host} did not answer within ${this.#options.timeoutMs} ms`);
      throw new RegistryError('UPSTREAM_UNAVAILABLE', `cannot reach ${this.host}: ${(e as Error).message}`);
    }
    clearTimeout(timer);
    if (!response.body) return response;
    return new Response(guardBody(response.body, controller, this.#options.timeoutMs, this.host), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  }

  /** A token cached for a scope this URL needs: the V2 repository of the path, pull. */
  #cachedTokenFor(url: string): string | null {
    const scope = pullScopeOf(new URL(url).pathname);
    if (!scope) return null;
    const now = Date.now();
    for (const [key, token] of this.#tokens) {
      if (token.expiresAt <= now) this.#tokens.delete(key);
      else if (key.endsWith(`\n${scope}`)) return `Bearer ${token.value}`;
    }
    return null;
  }

  async #token(params: Record<string, string>, renew = false): Promise<string> {
    const realm = params.realm!;
    if (!URL.canParse(realm) || !/^https?:$/.test(new URL(realm).protocol)) {
      throw new RegistryError('UPSTREAM_BAD_RESPONSE', `${this.host} sent a Bearer challenge with an unusable realm`);
    }
    const scope = params.scope ?? '';
    const key = `${realm}\n${params.service ?? ''}\n${scope}`;
    const cached = this.#tokens.get(key);
    if (cached && cached.expiresAt > Date.now() && !renew) return cached.value;
    const url = new URL(realm);
    if (params.service) url.searchParams.set('service', params.service);
    for (const s of scope.split(' ').filter(Boolean)) url.searchParams.append('scope', s);
    const reply = await this.#send(url.href, {}, this.#basic);
    if (reply.status === 401 || reply.status === 403) {
      await reply.body?.cancel().catch(() => {});
      throw new RegistryError('UPSTREAM_DENIED', `${this.host}'s token endpoint refused the mirror's credentials`);
    }
    if (reply.status !== 200) {
      await reply.body?.cancel().catch(() => {});
      throw new RegistryError('UPSTREAM_BAD_RESPONSE', `${this.host}'s token endpoint answered ${reply.status}`);
    }
    const { value } = await this.json<{ token?: unknown; access_token?: unknown; expires_in?: unknown }>(reply);
    const token = typeof value?.token === 'string' ? value.token : typeof value?.access_token === 'string' ? value.access_token : null;
    if (!token) throw new RegistryError('UPSTREAM_BAD_RESPONSE', `${this.host}'s token endpoint sent no token`);
    // the spec's default lifetime is 60 s; keep a margin so a token never expires in flight
    const lifetime = typeof value.expires_in === 'number' && value.expires_in > 0 ? value.expires_in : 60;
    this.#tokens.set(key, { value: token, expiresAt: Date.now() + Math.max(1, lifetime - 10) * 1000 });
    return token;
  }
}

/**
 * The Authorization value for a V1 token as an index hands it out in `X-Docker-Token`: the Hub's
 * value has no `Token ` prefix, this registry's (and the original's) has one.
 */
export const v1Authorization = (token: string): string => (/^\s*token\s/i.test(token) ? token.trim() : `Token ${token.trim()}`);

/** `repository:<name>:pull` for a `/v2/<name>/(manifests|blobs|tags)/…` path; null otherwise. */
function pullScopeOf(pathname: string): string | null {
  const m = /^\/v2\/(.+?)\/(?:manifests|blobs|tags|referrers)\//.exec(pathname);
  return m ? `repository:${m[1]}:pull` : null;
}

/** A WWW-Authenticate challenge: its scheme (lower case) and its parameters. */
export function parseChallenge(header: string | null): { scheme: string; params: Record<string, string> } | null {
  if (!header) return null;
  const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(header);
  if (!m) return null;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  for (const p of m[2]!.matchAll(re)) params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
  return { scheme: m[1]!.toLowerCase(), params };
}

/**
 * The body as a stream that errors with UPSTREAM_TIMEOUT when no chunk comes for `timeoutMs`, with
 * UPSTREAM_BAD_RESPONSE when the connection breaks, and aborts the request when cancelled.
 */
function guardBody(body: ReadableStream<Uint8Array>, controller: AbortController, timeoutMs: number, host: string): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(out) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const stall = new RegistryError('UPSTREAM_TIMEOUT', `${host} stopped sending for ${timeoutMs} ms`);
        let stalledOut = false;
        const stalled = new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            stalledOut = true;
            reject(stall);
            controller.abort();
          }, timeoutMs);
        });
        try {
          const { done, value } = await Promise.race([reader.read(), stalled]);
          if (done) out.close();
          else out.enqueue(value);
        } catch (e) {
          // the abort also rejects the pending read: the stall is the reason
          if (stalledOut) out.error(stall);
          else out.error(e instanceof RegistryError ? e : new RegistryError('UPSTREAM_BAD_RESPONSE', `${host} broke off the reply: ${(e as Error).message}`));
        } finally {
          clearTimeout(timer);
        }
      },
      async cancel(reason) {
        controller.abort(reason);
        await reader.cancel(reason).catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
}
