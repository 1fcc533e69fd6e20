/**
 * For the pull-through mirror's tests: a stub upstream registry (Bun.serve on a free port) that
 * serves the manifests, blobs and tag lists put into it and records every request, with a hook to
 * answer anything else instead (failures, garbage, stalls); and a mirror — the real app over an
 * in-memory store, mirroring.source pointing at a URL — served as src/worker/serve.ts serves it
 * (the native V2 routes included).
 */
import { afterEach } from 'bun:test';
import type { Server } from 'bun';
import { createRoute, nativeRoutes } from '../../src/app/fetch.ts';
import type { SettingName } from '../../src/config/schema.ts';
import { digestOf } from '../../src/domain/digest.ts';
import { OCI_MANIFEST } from '../../src/domain/manifest.ts';
import { internalErrorReply } from '../../src/http/errors.ts';
import { requestUrl } from '../../src/http/request-target.ts';
import { makeApp, type TestApp } from './app.ts';

type Override = (request: Request, url: URL) => Response | Promise<Response> | undefined;

interface StubImage {
  manifest: string;
  digest: string;
  config: string;
  configDigest: string;
  layers: { bytes: string; digest: string }[];
}

export interface StubUpstream {
  url: string;
  /** `<METHOD> <path>` of every request, in order */
  seen: string[];
  /** how many requests were `<METHOD> <path>` exactly */
  count(request: string): number;
  /** answers instead of the content when it returns a Response */
  override: Override | null;
  putBlob(bytes: string | Uint8Array): string;
  /** under its digest and, given, a tag; returns the digest */
  putManifest(name: string, content: string, mediaType: string, tag?: string): string;
  /** an OCI image of these layers, its blobs and manifest stored (tagged) */
  putImage(name: string, tag: string, layers: string[], extra?: Record<string, unknown>): StubImage;
  stop(): void;
}

const v2Error = (status: number, code: string) => Response.json({ errors: [{ code, message: code.toLowerCase(), detail: null }] }, { status });

export function stubUpstream(): StubUpstream {
  const blobs = new Map<string, Uint8Array>();
  /** `<name>:<reference>` → manifest */
  const manifests = new Map<string, { content: string; mediaType: string; digest: string }>();
  const seen: string[] = [];
  const stub: StubUpstream = {
    url: '',
    seen,
    count: (request) => seen.filter((s) => s === request).length,
    override: null,
    putBlob(bytes) {
      const digest = digestOf(bytes);
      blobs.set(digest, typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes);
      return digest;
    },
    putManifest(name, content, mediaType, tag) {
      const digest = digestOf(content);
      manifests.set(`${name}:${digest}`, { content, mediaType, digest });
      if (tag) manifests.set(`${name}:${tag}`, { content, mediaType, digest });
      return digest;
    },
    putImage(name, tag, layers, extra = {}) {
      const config = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, tag, layers });
      const configDigest = stub.putBlob(config);
      const stored = layers.map((bytes) => ({ bytes, digest: stub.putBlob(bytes) }));
      const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: Buffer.byteLength(config) },
        layers: stored.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: l.digest, size: Buffer.byteLength(l.bytes) })),
        ...extra,
      });
      const digest = stub.putManifest(name, manifest, OCI_MANIFEST, tag);
      return { manifest, digest, config, configDigest, layers: stored };
    },
    stop: () => server.stop(true),
  };
  const server: Server<undefined> = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 60,
    async fetch(request) {
      const url = new URL(request.url);
      seen.push(`${request.method} ${url.pathname}`);
      const answer = await stub.override?.(request, url);
      if (answer) return answer;
      const manifest = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
      if (manifest) {
        const m = manifests.get(`${manifest[1]}:${manifest[2]}`);
        if (!m) return v2Error(404, 'MANIFEST_UNKNOWN');
        return new Response(m.content, { headers: { 'content-type': m.mediaType, 'docker-content-digest': m.digest } });
      }
      const blob = /^\/v2\/(.+)\/blobs\/([^/]+)$/.exec(url.pathname);
      if (blob) {
        const bytes = blobs.get(blob[2]!);
        if (!bytes) return v2Error(404, 'BLOB_UNKNOWN');
        return new Response(bytes, { headers: { 'content-type': 'application/octet-stream', 'docker-content-digest': blob[2]! } });
      }
      const tags = /^\/v2\/(.+)\/tags\/list$/.exec(url.pathname);
      if (tags) {
        const names = [...manifests.keys()].filter((k) => k.startsWith(`${tags[1]}:`) && !k.includes(':sha256:')).map((k) => k.slice(tags[1]!.length + 1));
        if (names.length === 0) return v2Error(404, 'NAME_UNKNOWN');
        return Response.json({ name: tags[1], tags: names.sort() });
      }
      return v2Error(404, 'NAME_UNKNOWN');
    },
  });
  stub.url = `http://127.0.0.1:${server.port}`;
  return stub;
}

export interface MirrorServer {
  t: TestApp;
  url: string;
  get(path: string, init?: RequestInit): Promise<Response>;
  stop(): void;
}

/** The app with `mirroring.source` = `source` (1 s timeout unless overridden), served natively on a free port. */
export function serveMirror(source: string, overrides: Partial<Record<SettingName, unknown>> = {}): MirrorServer {
  const t = makeApp({ 'mirroring.source': source, 'mirroring.timeout': 1, ...overrides });
  const route = createRoute(t.app);
  const routes = Object.fromEntries(Object.entries(nativeRoutes(t.app)).map(([path, r]) => [path, { GET: (q: Request) => r(q, requestUrl(q)) }]));
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    development: false,
    idleTimeout: 60,
    routes,
    fetch: (q) => route(q, requestUrl(q)),
    error: internalErrorReply,
  });
  const url = `http://127.0.0.1:${server.port}`;
  return {
    t,
    url,
    get: (path, init) => fetch(url + path, init),
    stop() {
      server.stop(true);
      t.close();
    },
  };
}

/** A port nothing listens on (bound, read, closed). */
export function closedPort(): number {
  const probe = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response() });
  const port = probe.port!;
  probe.stop(true);
  return port;
}

/**
 * For a test file: `start` gives a fresh stub upstream and a mirror of it, `track` takes what a
 * test starts itself; all of it is stopped after each test, the last started first.
 */
export function mirrorsPerTest(defaults: Partial<Record<SettingName, unknown>> = {}) {
  const running: { stop(): unknown }[] = [];
  afterEach(() => {
    for (const r of running.splice(0).reverse()) r.stop();
  });
  const track = <T extends { stop(): unknown }>(started: T): T => {
    running.push(started);
    return started;
  };
  return {
    track,
    start(overrides: Partial<Record<SettingName, unknown>> = {}): { up: StubUpstream; m: MirrorServer } {
      const up = track(stubUpstream());
      return { up, m: track(serveMirror(up.url, { ...defaults, ...overrides })) };
    },
  };
}
