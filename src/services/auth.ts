/**
 * Access control for `auth: token` (no HTTP types: callers hand in the Authorization header text
 * and the request method).
 *
 * - Accounts: the sign-up rules (./accounts.ts), argon2id password hashes (Bun.password), Basic
 *   credentials.
 * - Tokens: `Token signature=<hex>,repository="<ns>/<name>",access=<read|write|delete>,expires=<epoch s>`
 *   where the signature is HMAC-SHA256 over repository, access and expiry. The repository is the
 *   encoded form the index headers use (`encodedRepoName`).
 * - Rules: a user writes only `<username>/*` (admins anything); public repositories are readable
 *   by any user, and anonymously when `anonymousRead`; a private repository only by its owner
 *   (the user named like its namespace) and admins. An image is reached through a token whose
 *   repository's index image list names it; without a token, an image listed only by private
 *   repositories is "not found".
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { PrivateVisibility, RepoRef, RepositoryRecord, RepositoryStore, UserRecord, UserStore } from '../db/meta.ts';
import { RegistryError, type ErrorCode } from '../errors.ts';
import { createAccount, validateEmail, validatePassword } from './accounts.ts';
import { encodedRepoName } from './names.ts';

/** What authorization reads and writes: accounts, and which repositories are private. */
type AuthStore = UserStore & Pick<RepositoryStore, 'getRepository' | 'repositoriesListingImage'>;

export type Access = 'read' | 'write' | 'delete';

export interface Principal {
  username: string;
  admin: boolean;
}

export interface TokenClaims {
  repository: string;
  access: Access;
  /** Unix time (seconds) after which the token is refused */
  expires: number;
}

export interface AuthOptions {
  secret: string;
  /** token lifetime in seconds */
  ttl: number;
  anonymousRead: boolean;
  /** current Unix time in seconds (tests inject a clock) */
  now?: () => number;
}

/** How long, and for how many credentials, a verified password is remembered (see `login`). */
const VERIFIED_MS = 60_000;
const VERIFIED_ENTRIES = 1000;

/** The WWW-Authenticate challenges of the two 401 kinds. */
const BASIC_CHALLENGE = 'Basic realm="registry"';
const TOKEN_CHALLENGE = 'Token';

const basicError = (code: ErrorCode, detail?: string) =>
  new RegistryError(code, detail, { 'www-authenticate': BASIC_CHALLENGE });
const tokenError = (detail?: string) => new RegistryError('REQUIRES_AUTHORIZATION', detail, { 'www-authenticate': TOKEN_CHALLENGE });

