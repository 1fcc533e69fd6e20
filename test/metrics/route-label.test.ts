/** Metric labels: every route of the API maps to its template, anything else to `other`. */
import { describe, expect, test } from 'bun:test';
import { loadConfig } from '../../src/config/load.ts';
import { SqliteMetaStore } from '../../src/db/sqlite/store.ts';
import { createApp } from '../../src/app/app.ts';
import { ROUTE_LIST } from '../../src/http/route-table.ts';
import { methodLabel, OTHER, routeLabel } from '../../src/metrics/route-label.ts';
import { MemoryDriver } from '../../src/storage/memory.ts';

/** Every optional route module on: index, search, and token mode's /v2/token. */
const ALL_MODULES = { standalone: true, search: true, auth: 'token', token_secret: 'route-label-test' } as const;

describe('routeLabel', () => {
  test.each([
    ['GET', '/', '/'],
    ['GET', '/_ping', '/_ping'],
    ['GET', '/metrics', '/metrics'],
    ['GET', '/v1/_ping', '/v1/_ping'],
    ['GET', '/v1/_ping/', '/v1/_ping'],
    ['HEAD', '/v1/_ping', '/v1/_ping'],
    ['GET', '/v1/images/abcdef0123456789/layer', '/v1/images/{id}/layer'],
    ['HEAD', '/v1/images/abcdef0123456789/layer', '/v1/images/{id}/layer'],
    ['PUT', '/v1/images/abcdef0123456789/layer', '/v1/images/{id}/layer'],
    ['PUT', '/v1/images/abcdef0123456789/checksum', '/v1/images/{id}/checksum'],
    ['GET', '/v1/images/abcdef0123456789/json', '/v1/images/{id}/json'],
    ['PUT', '/v1/images/abcdef0123456789/json', '/v1/images/{id}/json'],
    ['GET', '/v1/images/abcdef0123456789/ancestry', '/v1/images/{id}/ancestry'],
    ['GET', '/v1/images/abcdef0123456789/files', '/v1/images/{id}/files'],
    ['GET', '/v1/images/abcdef0123456789/diff', '/v1/images/{id}/diff'],
    ['GET', '/v1/repositories/foo/bar/tags', '/v1/repositories/{namespace}/{repository}/tags'],
    ['DELETE', '/v1/repositories/foo/bar/tags', '/v1/repositories/{namespace}/{repository}/tags'],
    ['GET', '/v1/repositories/foo/bar/tags/latest', '/v1/repositories/{namespace}/{repository}/tags/{tag}'],
    ['PUT', '/v1/repositories/foo/bar/tags/latest', '/v1/repositories/{namespace}/{repository}/tags/{tag}'],
    ['DELETE', '/v1/repositories/foo/bar/tags/latest', '/v1/repositories/{namespace}/{repository}/tags/{tag}'],
    ['GET', '/v1/repositories/foo/bar/tags/latest/json', '/v1/repositories/{namespace}/{repository}/tags/{tag}/json'],
    ['GET', '/v1/repositories/foo/bar/json', '/v1/repositories/{namespace}/{repository}/json'],
    ['GET', '/v1/repositories/foo/bar/properties', '/v1/repositories/{namespace}/{repository}/properties'],
    ['PUT', '/v1/repositories/foo/bar/properties', '/v1/repositories/{namespace}/{repository}/properties'],
    ['DELETE', '/v1/repositories/foo/bar/', '/v1/repositories/{namespace}/{repository}/'],
    ['DELETE', '/v1/repositories/foo/bar', '/v1/repositories/{namespace}/{repository}/'],
    ['PUT', '/v1/repositories/foo/bar/', '/v1/repositories/{namespace}/{repository}/'],
    ['PUT', '/v1/repositories/foo/bar/images', '/v1/repositories/{namespace}/{repository}/images'],
    ['GET', '/v1/repositories/foo/bar/images', '/v1/repositories/{namespace}/{repository}/images'],
    ['GET', '/v2/token', '/v2/token'],
    ['POST', '/v2/token', '/v2/token'],
    ['DELETE', '/v1/repositories/foo/bar/images', '/v1/repositories/{namespace}/{repository}/images'],
    ['PUT', '/v1/repositories/foo/bar/auth', '/v1/repositories/{namespace}/{repository}/auth'],
    ['GET', '/v1/users', '/v1/users'],
    ['POST', '/v1/users', '/v1/users'],
    ['PUT', '/v1/users/someone', '/v1/users/{username}'],
    ['GET', '/v1/search', '/v1/search'],
    ['GET', '/swagger', '/swagger'],
    ['GET', '/swagger/json', '/swagger/json'],
    ['GET', '/swagger/assets/swagger-ui.css', '/swagger/assets/{file}'],
  ])('%s %s → %s', (method, path, template) => {
    expect(routeLabel(method, path)).toBe(template);
  });

  test.each([
    // V2: a name of any number of parts is one {name} (src/http/canonical-path.ts)
    ['GET', '/v2/', '/v2/'],
    ['GET', '/v2/_catalog', '/v2/_catalog'],
    ['GET', '/v2/a/b/c/manifests/latest', '/v2/{name}/manifests/{reference}'],
    ['HEAD', '/v2/busybox/manifests/latest', '/v2/{name}/manifests/{reference}'],
    ['PUT', '/v2/a/b/manifests/sha256:00', '/v2/{name}/manifests/{reference}'],
    ['DELETE', '/v2/a/manifests/x', '/v2/{name}/manifests/{reference}'],
    ['GET', '/v2/a/b/blobs/sha256:00', '/v2/{name}/blobs/{digest}'],
    ['DELETE', '/v2/a/b/blobs/sha256:00', '/v2/{name}/blobs/{digest}'],
    ['POST', '/v2/a/b/blobs/uploads/', '/v2/{name}/blobs/uploads/'],
    ['PATCH', '/v2/a/b/blobs/uploads/0123', '/v2/{name}/blobs/uploads/{session}'],
    ['PUT', '/v2/a/b/c/d/blobs/uploads/0123', '/v2/{name}/blobs/uploads/{session}'],
    ['GET', '/v2/a/b/blobs/uploads/0123', '/v2/{name}/blobs/uploads/{session}'],
    ['DELETE', '/v2/a/blobs/uploads/0123', '/v2/{name}/blobs/uploads/{session}'],
    ['GET', '/v2/a/b/tags/list', '/v2/{name}/tags/list'],
    ['GET', '/v2/a/b/referrers/sha256:00', '/v2/{name}/referrers/{digest}'],
    ['GET', '/v2/a/b/nothing', OTHER],
  ])('%s %s → %s', (method, path, template) => {
    expect(routeLabel(method, path)).toBe(template);
  });

  test.each([
    // one-part names are library/<name>, as the router sees them (src/http/canonical-path.ts)
    ['GET', '/v1/repositories/foo/tags', '/v1/repositories/{namespace}/{repository}/tags'],
    ['GET', '/v1/repositories/foo/tags/latest', '/v1/repositories/{namespace}/{repository}/tags/{tag}'],
    ['PUT', '/v1/repositories/foo/tags/latest', '/v1/repositories/{namespace}/{repository}/tags/{tag}'],
    ['GET', '/v1/repositories/foo/tags/latest/json', '/v1/repositories/{namespace}/{repository}/tags/{tag}/json'],
    ['GET', '/v1/repositories/foo/json', '/v1/repositories/{namespace}/{repository}/json'],
    ['GET', '/v1/repositories/foo/properties', '/v1/repositories/{namespace}/{repository}/properties'],
    ['PUT', '/v1/repositories/foo/images', '/v1/repositories/{namespace}/{repository}/images'],
    ['PUT', '/v1/repositories/foo/auth', '/v1/repositories/{namespace}/{repository}/auth'],
    ['PUT', '/v1/repositories/foo/', '/v1/repositories/{namespace}/{repository}/'],
    ['DELETE', '/v1/repositories/foo', '/v1/repositories/{namespace}/{repository}/'],
  ])('one-part name: %s %s → %s', (method, path, template) => {
    expect(routeLabel(method, path)).toBe(template);
  });

  test('a query string is ignored', () => {
    expect(routeLabel('GET', '/v1/search?q=foo&n=10')).toBe('/v1/search');
    expect(routeLabel('GET', '/v1/images/abc/json?x=/v1/_ping')).toBe('/v1/images/{id}/json');
    expect(routeLabel('GET', '/nothing?q=1')).toBe(OTHER);
  });

  test.each([
    ['GET', '/nothing'],
    ['GET', '/v1'],
    ['GET', '/v1/images/abc'],
    ['GET', '/v1/images/abc/layer/extra'],
    ['GET', '/v1/images//layer'],
    ['GET', '/v1/repositories/'],
    ['GET', '/v1/repositories/a/b/c/tags'],
    // a path the API has, with a method it does not serve there
    ['POST', '/v1/_ping'],
    ['GET', '/v1/images/abc/checksum'],
    ['PATCH', '/v1/images/abc/layer'],
    ['BREW', '/v1/_ping'],
  ])('%s %s → other', (method, path) => {
    expect(routeLabel(method, path)).toBe(OTHER);
  });

  test('labels stay bounded whatever the path', () => {
    const labels = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      labels.add(routeLabel('GET', `/random/${crypto.randomUUID()}`));
      labels.add(routeLabel('GET', `/v1/images/${crypto.randomUUID()}/json`));
      labels.add(routeLabel('GET', `/v1/repositories/${i}/${i}/tags/${i}`));
    }
    expect([...labels].sort()).toEqual(['/v1/images/{id}/json', '/v1/repositories/{namespace}/{repository}/tags/{tag}', OTHER]);
  });
});

