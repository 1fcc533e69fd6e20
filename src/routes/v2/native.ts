/**
 * The hot V2 GETs — a manifest by tag or digest, a tag list — dispatched natively from Bun.serve's
 * `routes` (`/v2/*`) without Elysia's routing or the rewrite of multi-part names a Request copy
 * costs: the path is matched here, and the very handlers the app's routes use answer
 * (manifests.ts manifestGet, registry.ts tagsGet), errors through the one renderer. Anything else
 * under /v2/ — another path, a percent-encoded one — goes to the app.
 */
import { errorToResponse, type ErrorLogger } from '../../http/errors.ts';
import { headReply, type AppRoute } from '../../http/native-route.ts';
import { badTargetReply } from '../../http/request-target.ts';

/** `/v2/<name>/manifests/<reference>`: the longest name wins, as in canonical-path.ts. */
const NAME = '[a-z0-9._-]+(?:/[a-z0-9._-]+)*';
const MANIFEST = new RegExp(`^/v2/(${NAME})/manifests/([A-Za-z0-9_.:-]+)$`);
const TAGS = new RegExp(`^/v2/(${NAME})/tags/list$`);

export interface V2HotHandlers {
  manifest: (request: Request, name: string, reference: string) => Promise<Response>;
  tags: (request: Request, name: string, query: { n?: string; last?: string }) => Promise<Response>;
}

const NO_QUERY: { n?: string; last?: string } = Object.freeze({});

function queryOf(url: URL): { n?: string; last?: string } {
  // the usual list has no query: no URLSearchParams to build
  if (url.search === '') return NO_QUERY;
  const out: { n?: string; last?: string } = {};
  const n = url.searchParams.get('n');
  const last = url.searchParams.get('last');
  if (n !== null) out.n = n;
  if (last !== null) out.last = last;
  return out;
}

export function v2NativeRoute(hot: V2HotHandlers, app: AppRoute, log: ErrorLogger): AppRoute {
  return async (request, url) => {
    if (!url) return badTargetReply(request);
    const path = url.pathname;
    const manifest = MANIFEST.exec(path);
    const tags = manifest ? null : TAGS.exec(path);
    if (!manifest && !tags) return app(request, url);
    let response: Response;
    try {
      response = manifest ? await hot.manifest(request, manifest[1]!, manifest[2]!) : await hot.tags(request, tags![1]!, queryOf(url));
    } catch (error) {
      response = errorToResponse('UNKNOWN', error, log, 'v2');
    }
    return request.method === 'HEAD' ? headReply(response) : response;
  };
}