/** GET and HEAD read, PUT and POST write, DELETE deletes (v1-api.md §0, HEAD allowed with read). */
function accessForMethod(method: string): Access | null {
  switch (method.toUpperCase()) {
    case 'GET':
    case 'HEAD':
      return 'read';
    case 'PUT':
    case 'POST':
      return 'write';
    case 'DELETE':
      return 'delete';
    default:
      return null;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `Basic base64(user:password)` → the pair, or null when the header is not Basic (or unreadable). */
function parseBasic(header: string): { username: string; password: string } | null {
  const m = /^\s*basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (!m) return null;
  let text: string;
  try {
    text = Buffer.from(m[1]!, 'base64').toString('utf8');
  } catch {
    return null;
  }
  const colon = text.indexOf(':');
  if (colon < 0) return null;
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

const TOKEN_PAIR = /([A-Za-z_]+)=("([^"]*)"|[^,\s]*)/g;

/** The key=value pairs of a `Token ...` header (tolerates a doubled `Token Token` prefix); null when not a token or a key repeats. */
function parseTokenHeader(header: string): Record<string, string> | null {
  if (!/^\s*token\s/i.test(header)) return null;
  const out: Record<string, string> = {};
  for (const m of header.matchAll(TOKEN_PAIR)) {
    const key = m[1]!.toLowerCase();
    if (key in out) return null;
    out[key] = m[3] ?? m[2]!;
  }
  return out;
}

const isBasicHeader = (h: string | null): h is string => h !== null && /^\s*basic\s/i.test(h);
const isTokenHeader = (h: string | null): h is string => h !== null && /^\s*token\s/i.test(h);

export class AuthService {
  readonly anonymousRead: boolean;
  readonly #meta: AuthStore;
  readonly #secret: string;
  readonly #ttl: number;
  readonly #now: () => number;
  #dummyHash: Promise<string> | undefined;
  /** credentials verified lately (see `login`): key → until when (epoch ms) */
  readonly #verified = new Map<string, number>();

  constructor(meta: AuthStore, opts: AuthOptions) {
    if (opts.secret === '') throw new Error('token secret must not be empty');
    this.#meta = meta;
    this.#secret = opts.secret;
    this.#ttl = opts.ttl;
    this.anonymousRead = opts.anonymousRead;
    this.#now = opts.now ?? (() => Math.floor(Date.now() / 1000));
  }

  // --- accounts ---------------------------------------------------------------------------------

  /** POST /v1/users/: `{username, password, email}`; throws INVALID_USER or USERNAME_TAKEN. */
  async signUp(body: unknown): Promise<void> {
    if (!isObject(body)) throw new RegistryError('INVALID_USER', 'expected an object with username, password and email');
    const created = await createAccount(this.#meta, { username: body.username, password: body.password, email: body.email });
    if (!created) throw new RegistryError('USERNAME_TAKEN');
  }

  /** The account when the password matches, else null (same work whether or not the user exists). */
  async login(username: string, password: string): Promise<Principal | null> {
    const user = username === '' ? null : await this.#meta.getUser(username);
    if (!user) {
      this.#dummyHash ??= Bun.password.hash('not a password');
      await Bun.password.verify(password, await this.#dummyHash).catch(() => false);
      return null;
    }
    // argon2id costs tens of milliseconds by design; clients that send Basic credentials with
    // every request (or ask a token per scope) would pay it each time. A success is remembered
    // briefly, keyed by a hash of the credentials and the stored hash (a password change
    // forgets it); failures are never remembered.
    const key = new Bun.CryptoHasher('sha256').update(`${username}\0${password}\0${user.passwordHash}`).digest('hex');
    const seen = this.#verified.get(key);
    if (seen !== undefined && seen > Date.now()) return principalOf(user);
    const ok = await Bun.password.verify(password, user.passwordHash).catch(() => false);
    if (!ok) return null;
    if (this.#verified.size >= VERIFIED_ENTRIES) this.#verified.clear();
    this.#verified.set(key, Date.now() + VERIFIED_MS);
    return principalOf(user);
  }

  /**
   * The caller named by a Basic Authorization header: null when there is none (or it is not
   * Basic); 401 BAD_CREDENTIALS when the credentials do not verify.
   */
  async basicPrincipal(header: string | null): Promise<Principal | null> {
    if (!isBasicHeader(header)) return null;
    const creds = parseBasic(header);
    const principal = creds ? await this.login(creds.username, creds.password) : null;
    if (!principal) throw basicError('BAD_CREDENTIALS');
    return principal;
  }

  /** Like basicPrincipal, but a missing login is a 401 LOGIN_REQUIRED. */
  async requireUser(header: string | null): Promise<Principal> {
    const principal = await this.basicPrincipal(header);
    if (!principal) throw basicError('LOGIN_REQUIRED');
    return principal;
  }

  /** PUT /v1/users/<name>/: the caller changes their own email and/or password. */
  async updateAccount(caller: Principal, username: string, body: unknown): Promise<void> {
    if (caller.username !== username) throw new RegistryError('FORBIDDEN', 'you may only change your own account');
    if (!isObject(body)) throw new RegistryError('INVALID_USER', 'expected an object with email and/or password');
    const changes: { email?: string; passwordHash?: string } = {};
    if (body.email !== undefined) changes.email = validateEmail(body.email);
    if (body.password !== undefined) changes.passwordHash = await Bun.password.hash(validatePassword(body.password));
    if (!(await this.#meta.updateUser(username, changes))) throw basicError('BAD_CREDENTIALS');
  }

  // --- tokens -----------------------------------------------------------------------------------

  #sign(repository: string, access: Access, expires: number): string {
    return createHmac('sha256', this.#secret).update(`${repository}\n${access}\n${expires}`).digest('hex');
  }

  /** A signed token for one repository and access, valid for the configured ttl. */
  issueToken(ref: RepoRef, access: Access): string {
    const repository = encodedRepoName(ref);
    const expires = this.#now() + this.#ttl;
    return `Token signature=${this.#sign(repository, access, expires)},repository="${repository}",access=${access},expires=${expires}`;
  }

  /** The claims of a valid, unexpired token granting `access`; 401 REQUIRES_AUTHORIZATION otherwise. */
  verifyToken(header: string | null, access: Access): TokenClaims {
    const pairs = header === null ? null : parseTokenHeader(header);
    if (!pairs) throw tokenError();
    const { signature, repository, access: granted, expires } = pairs;
    if (!signature || !repository || !granted || !expires || !/^\d{1,12}$/.test(expires)) throw tokenError();
    if (granted !== 'read' && granted !== 'write' && granted !== 'delete') throw tokenError();
    const expected = Buffer.from(this.#sign(repository, granted, Number(expires)), 'utf8');
    const given = Buffer.from(signature, 'utf8');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw tokenError();
    if (Number(expires) <= this.#now()) throw tokenError();
    if (granted !== access) throw tokenError();
    return { repository, access: granted, expires: Number(expires) };
  }

  // --- rules ------------------------------------------------------------------------------------

  canWrite(principal: Principal, ref: RepoRef): boolean {
    return principal.admin || principal.username === ref.namespace;
  }

  canRead(principal: Principal | null, repo: RepositoryRecord | null): boolean {
    if (repo?.private) return principal !== null && (principal.admin || principal.username === repo.namespace);
    return principal !== null || this.anonymousRead;
  }

  /** Which private repositories a search may list for this caller. */
  searchVisibility(principal: Principal | null): PrivateVisibility {
    if (principal?.admin) return 'all';
    return { namespaces: principal ? [principal.username] : [] };
  }

  /**
   * Index calls (E23–E25): checks the caller (Basic) and returns the token to hand out.
   * Reads need a caller who may read the repository (anonymous when allowed); writes and deletes
   * need a login whose namespace it is (or an admin).
   */
  async indexToken(authorization: string | null, ref: RepoRef, access: Access): Promise<string> {
    const principal = await this.basicPrincipal(authorization);
    if (access === 'read') {
      if (!this.canRead(principal, await this.#meta.getRepository(ref))) {
        if (principal) throw new RegistryError('FORBIDDEN', `${principal.username} may not read ${ref.namespace}/${ref.name}`);
        throw basicError('LOGIN_REQUIRED');
      }
    } else {
      if (!principal) throw basicError('LOGIN_REQUIRED');
      if (!this.canWrite(principal, ref)) {
        throw new RegistryError('FORBIDDEN', `${principal.username} may not push to ${ref.namespace}/${ref.name}`);
      }
    }
    return this.issueToken(ref, access);
  }

  /**
   * Registry routes under `/v1/repositories/<ns>/<name>/`: a token for this repository with the
   * method's access; reads without a token pass for repositories the caller (Basic, or anonymous
   * when allowed: no Authorization header at all) may read.
   */
  async authorizeRepository(authorization: string | null, method: string, ref: RepoRef): Promise<void> {
    const access = accessForMethod(method);
    if (!access) throw tokenError();
    if (isTokenHeader(authorization)) {
      const claims = this.verifyToken(authorization, access);
      if (claims.repository !== encodedRepoName(ref)) throw tokenError();
      return;
    }
    if (access !== 'read' || (authorization !== null && !isBasicHeader(authorization))) throw tokenError();
    const principal = await this.basicPrincipal(authorization);
    if (!principal && !this.anonymousRead) throw tokenError();
    if (!this.canRead(principal, await this.#meta.getRepository(ref))) throw tokenError();
  }

  /**
   * Image routes (`/v1/images/<id>/...`): a token whose repository's index image list names the
   * image (for PUT json a miss is 400 IMAGE_NOT_IN_REPOSITORY, the original's `_images_list`
   * rule). Reads without a token: an image listed only by repositories the caller may not read
   * is 404 Image not found; other images are readable by users, and anonymously when allowed.
   */
  async authorizeImage(authorization: string | null, method: string, id: string, putJson = false): Promise<void> {
    const access = accessForMethod(method);
    if (!access) throw tokenError();
    if (isTokenHeader(authorization)) {
      const claims = this.verifyToken(authorization, access);
      const listing = await this.#meta.repositoriesListingImage(id);
      if (listing.some((repo) => encodedRepoName(repo) === claims.repository)) return;
      if (putJson) throw new RegistryError('IMAGE_NOT_IN_REPOSITORY');
      throw tokenError();
    }
    if (access !== 'read' || (authorization !== null && !isBasicHeader(authorization))) throw tokenError();
    const principal = await this.basicPrincipal(authorization);
    if (!principal && !this.anonymousRead) throw tokenError();
    const listing = await this.#meta.repositoriesListingImage(id);
    if (listing.length > 0 && !listing.some((repo) => this.canRead(principal, repo))) {
      throw new RegistryError('IMAGE_NOT_FOUND');
    }
  }
}

const principalOf = (user: UserRecord): Principal => ({ username: user.username, admin: user.admin });
