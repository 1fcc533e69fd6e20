/** E1 `_ping` and E2 `/`. */
import { Elysia } from 'elysia';
import { hostname, release, type as osType } from 'node:os';
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
  return new Elysia({ name: 'routes.ping' })
    .get('/_ping', ping, { detail: { tags: ['ping'], summary: 'Registry liveness and mode' } })
    .get('/v1/_ping', ping, { detail: { tags: ['ping'], summary: 'Registry liveness and mode' } })
    .get('/', () => jsonReply(opts.issue), { detail: { tags: ['ping'], summary: 'Registry banner' } });
}
