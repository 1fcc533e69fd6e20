/**
 * Bearer tokens for the OCI Distribution API (`auth: token`, under /v2/): the token server half
 * (`issue`, GET/POST /v2/token) and the resource server half (`authorize`, every /v2/ route) of
 * Docker's token flow (distribution's docs/spec/auth/token.md, scope.md, jwt.md, oauth.md).
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
const MAX_SCOPES = 32;
const MAX_NAME_LENGTH = 255;
/** The OCI Distribution name grammar (spec "Pulling manifests"). */
const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
/** scope.md's resourcetype (`[a-z]*`), with digits and docker's `repository(plugin)` (ignored as unknown). */
const TYPE = /^[a-z0-9]+(?:\([a-z0-9]+\))?$/;
/** scope.md's action (`[a-z]*`), and `*`. */
const ACTION = /^(?:[a-z]*|\*)$/;

/** The canonical name a RepoRef has in scopes and tokens. */
const scopeName = (ref: RepoRef) => `${ref.namespace}/${ref.name}`;

/** `busybox` → library/busybox, `a/b/c` → {a, b/c}. */
function refOf(name: string): RepoRef {
  const slash = name.indexOf('/');
  return slash < 0 ? { namespace: 'library', name } : { namespace: name.slice(0, slash), name: name.slice(slash + 1) };
}

type Wanted = { type: 'repository'; ref: RepoRef; actions: string[] } | { type: 'catalog'; actions: string[] };

const invalidScope = (why: string) => new RegistryError('V2_TOKEN_REQUEST_INVALID', `invalid_scope: ${why}`);

/**
 * One resource scope (scope.md "Resource Scope Grammar"): `<type>:<name>:<action>[,<action>]*`.
 * A scope that breaks the grammar is a 400: the token spec (token.md "Requesting a Token") only
 * says partial *access* is not an error; its OAuth2 side (oauth.md) defers to RFC 6749, whose
 * §5.2 answers a malformed scope with 400 `invalid_scope`. Unknown types are ignored (null).
 */
function parseScope(text: string): Wanted | null {
  const first = text.indexOf(':');
  const last = text.lastIndexOf(':');
  if (first <= 0 || first === last) throw invalidScope('expected <type>:<name>:<actions>');
  const type = text.slice(0, first);
  const name = text.slice(first + 1, last);
  const actions = text.slice(last + 1).split(',');
  if (!TYPE.test(type)) throw invalidScope('bad resource type');
  if (!actions.every((a) => ACTION.test(a))) throw invalidScope('bad action');
  if (type === 'repository') {
    if (name.length > MAX_NAME_LENGTH || !NAME.test(name)) throw invalidScope('bad repository name');
    return { type: 'repository', ref: refOf(name), actions };
  }
  if (type === 'registry' && name === 'catalog') return { type: 'catalog', actions };
  return null;
}

/** Every scope of the request (space-separated lists split), parsed; throws on a malformed one. */
function parseScopes(scopes: readonly string[]): Wanted[] {
  const texts = scopes.flatMap((s) => s.split(' ')).filter((s) => s !== '');
  if (texts.length > MAX_SCOPES) throw invalidScope(`more than ${MAX_SCOPES} scopes`);
  return texts.map(parseScope).filter((w): w is Wanted => w !== null);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const isAccessEntry = (v: unknown): v is AccessEntry =>
  isObject(v) && typeof v.type === 'string' && typeof v.name === 'string' && Array.isArray(v.actions) && v.actions.every((a) => typeof a === 'string');

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
    this.#auth = auth;
    this.#meta = meta;
    this.#secret = opts.secret;
    this.#ttl = opts.ttl;
    this.#realm = opts.realm;
    this.#service = opts.service;
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
    const challenge = (error?: string) => {
      const scope = name === 'catalog' ? 'registry:catalog:*' : `repository:${scopeName(name)}:${actions.join(',')}`;
      const params = [`realm=${quoted(this.realm(origin))}`, `service=${quoted(this.service(origin))}`, `scope=${quoted(scope)}`];
      if (error) params.push(`error=${quoted(error)}`);
      return new RegistryError('V2_UNAUTHORIZED', undefined, { 'www-authenticate': `Bearer ${params.join(',')}` });
    };
    const denied = (who: Principal) =>
      new RegistryError('V2_DENIED', `${who.username} may not ${name === 'catalog' ? 'list the catalog' : `${actions.join(',')} ${scopeName(name)}`}`);

    if (authorizationHeader === null) {
      if (await this.#allows(null, name, actions)) return;
      throw challenge();
    }
    const bearer = /^\s*bearer\s+(\S+)\s*$/i.exec(authorizationHeader);
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
