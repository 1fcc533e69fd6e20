/**
 * Bearer tokens for the OCI Distribution API (`auth: token`, under /v2/): the token server half
 * (`issue`, GET/POST /v2/token) and the resource server half (`authorize` on every /v2/ route,
 * `authenticate` on GET /v2/) of Docker's token flow (distribution's docs/spec/auth/token.md, scope.md, jwt.md, oauth.md).
 * No HTTP types: callers hand in the Authorization header and the request's origin.
 *
 * - Who may do what are V1's rules (AuthService): `pull` is V1 read (public repositories to any
 *   user, and anonymously when `anonymous_read`; private ones to their owner and admins), `push`
 *   and `delete` are V1 write and delete (`<username>/…`, admins anything); `registry:catalog:*`
 *   only admins. A one-part name is `library/<name>`; `a/b/c` is the RepoRef {a, b/c}.
 * - Tokens are JWTs (HS256, ./jwt.ts) signed with the V1 token secret, claims as jwt.md has them:
 *   iss, sub (the username, '' when anonymous), aud (the service), exp, nbf, iat, jti, access.
 */
import { randomBytes } from 'node:crypto';
import type { RepoRef, RepositoryRecord, RepositoryStore, UserStore } from '../db/meta.ts';
import { RegistryError } from '../errors.ts';
import type { AuthService, Principal } from './auth.ts';
import { signJwt, verifyJwt } from './jwt.ts';
import { parseScopes, scopeName } from './scopes.ts';

export type RepoAction = 'pull' | 'push' | 'delete';

/** One entry of the token's `access` claim (jwt.md "The Bearer token's claim set"). */
export interface AccessEntry {
  type: string;
  name: string;
  actions: string[];
}

export interface TokenRequest {
  /** the `service` parameter; null: the configured service, else the host of `origin` */
  service: string | null;
  /** the `scope` parameters, each possibly a space-separated list */
  scopes: string[];
  /** the token request's origin (`http://host:port`), for the default service */
  origin: string;
}

export interface IssuedToken {
  token: string;
  /** seconds */
  expiresIn: number;
  /** RFC 3339 */
  issuedAt: string;
}

export interface BearerOptions {
  secret: string;
  /** token lifetime in seconds */
  ttl: number;
  /** the token endpoint URL; '' = `<origin>/v2/token` */
  realm: string;
  /** the service (token audience); '' = the host of the request */
  service: string;
  /** current Unix time in seconds (tests inject a clock) */
  now?: () => number;
}

type BearerStore = Pick<RepositoryStore, 'getRepository'> & Pick<UserStore, 'getUser'>;

const ISSUER = 'registry-token-server';
const ALL_ACTIONS: readonly RepoAction[] = ['pull', 'push', 'delete'];
/** A token issued by a node whose clock runs ahead is accepted this much early (nbf only). */
const NBF_LEEWAY = 60;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const isAccessEntry = (v: unknown): v is AccessEntry =>
  isObject(v) && typeof v.type === 'string' && typeof v.name === 'string' && Array.isArray(v.actions) && v.actions.every((a) => typeof a === 'string');

const BEARER = /^\s*bearer\s+(\S+)\s*$/i;
const quoted = (s: string) => `"${s.replace(/["\\]/g, '\\$&')}"`;

export class BearerService {
  readonly #auth: AuthService;
  readonly #meta: BearerStore;
  readonly #secret: string;
  readonly #ttl: number;
  readonly #realm: string;
  readonly #service: string;
  readonly #now: () => number;

