/** E1 `_ping` and E2 `/`. */
import { Elysia, t } from 'elysia';
import { hostname, release, type as osType } from 'node:os';
import { openapiModels, operation } from '../../http/openapi.ts';
import { jsonReply } from '../../http/reply.ts';

export interface PingOptions {
  standalone: boolean;
  debug: boolean;
  issue: string;
  version: string;
}

export function pingRoutes(opts: PingOptions) {
  const standalone = opts.standalone ? 'True' : 'False';
  const ping = () => {
    const headers: Record<string, string> = { 'x-docker-registry-standalone': standalone };
    if (!opts.debug) return jsonReply({}, 200, headers);
    headers['x-docker-registry-config'] = 'default';
    return jsonReply(
      {
        host: [osType(), hostname(), release(), process.arch],
        launch: process.argv,
        versions: { bun: Bun.version, registry: opts.version },
      },
      200,
      headers,
    );
  };
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
    .use(openapiModels)
    .get('/_ping', ping, pingDoc('ping', 'Registry liveness and mode'))
    .get('/v1/_ping', ping, pingDoc('pingV1', 'Registry liveness and mode (V1 path)'))
    .get(
      '/',
      () => jsonReply(opts.issue),
      operation({
        operationId: 'getRoot',
        tag: 'ping',
        summary: 'Registry banner',
        responses: { 200: { description: 'The configured banner, as a JSON string', body: t.String() } },
      }),
    );
}
