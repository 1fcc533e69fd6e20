/** E1 `_ping` and E2 `/`. */
import { Elysia, t } from 'elysia';
import { hostname, release, type as osType } from 'node:os';
import { operation, v1Error } from '../../http/openapi.ts';
import { ROUTES } from '../../http/route-table.ts';
import { errorReply } from '../../http/errors.ts';
import { jsonReply } from '../../http/reply.ts';
import { models } from './models.ts';
import type { Ping } from './ping.model.ts';

export interface PingOptions {
  standalone: boolean;
  debug: boolean;
  issue: string;
  version: string;
  /** the Prometheus text summed over all workers (given by the worker process); absent: 404 */
  metrics?: () => Promise<Response>;
}

/** The `_ping` reply (E1), built per request (it is a fresh Response each time). */
export function pingReply(opts: Pick<PingOptions, 'standalone' | 'debug' | 'version'>): () => Response {
  const standalone = opts.standalone ? 'True' : 'False';
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
  const pingDoc = (operationId: string, summary: string) =>
    operation({
      operationId,
      tag: 'ping',
      summary,
      responses: {
        200: {
          description: 'Alive',
          body: 'Ping',
          headers: {
            'X-Docker-Registry-Standalone': { description: '`True` when the registry acts as its own index, else `False`' },
            'X-Docker-Registry-Config': { description: 'Configuration flavour (debug only)' },
          },
        },
      },
    });
  return new Elysia({ name: 'routes.ping' })
    .use(models)
    .get(ROUTES.ping.path, ping, pingDoc('ping', 'Registry liveness and mode'))
    .get(ROUTES.pingV1.path, ping, pingDoc('pingV1', 'Registry liveness and mode (V1 path)'))
    .get(
      ROUTES.getRoot.path,
      () => jsonReply(opts.issue),
      operation({
        operationId: 'getRoot',
        tag: 'ping',
        summary: 'Registry banner',
        responses: { 200: { description: 'The configured banner, as a JSON string', body: t.String() } },
      }),
    )
    .get(
      ROUTES.getMetrics.path,
      async () => (opts.metrics ? await opts.metrics() : errorReply('METRICS_UNAVAILABLE')),
      operation({
        operationId: 'getMetrics',
        tag: 'ping',
        summary: 'Prometheus metrics, summed over all workers',
        description:
          'Requests by route and status, latency histograms, bytes in and out, uploads in progress, live workers and ' +
          'worker restarts, in the Prometheus text format. Whichever worker answers, the numbers cover every worker ' +
          '(the supervisor collects them); counts of workers that stopped are kept.',
        responses: {
          200: {
            description: 'Prometheus text exposition format 0.0.4',
            body: t.String(),
            mediaType: 'text/plain; version=0.0.4',
          },
          404: v1Error(['METRICS_UNAVAILABLE']),
        },
      }),
    );
}