test('methodLabel keeps the standard methods and folds the rest into other', () => {
  for (const m of ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS']) expect(methodLabel(m)).toBe(m);
  expect(methodLabel('BREW')).toBe(OTHER);
  expect(methodLabel('get')).toBe(OTHER);
});

test("every route the app declares (all optional modules on) has its template: add new routes to src/http/route-table.ts", () => {
  const config = loadConfig({ env: {}, overrides: ALL_MODULES });
  const meta = SqliteMetaStore.open(':memory:');
  const app = createApp({ config, meta, storage: new MemoryDriver() });
  const routes = app.routes.filter((r) => r.method !== 'ALL' && r.method !== 'WS');
  expect(routes.length).toBeGreaterThan(25);
  const wrong: string[] = [];
  for (const { method, path } of routes) {
    const template = path.replace(/:(\w+)/g, '{$1}');
    const concrete = path.replace(/:(\w+)/g, (_, name: string) => `sample-${name}`);
    const label = routeLabel(method, concrete);
    if (label !== template) wrong.push(`${method} ${path}: ${label}`);
  }
  meta.close();
  expect(wrong).toEqual([]);
});

test('the route table is exactly the routes the app registers (all optional modules on), in order', () => {
  const config = loadConfig({ env: {}, overrides: ALL_MODULES });
  const meta = SqliteMetaStore.open(':memory:');
  const app = createApp({ config, meta, storage: new MemoryDriver() });
  const registered = app.routes.filter((r) => r.method !== 'ALL' && r.method !== 'WS').map((r) => `${r.method} ${r.path}`);
  meta.close();
  expect(registered).toEqual(ROUTE_LIST.map((r) => `${r.method} ${r.path}`));
});
