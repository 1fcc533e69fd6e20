/** The contract of the ping routes (ping.ts): model and OpenAPI operations. */
import { t, type Static } from 'elysia';
import { operation, v1Error } from '../../http/openapi.ts';

const Ping = t.Object(
  {
    host: t.Optional(t.Array(t.String(), { description: 'OS type, host name, release, architecture (debug only)' })),
    launch: t.Optional(t.Array(t.String(), { description: 'Command line (debug only)' })),
    versions: t.Optional(
      t.Object({ bun: t.String(), registry: t.String() }, { description: 'Runtime and registry versions (debug only)' }),
    ),
  },
  { description: 'Empty object, or details when the registry runs with debug on' },
);

/** The `_ping` reply (ping.ts pingReply builds it). */
export type Ping = Static<typeof Ping>;

export const pingModels = { Ping };

// --- operations ---------------------------------------------------------------------------------

/** The routes' OpenAPI operations, built afresh for each app, as for the twin that documents it (app/documentation.ts). */
export function pingDocs() {
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
  return {
    ping: pingDoc('ping', 'Registry liveness and mode'),
    pingV1: pingDoc('pingV1', 'Registry liveness and mode (V1 path)'),
    getRoot: operation({
      operationId: 'getRoot',
      tag: 'ping',
      summary: 'Registry banner',
      responses: { 200: { description: 'The configured banner, as a JSON string', body: t.String() } },
    }),
    getMetrics: operation({
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
  };
}