  constructor(auth: AuthService, meta: BearerStore, opts: BearerOptions) {
    if (opts.secret === '') throw new Error('token secret must not be empty');
    [this.#auth, this.#meta, this.#secret, this.#ttl] = [auth, meta, opts.secret, opts.ttl];
    [this.#realm, this.#service] = [opts.realm, opts.service];
    this.#now = opts.now ?? (() => Math.floor(Date.now() / 1000));
  }

  /** The token endpoint clients are sent to, for a request from `origin`. */
  realm(origin: string): string {
    return this.#realm || `${origin}/v2/token`;
  }

  /** The service name (the audience tokens must carry), for a request from `origin`. */
  service(origin: string): string {
    return this.#service || new URL(origin).host;
  }

  // --- token server -----------------------------------------------------------------------------

  /**
   * GET /v2/token: Basic credentials (none = anonymous, when `anonymous_read`), then a token
   * granting, of each requested action, those the rules allow (token.md: a subset "must not be
   * considered an error"). Wrong credentials: 401 V2_UNAUTHORIZED.
   */
  async issue(authorizationHeader: string | null, request: TokenRequest): Promise<IssuedToken> {
    let principal: Principal | null = null;
    if (authorizationHeader !== null) {
      if (!/^\s*basic\s/i.test(authorizationHeader)) throw this.#loginError('expected Basic credentials');
      principal = await this.#basic(authorizationHeader);
      if (!principal) throw this.#loginError('wrong login/password');
    }
    return this.#issueFor(principal, request);
  }

  /** POST /v2/token with `grant_type=password` (oauth.md): the same, with the form's credentials. */
  async issueForPassword(username: string, password: string, request: TokenRequest): Promise<IssuedToken> {
    const principal = await this.#auth.login(username, password);
    if (!principal) throw this.#loginError('wrong login/password');
    return this.#issueFor(principal, request);
  }

  async #issueFor(principal: Principal | null, request: TokenRequest): Promise<IssuedToken> {
    if (!principal && !this.#auth.anonymousRead) throw this.#loginError('login required');
    const expected = this.service(request.origin);
    const service = request.service || null;
    if (service !== null && this.#service !== '' && service !== expected) {
      throw new RegistryError('V2_TOKEN_REQUEST_INVALID', `invalid_request: this registry is service ${JSON.stringify(expected)}`);
    }
    const wanted = parseScopes(request.scopes);
    const repos = new Map<string, Promise<RepositoryRecord | null>>();
    const entries = new Map<string, AccessEntry>();
    for (const w of wanted) {
      const entry = w.type === 'catalog' ? { type: 'registry', name: 'catalog' } : { type: 'repository', name: scopeName(w.ref) };
      const key = `${entry.type}:${entry.name}`;
      const actions = entries.get(key)?.actions ?? [];
      if (w.type === 'catalog') {
        if (w.actions.includes('*') && principal?.admin && !actions.includes('*')) actions.push('*');
      } else {
        const repo = repos.get(key) ?? this.#meta.getRepository(w.ref);
        repos.set(key, repo);
        const asked = w.actions.includes('*') ? ALL_ACTIONS : ALL_ACTIONS.filter((a) => w.actions.includes(a));
        for (const action of asked) {
          if (!actions.includes(action) && this.#allowed(principal, w.ref, await repo, action)) actions.push(action);
        }
      }
      entries.set(key, { ...entry, actions });
    }
    const now = this.#now();
    const claims = {
      iss: ISSUER,
      sub: principal?.username ?? '',
      aud: service ?? expected,
      exp: now + this.#ttl,
      nbf: now,
      iat: now,
      jti: randomBytes(16).toString('hex'),
      access: [...entries.values()],
    };
    return { token: signJwt(this.#secret, claims), expiresIn: this.#ttl, issuedAt: new Date(now * 1000).toISOString() };
  }

  #allowed(principal: Principal | null, ref: RepoRef, repo: RepositoryRecord | null, action: RepoAction): boolean {
    if (action === 'pull') return this.#auth.canRead(principal, repo);
    return principal !== null && this.#auth.canWrite(principal, ref);
  }

  /** Whether the rules give `principal` every action (for the catalog: admins only). */
  async #allows(principal: Principal | null, name: RepoRef | 'catalog', actions: readonly RepoAction[]): Promise<boolean> {
    if (name === 'catalog') return principal?.admin === true;
    const repo = actions.includes('pull') ? await this.#meta.getRepository(name) : null;
    return actions.every((action) => this.#allowed(principal, name, repo, action));
  }

  /** The user of a Basic header; null when the credentials do not verify (other failures propagate). */
  async #basic(header: string): Promise<Principal | null> {
    try {
      return await this.#auth.basicPrincipal(header);
    } catch (e) {
      if (e instanceof RegistryError && e.code === 'BAD_CREDENTIALS') return null;
      throw e;
    }
  }

  #loginError(detail: string): RegistryError {
    return new RegistryError('V2_UNAUTHORIZED', detail, { 'www-authenticate': 'Basic realm="registry"' });
  }

  // --- resource server --------------------------------------------------------------------------

  /**
   * Every /v2/ route: resolves when the request may do `actions` on `name`: a Bearer token from
   * `issue` carrying them all (signature, exp, nbf, aud = the service checked), Basic credentials
   * the rules allow, or no header at all for an anonymous pull of a public repository. Otherwise
   * 401 V2_UNAUTHORIZED with the Bearer challenge for exactly this scope, or 403 V2_DENIED when the
   * caller is known and the rules refuse (a token's subject included: a fresh token would not help).
   */
  async authorize(authorizationHeader: string | null, name: RepoRef | 'catalog', actions: readonly RepoAction[], origin: string): Promise<void> {
    const scope = name === 'catalog' ? 'registry:catalog:*' : `repository:${scopeName(name)}:${actions.join(',')}`;
    const challenge = (error?: string) => this.#challenge(origin, scope, error);
    const denied = (who: Principal) =>
      new RegistryError('V2_DENIED', `${who.username} may not ${name === 'catalog' ? 'list the catalog' : `${actions.join(',')} ${scopeName(name)}`}`);

    if (authorizationHeader === null) {
      if (await this.#allows(null, name, actions)) return;
      throw challenge();
    }
    const bearer = BEARER.exec(authorizationHeader);
    if (bearer) {
      const claims = this.#verify(bearer[1]!, origin);
      if (!claims) throw challenge('invalid_token');
      if (covers(claims.access, name, actions)) return;
      const user = claims.sub === '' ? null : await this.#meta.getUser(claims.sub);
      const subject = user ? { username: user.username, admin: user.admin } : null;
      if (subject && !(await this.#allows(subject, name, actions))) throw denied(subject);
      throw challenge('insufficient_scope');
    }
    if (!/^\s*basic\s/i.test(authorizationHeader)) throw challenge();
    const principal = await this.#basic(authorizationHeader);
    if (!principal) throw challenge();
    if (!(await this.#allows(principal, name, actions))) throw denied(principal);
  }

  /**
   * GET /v2/ (the version check `docker login` relies on): any valid token of ours for this
   * service (anonymous ones included) or valid Basic credentials; otherwise 401 V2_UNAUTHORIZED
   * with a Bearer challenge naming no scope.
   */
  async authenticate(authorizationHeader: string | null, origin: string): Promise<void> {
    const bearer = authorizationHeader === null ? null : BEARER.exec(authorizationHeader);
    if (bearer ? this.#verify(bearer[1]!, origin) : authorizationHeader !== null && (await this.#basic(authorizationHeader))) return;
    throw this.#challenge(origin, null, bearer ? 'invalid_token' : undefined);
  }

  /** 401 with `WWW-Authenticate: Bearer realm=…,service=…[,scope=…][,error=…]` (RFC 6750 §3). */
  #challenge(origin: string, scope: string | null, error?: string): RegistryError {
    const params = [`realm=${quoted(this.realm(origin))}`, `service=${quoted(this.service(origin))}`];
    if (scope !== null) params.push(`scope=${quoted(scope)}`);
    if (error) params.push(`error=${quoted(error)}`);
    return new RegistryError('V2_UNAUTHORIZED', undefined, { 'www-authenticate': `Bearer ${params.join(',')}` });
  }

  /** The subject and access of a valid token of ours for this service; null otherwise. */
  #verify(token: string, origin: string): { sub: string; access: AccessEntry[] } | null {
    const claims = verifyJwt(this.#secret, token, { iss: ISSUER, aud: this.service(origin), now: this.#now(), nbfLeeway: NBF_LEEWAY });
    if (!claims || typeof claims.sub !== 'string') return null;
    const access = claims.access;
    if (!Array.isArray(access) || !access.every(isAccessEntry)) return null;
    return { sub: claims.sub, access };
  }
}

/** Whether the access claim grants every action on the resource (`*` grants all). */
function covers(access: readonly AccessEntry[], name: RepoRef | 'catalog', actions: readonly RepoAction[]): boolean {
  const [type, resource] = name === 'catalog' ? ['registry', 'catalog'] : ['repository', scopeName(name)];
  const granted = new Set(access.filter((e) => e.type === type && e.name === resource).flatMap((e) => e.actions));
  if (granted.has('*')) return true;
  return name !== 'catalog' && actions.every((a) => granted.has(a));
}
