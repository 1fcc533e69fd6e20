/** E1 `_ping` and E2 `/`. */
import { Elysia } from 'elysia';
import { hostname, release, type as osType } from 'node:os';
import { ROUTES } from '../../http/route-table.ts';
import { errorReply } from '../../http/errors.ts';
import { jsonReply } from '../../http/reply.ts';
import { models } from '../models.ts';
import { pingDocs, type Ping } from './ping.model.ts';

export interface PingOptions {
  standalone: boolean;
  /** pull-through mirror mode (`mirroring.source` set): the header says `mirror`, as the original did */
  mirror: boolean;
  debug: boolean;
  issue: string;
  version: string;
  /** the Prometheus text summed over all workers (given by the worker process); absent: 404 */
  metrics?: () => Promise<Response>;
}

/** The `_ping` reply (E1), built per request (it is a fresh Response each time). */
export function pingReply(opts: Pick<PingOptions, 'standalone' | 'mirror' | 'debug' | 'version'>): () => Response {
  const standalone = opts.mirror ? 'mirror' : opts.standalone ? 'True' : 'False';
  if (!opts.debug) {
    // the same bytes and headers every time: built once (a load balancer calls this constantly)
    const reply = jsonReply({}, 200, { 'x-docker-registry-standalone': standalone });
    const headers = Object.fromEntries(reply.headers);
    return () => new Response('{}', { status: 200, headers });
  }
  return () => {
    const headers: Record<string, string> = { 'x-docker-registry-standalone': standalone };
    headers['x-docker-registry-config'] = 'default';
    const body: Ping = {
      host: [osType(), hostname(), release(), process.arch],
      launch: process.argv,
      versions: { bun: Bun.version, registry: opts.version },
    };
    return jsonReply(body, 200, headers);
  };
}

/** The paths `_ping` answers on (the server also routes them natively, see app/fetch.ts). */
export const PING_PATHS = ['/_ping', '/v1/_ping'] as const;

export function pingRoutes(opts: PingOptions) {
  const ping = pingReply(opts);
  const docs = pingDocs();
  return new Elysia({ name: 'routes.ping' })
    .use(models)
    .get(ROUTES.ping.path, ping, docs.ping)
    .get(ROUTES.pingV1.path, ping, docs.pingV1)
    .get(ROUTES.getRoot.path, () => jsonReply(opts.issue), docs.getRoot)
    .get(ROUTES.getMetrics.path, async () => (opts.metrics ? await opts.metrics() : errorReply('METRICS_UNAVAILABLE')), docs.getMetrics);
}
