/**
 * `/swagger/json` and `/swagger/cdn` without loading `@elysiajs/swagger` up front: the plugin and
 * its theme package add ~5 MiB to every worker, and almost no request wants the document. The
 * first request builds a twin of the app with the plugin and keeps the twin's answers (the
 * routes never change while a worker runs).
 */
import { Elysia } from 'elysia';
import { ROUTES } from '../http/route-table.ts';

/** The OpenAPI plugin, as `@elysiajs/swagger` exports it. */
export type SwaggerPlugin = typeof import('@elysiajs/swagger').swagger;

export interface Handler {
  handle(request: Request): Promise<Response>;
}

/** What the plugin answers at its two paths, kept once generated. */
interface Generated {
  status: number;
  contentType: string;
  body: string;
}

/** `twin` builds the app with the plugin in place of this module. */
export function lazyDocumentation(twinWith: (plugin: SwaggerPlugin) => Handler) {
  let twin: Promise<Handler> | null = null;
  const generated = new Map<string, Generated>();
  const serve = (path: string) => async (): Promise<Response> => {
    let reply = generated.get(path);
    if (!reply) {
      twin ??= import('@elysiajs/swagger').then(({ swagger }) => twinWith(swagger));
      const res: Response = await (await twin).handle(new Request(`http://localhost${path}`));
      reply = { status: res.status, contentType: res.headers.get('content-type') ?? 'application/json', body: await res.text() };
      if (res.ok) generated.set(path, reply);
    }
    return new Response(reply.body, { status: reply.status, headers: { 'content-type': reply.contentType } });
  };
  return new Elysia({ name: 'documentation.lazy' })
    .get(ROUTES.swaggerJson.path, serve(ROUTES.swaggerJson.path), { detail: { hide: true } })
    .get(ROUTES.swaggerCdn.path, serve(ROUTES.swaggerCdn.path), { detail: { hide: true } });
}
