/**
 * Every route the registry serves, once: the route modules register these paths (so the app's
 * routes are this table; test/metrics/route-label.test.ts checks both ways), and the metric route
 * labels (metrics/route-label.ts), the one-part repository rewrite (canonical-path.ts) and the
 * fuzz request generator (test/helpers/hostile.ts) are derived from it. Elysia path syntax:
 * `:name` is one path segment. Pure data.
 */
export type RouteMethod = 'GET' | 'PUT' | 'POST' | 'DELETE' | 'PATCH';

export interface RouteEntry {
  readonly method: RouteMethod;
  readonly path: string;
}

/** Where the API documentation lives (the committed openapi.json is a copy of `swaggerJson`). */
const SWAGGER_UI_PATH = '/swagger';
export const SWAGGER_ASSETS_PATH = '/swagger/assets';
export const SPEC_PATH = '/swagger/json';

/** The prefix of repository routes; one-part names are rewritten into it (canonical-path.ts). */
export const REPOSITORY_PREFIX = '/v1/repositories/:namespace/:repository';
/**
 * The prefix of V2 repository routes. A V2 name may have several `/`-separated parts; the router
 * sees it as one segment, the parts joined by `%2F` (canonical-path.ts rewrites the path first).
 */
export const V2_REPOSITORY_PREFIX = '/v2/:name';
const IMAGE = '/v1/images/:id';
const V2 = V2_REPOSITORY_PREFIX;
const REPO = REPOSITORY_PREFIX;

const route = <M extends RouteMethod, P extends string>(method: M, path: P) => ({ method, path }) as const;

export const ROUTES = {
  // the API documentation (app/documentation.ts, http/swagger-ui.ts)
  swaggerJson: route('GET', SPEC_PATH),
  swaggerUi: route('GET', SWAGGER_UI_PATH),
  swaggerAsset: route('GET', `${SWAGGER_ASSETS_PATH}/:file`),
  // E1, E2, operations (routes/v1/ping.ts)
  ping: route('GET', '/_ping'),
  pingV1: route('GET', '/v1/_ping'),
  getRoot: route('GET', '/'),
  getMetrics: route('GET', '/metrics'),
  // E3–E10 (routes/v1/images.ts)
  getImageLayer: route('GET', `${IMAGE}/layer`),
  putImageLayer: route('PUT', `${IMAGE}/layer`),
  putImageChecksum: route('PUT', `${IMAGE}/checksum`),
  getImageJson: route('GET', `${IMAGE}/json`),
  putImageJson: route('PUT', `${IMAGE}/json`),
  getImageAncestry: route('GET', `${IMAGE}/ancestry`),
  getImageFiles: route('GET', `${IMAGE}/files`),
  getImageDiff: route('GET', `${IMAGE}/diff`),
  // E11–E19 (routes/v1/repositories.ts)
  listTags: route('GET', `${REPO}/tags`),
  getTag: route('GET', `${REPO}/tags/:tag`),
  putTag: route('PUT', `${REPO}/tags/:tag`),
  deleteTag: route('DELETE', `${REPO}/tags/:tag`),
  getTagJson: route('GET', `${REPO}/tags/:tag/json`),
  getRepositoryJson: route('GET', `${REPO}/json`),
  getRepositoryProperties: route('GET', `${REPO}/properties`),
  putRepositoryProperties: route('PUT', `${REPO}/properties`),
  deleteRepository: route('DELETE', `${REPO}/`),
  deleteRepositoryTags: route('DELETE', `${REPO}/tags`),
  // E21–E26, standalone only (routes/v1/index.ts)
  getUsers: route('GET', '/v1/users'),
  postUsers: route('POST', '/v1/users'),
  putUser: route('PUT', '/v1/users/:username'),
  putRepository: route('PUT', `${REPO}/`),
  putRepositoryImages: route('PUT', `${REPO}/images`),
  getRepositoryImages: route('GET', `${REPO}/images`),
  deleteRepositoryImages: route('DELETE', `${REPO}/images`),
  putRepositoryAuth: route('PUT', `${REPO}/auth`),
  // search, when enabled (routes/v1/search.ts)
  search: route('GET', '/v1/search'),
  // the V2 Bearer token endpoint, auth: token only (routes/v2/token.ts)
  getToken: route('GET', '/v2/token'),
  postToken: route('POST', '/v2/token'),
  // OCI Distribution (routes/v2/*.ts)
  v2Base: route('GET', '/v2/'),
  v2Catalog: route('GET', '/v2/_catalog'),
  v2ListTags: route('GET', `${V2}/tags/list`),
  v2Referrers: route('GET', `${V2}/referrers/:digest`),
  v2GetBlob: route('GET', `${V2}/blobs/:digest`),
  v2DeleteBlob: route('DELETE', `${V2}/blobs/:digest`),
  v2StartUpload: route('POST', `${V2}/blobs/uploads/`),
  v2UploadStatus: route('GET', `${V2}/blobs/uploads/:session`),
  v2PatchUpload: route('PATCH', `${V2}/blobs/uploads/:session`),
  v2PutUpload: route('PUT', `${V2}/blobs/uploads/:session`),
  v2CancelUpload: route('DELETE', `${V2}/blobs/uploads/:session`),
  v2GetManifest: route('GET', `${V2}/manifests/:reference`),
  v2PutManifest: route('PUT', `${V2}/manifests/:reference`),
  v2DeleteManifest: route('DELETE', `${V2}/manifests/:reference`),
} as const satisfies Record<string, RouteEntry>;

export const ROUTE_LIST: readonly RouteEntry[] = Object.values(ROUTES);
