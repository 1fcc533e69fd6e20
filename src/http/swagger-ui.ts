/**
 * Swagger UI at `/swagger`, served from the installed `swagger-ui-dist` package: the swagger
 * plugin's own page loads its scripts from unpkg.com, which an offline machine cannot reach.
 * The assets are Bun file imports, so `bun build --compile` embeds them in the binary. None of
 * these routes appears in the OpenAPI document.
 */
import { Elysia } from 'elysia';
import { RegistryError } from '../errors.ts';
import { ROUTES, SWAGGER_ASSETS_PATH } from './route-table.ts';
// Bun file imports give a path (inside the binary once compiled); the package ships no types for them.
// @ts-expect-error -- file import of a CSS asset
import cssPath from 'swagger-ui-dist/swagger-ui.css' with { type: 'file' };
// @ts-expect-error -- file import of a script asset (untyped JS)
import bundlePath from 'swagger-ui-dist/swagger-ui-bundle.js' with { type: 'file' };
// @ts-expect-error -- file import of a script asset (untyped JS)
import presetPath from 'swagger-ui-dist/swagger-ui-standalone-preset.js' with { type: 'file' };
// @ts-expect-error -- file import of an image asset
import favicon32Path from 'swagger-ui-dist/favicon-32x32.png' with { type: 'file' };
// @ts-expect-error -- file import of an image asset
import favicon16Path from 'swagger-ui-dist/favicon-16x16.png' with { type: 'file' };

const JS = 'text/javascript; charset=utf-8';

/** File name under /swagger/assets -> where it is and its content type. */
const FILES: Readonly<Record<string, { path: string; type: string }>> = {
  'swagger-ui.css': { path: cssPath as string, type: 'text/css; charset=utf-8' },
  'swagger-ui-bundle.js': { path: bundlePath as string, type: JS },
  'swagger-ui-standalone-preset.js': { path: presetPath as string, type: JS },
  'favicon-32x32.png': { path: favicon32Path as string, type: 'image/png' },
  'favicon-16x16.png': { path: favicon16Path as string, type: 'image/png' },
};

/** Every asset the page loads, generated ones included (for tests). */
export const SWAGGER_ASSETS: readonly string[] = [...Object.keys(FILES), 'swagger-initializer.js'];

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title: string): string {
  const asset = (name: string) => `${SWAGGER_ASSETS_PATH}/${name}`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${escapeHtml(title)}</title>
  <link rel="stylesheet" href="${asset('swagger-ui.css')}">
  <link rel="icon" type="image/png" href="${asset('favicon-32x32.png')}" sizes="32x32">
  <link rel="icon" type="image/png" href="${asset('favicon-16x16.png')}" sizes="16x16">
  <style>html { box-sizing: border-box; overflow-y: scroll; } *, *::before, *::after { box-sizing: inherit; } body { margin: 0; background: #fafafa; }</style>
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="${asset('swagger-ui-bundle.js')}" charset="utf-8"></script>
  <script src="${asset('swagger-ui-standalone-preset.js')}" charset="utf-8"></script>
  <script src="${asset('swagger-initializer.js')}" charset="utf-8"></script>
</body>
</html>
`;
}

/** The page's start-up script: the local document, no external validator badge. */
function initializer(specUrl: string): string {
  const options = {
    url: specUrl,
    dom_id: '#swagger-ui',
    deepLinking: true,
    displayOperationId: true,
    validatorUrl: null,
  };
  return `window.onload = function () {
  var options = ${JSON.stringify(options)};
  options.presets = [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset];
  options.plugins = [SwaggerUIBundle.plugins.DownloadUrl];
  options.layout = 'StandaloneLayout';
  window.ui = SwaggerUIBundle(options);
};
`;
}

export interface SwaggerUiOptions {
  title: string;
  /** where the page fetches the OpenAPI document */
  specUrl: string;
}

export function swaggerUi({ title, specUrl }: SwaggerUiOptions) {
  const html = page(title);
  const init = initializer(specUrl);
  const hide = { detail: { hide: true } };
  return new Elysia({ name: 'http.swagger-ui' })
    .get(
      ROUTES.swaggerUi.path,
      () => new Response(html, { headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' } }),
      hide,
    )
    .get(
      ROUTES.swaggerAsset.path,
      ({ params }) => {
        if (params.file === 'swagger-initializer.js') {
          return new Response(init, { headers: { 'content-type': JS, 'cache-control': 'no-cache' } });
        }
        const file = Object.hasOwn(FILES, params.file) ? FILES[params.file] : undefined;
        if (!file) throw new RegistryError('NOT_FOUND');
        // the package version is pinned, but a restart may bring another: revalidate after a day
        return new Response(Bun.file(file.path), { headers: { 'content-type': file.type, 'cache-control': 'public, max-age=86400' } });
      },
      hide,
    );
}
