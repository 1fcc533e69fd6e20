/**
 * Every setting of the registry, with its default, its YAML key and its environment variable.
 * This table is the single definition: `load.ts` reads it, the README lists it.
 * Names follow ../shared/settings.md (never rename; add aliases).
 */
type SettingKind = 'string' | 'int' | 'bool' | 'bytes' | 'enum';

export interface SettingSpec<T> {
  kind: SettingKind;
  /** environment variables, first one wins; later ones are aliases */
  env: readonly string[];
  default: T | (() => T);
  doc: string;
  choices?: readonly string[];
  min?: number;
  max?: number;
}

import { availableParallelism } from 'node:os';

const GiB = 1024 ** 3;

export const settings = {
  host: { kind: 'string', env: ['REGISTRY_HOST'], default: '0.0.0.0', doc: 'address to listen on' },
  port: { kind: 'int', env: ['REGISTRY_PORT'], default: 5000, min: 0, max: 65535, doc: 'port to listen on (0 picks a free one)' },
  workers: {
    kind: 'int',
    env: ['REGISTRY_WORKERS', 'GUNICORN_WORKERS'],
    default: () => availableParallelism(),
    min: 1,
    max: 256,
    doc: 'worker processes the supervisor keeps running',
  },
  pidfile: { kind: 'string', env: ['REGISTRY_PIDFILE'], default: '', doc: "file the supervisor writes its pid to, like gunicorn's --pid (empty: none)" },
  timeout: {
    kind: 'int',
    env: ['REGISTRY_TIMEOUT'],
    default: 30,
    min: 0,
    max: 86_400,
    doc: 'seconds a worker may go without a heartbeat before it is killed and replaced (0 disables)',
  },
  graceful_timeout: {
    kind: 'int',
    env: ['REGISTRY_GRACEFUL_TIMEOUT'],
    default: 30,
    min: 0,
    max: 86_400,
    doc: 'seconds a stopping worker may spend finishing in-flight requests (uploads included) before it is killed',
  },
  boot_timeout: {
    kind: 'int',
    env: ['REGISTRY_BOOT_TIMEOUT'],
    default: 30,
    min: 1,
    max: 3600,
    doc: 'seconds a new worker may take to start listening before it counts as a boot failure',
  },
  max_boot_failures: {
    kind: 'int',
    env: ['REGISTRY_MAX_BOOT_FAILURES'],
    default: 5,
    min: 1,
    max: 1000,
    doc: 'boot failures in a row after which the supervisor halts (exit code 3)',
  },
  max_requests: {
    kind: 'int',
    env: ['REGISTRY_MAX_REQUESTS'],
    default: 0,
    min: 0,
    doc: 'requests after which a worker is recycled (0: never); its replacement starts first',
  },
  max_requests_jitter: {
    kind: 'int',
    env: ['REGISTRY_MAX_REQUESTS_JITTER'],
    default: 0,
    min: 0,
    doc: 'random extra requests (0..jitter) added to max_requests per worker, so workers do not recycle together',
  },
  tcp_migrate_req: {
    kind: 'bool',
    env: ['REGISTRY_TCP_MIGRATE_REQ'],
    default: true,
    doc: 'at startup, turn on the net.ipv4.tcp_migrate_req sysctl where allowed (root), so connections queued on a stopping worker move to another instead of being reset',
  },
  errorlog: { kind: 'string', env: ['REGISTRY_ERRORLOG'], default: '-', doc: 'error log file (- for stderr); reopened on SIGUSR1' },
  accesslog: { kind: 'string', env: ['REGISTRY_ACCESSLOG'], default: '-', doc: 'access log file (- for stdout, off to disable); reopened on SIGUSR1' },
  loglevel: {
    kind: 'enum',
    env: ['REGISTRY_LOGLEVEL'],
    default: 'info',
    choices: ['debug', 'info', 'warning', 'error', 'critical'],
    doc: 'lowest level written to the error log',
  },
  storage_path: { kind: 'string', env: ['STORAGE_PATH'], default: './data', doc: 'local storage root; also holds the SQLite database' },
  storage: {
    kind: 'enum',
    env: ['STORAGE'],
    default: 'fs',
    choices: ['fs', 'file', 'local', 'memory', 'inmemory', 's3'],
    doc: 'storage driver: fs (aliases file, local), s3 (an S3 bucket: see the s3_* settings) or memory (tests only; lost on exit)',
  },
  storage_redirect: { kind: 'bool', env: ['STORAGE_REDIRECT'], default: false, doc: 'answer layer GETs with a 302 to a URL from the storage driver, for drivers that can make one (s3: a presigned GET; fs and memory cannot: they always stream)' },
  s3_endpoint: { kind: 'string', env: ['S3_ENDPOINT'], default: '', doc: 'S3 service URL, e.g. http://127.0.0.1:7480 (empty: AWS S3 in s3_region)' },
  s3_bucket: { kind: 'string', env: ['S3_BUCKET'], default: '', doc: 'bucket that holds the layers; required with storage s3' },
  s3_region: { kind: 'string', env: ['S3_REGION'], default: '', doc: 'signing region, e.g. us-east-1; required with storage s3 (never guessed: strict servers reject a wrong one)' },
  s3_access_key_id: { kind: 'string', env: ['S3_ACCESS_KEY_ID'], default: '', doc: 'S3 access key id' },
  s3_secret_access_key: { kind: 'string', env: ['S3_SECRET_ACCESS_KEY'], default: '', doc: 'S3 secret access key' },
  s3_path_style: {
    kind: 'enum',
    env: ['S3_PATH_STYLE'],
    default: 'auto',
    choices: ['auto', 'true', 'false'],
    doc: 'path-style URLs (<endpoint>/<bucket>/<key>); auto: true with s3_endpoint, false (virtual-hosted) on AWS',
  },
  s3_prefix: { kind: 'string', env: ['S3_PREFIX'], default: '', doc: 'folder inside the bucket for all keys (empty: the bucket root)' },
  s3_presign_expiry: {
    kind: 'int',
    env: ['S3_PRESIGN_EXPIRY'],
    default: 1200,
    min: 1,
    max: 604_800,
    doc: 'seconds a presigned layer URL (storage_redirect) stays valid',
  },
  db: { kind: 'string', env: ['REGISTRY_DB'], default: '', doc: 'metadata database: empty for SQLite at <storage_path>/registry.db, the path of a SQLite file, or a postgres:// URL (PostgreSQL, for several nodes sharing one store)' },
  auth: {
    kind: 'enum',
    env: ['REGISTRY_AUTH'],
    default: 'open',
    choices: ['open', 'token'],
    doc: 'open: the original standalone behaviour (anyone may push anywhere); token: accounts, signed repository tokens, namespaces and private repositories',
  },
  token_secret: {
    kind: 'string',
    env: ['REGISTRY_TOKEN_SECRET'],
    default: '',
    doc: 'HMAC secret that signs tokens (token mode); empty: generated once and kept in <storage_path>/token.secret',
  },
  token_ttl: {
    kind: 'int',
    env: ['REGISTRY_TOKEN_TTL'],
    default: 3600,
    min: 1,
    max: 31_536_000,
    doc: 'seconds a token stays valid (token mode)',
  },
  token_realm: {
    kind: 'string',
    env: ['REGISTRY_TOKEN_REALM'],
    default: '',
    doc: 'token mode, /v2/: the token endpoint URL sent as the Bearer challenge realm (empty: <request origin>/v2/token)',
  },
  token_service: {
    kind: 'string',
    env: ['REGISTRY_TOKEN_SERVICE'],
    default: '',
    doc: 'token mode, /v2/: the service name of the Bearer challenge and the audience of tokens (empty: the request Host)',
  },
  anonymous_read: {
    kind: 'bool',
    env: ['REGISTRY_ANONYMOUS_READ'],
    default: true,
    doc: 'token mode: public repositories can be pulled without credentials',
  },
  upload_purge_age: {
    kind: 'int',
    env: ['REGISTRY_UPLOAD_PURGE_AGE'],
    default: 86_400,
    min: 60,
    doc: 'seconds after which an abandoned temporary upload is deleted (at startup, then every purge interval)',
  },
  upload_purge_interval: {
    kind: 'int',
    env: ['REGISTRY_UPLOAD_PURGE_INTERVAL'],
    default: 3600,
    min: 1,
    doc: 'seconds between purges of abandoned temporary uploads',
  },
  gc_interval: {
    kind: 'int',
    env: ['REGISTRY_GC_INTERVAL'],
    default: 0,
    min: 0,
    doc: 'seconds between garbage collections run by the workers (one collector at a time across nodes); 0: only `bun run admin -- gc`',
  },
  gc_grace: {
    kind: 'int',
    env: ['REGISTRY_GC_GRACE'],
    default: 3600,
    min: 0,
    doc: 'seconds an unreachable blob, image or manifest is kept before garbage collection deletes it, so a push in flight is never swept',
  },
  'mirroring.source': {
    kind: 'string',
    env: ['MIRROR_SOURCE'],
    default: '',
    doc: 'pull-through mirror: the upstream registry URL (http or https; empty: no mirroring). _ping then says mirror',
  },
  'mirroring.source_index': {
    kind: 'string',
    env: ['MIRROR_SOURCE_INDEX'],
    default: '',
    doc: 'pull-through mirror: the upstream index URL for the index routes (repository images, search); empty: mirroring.source',
  },
  'mirroring.tags_cache_ttl': {
    kind: 'int',
    env: ['MIRROR_TAGS_CACHE_TTL'],
    default: 172_800,
    min: 0,
    doc: 'pull-through mirror: seconds a tag fetched from upstream is served before it is checked upstream again (served from the cache while upstream is down)',
  },
  'mirroring.username': { kind: 'string', env: ['MIRROR_USERNAME'], default: '', doc: 'pull-through mirror: account on the upstream (Basic auth, or the Docker token flow)' },
  'mirroring.password': { kind: 'string', env: ['MIRROR_PASSWORD'], default: '', doc: 'pull-through mirror: password of mirroring.username' },
  'mirroring.timeout': {
    kind: 'int',
    env: ['MIRROR_TIMEOUT'],
    default: 30,
    min: 1,
    max: 3600,
    doc: 'pull-through mirror: seconds to wait for upstream to answer (headers) and between body bytes before the request fails with 504',
  },
  standalone: { kind: 'bool', env: ['STANDALONE'], default: true, doc: 'serve the index routes (users, repository images, auth)' },
  search: { kind: 'bool', env: ['REGISTRY_SEARCH'], default: true, doc: 'serve GET /v1/search' },
  issue: { kind: 'string', env: ['REGISTRY_ISSUE'], default: '"docker-registry server"', doc: 'text served as a JSON string at GET /' },
  registry_endpoints: { kind: 'string', env: ['REGISTRY_ENDPOINTS'], default: '', doc: 'X-Docker-Endpoints value (empty: the request Host header)' },
  max_body_size: {
    kind: 'bytes',
    env: ['REGISTRY_MAX_BODY_SIZE'],
    default: 64 * GiB,
    min: 1024,
    doc: 'largest accepted request body (a layer), bytes or with a K/M/G/T suffix',
  },
  max_json_size: {
    kind: 'bytes',
    env: ['REGISTRY_MAX_JSON_SIZE'],
    default: 4 * 1024 * 1024,
    min: 1024,
    doc: 'largest accepted JSON body (image json, tags, index lists)',
  },
  idle_timeout: {
    kind: 'int',
    env: ['REGISTRY_IDLE_TIMEOUT'],
    default: 255,
    min: 0,
    max: 255,
    doc: 'seconds a connection may stay silent (Bun maximum 255; 0 disables) — a stalled upload is dropped after this',
  },
  debug: { kind: 'bool', env: ['REGISTRY_DEBUG'], default: false, doc: '_ping also reports host and versions' },
} as const satisfies Record<string, SettingSpec<unknown>>;

type Specs = typeof settings;
type ValueOf<S> = S extends { kind: 'int' | 'bytes' }
  ? number
  : S extends { kind: 'bool' }
    ? boolean
    : string;

/**
 * Whether the `db` setting names a PostgreSQL database (`postgres://…`, `postgresql://…`) rather
 * than a SQLite file: the one test config validation and the store opener share.
 */
export const isPostgresUrl = (db: string): boolean => /^postgres(ql)?:/i.test(db.trim());

export type Config = { readonly [K in keyof Specs]: ValueOf<Specs[K]> };
export type SettingName = keyof Specs;
