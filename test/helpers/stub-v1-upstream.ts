/**
 * A stub V1 registry (Bun.serve on a free loopback port) for the mirror's tests: it serves the
 * images and repositories a test puts in it the way a V1 registry does (json with X-Docker-Size
 * and X-Docker-Checksum-Payload, ancestry, layer, tags, repository json, the index's image list
 * with an X-Docker-Token), counts every request by path, and lets a test replace the reply of
 * any path with a fault (garbage, a 500, slow headers, a body that stalls).
 */
import { payload } from '../../dev/ids.ts';

interface StubImage {
  id: string;
  parent?: string;
  json: string;
  layer: Uint8Array;
  /** headers sent with the json (default: X-Docker-Size and the right X-Docker-Checksum-Payload) */
  jsonHeaders?: Record<string, string>;
}

type Fault = (request: Request) => Response | Promise<Response>;

export interface StubUpstream {
  url: string;
  /** every request's path, in order */
  hits: string[];
  /** how many requests asked for `path` */
  count(path: string): number;
  addImage(image: StubImage): StubImage;
  /** `repo` is `namespace/name` */
  setTags(repo: string, tags: Record<string, string> | null): void;
  setRepositoryJson(repo: string, json: unknown): void;
  /** replaces the reply for `path` (null: back to the normal one) */
  fault(path: string, fault: Fault | null): void;
  /** the Authorization header of each request, in order */
  authorizations: (string | null)[];
  stop(): Promise<void>;
}

/** A V1 image json (with its parent, when it has one). */
export const stubJson = (id: string, parent?: string) => JSON.stringify(parent ? { id, parent, created: '2026-01-01T00:00:00Z' } : { id, created: '2026-01-01T00:00:00Z' });

/** A body that sends `first` bytes, then nothing for `stallMs`, then the rest. */
export function stallingStream(data: Uint8Array, first: number, stallMs: number): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream({
    async pull(c) {
      if (!sent) {
        sent = true;
        c.enqueue(data.slice(0, first));
        return;
      }
      await Bun.sleep(stallMs);
      c.enqueue(data.slice(first));
      c.close();
    },
  });
}

export function startStubUpstream(): StubUpstream {
  const images = new Map<string, StubImage>();
  const tags = new Map<string, Record<string, string>>();
  const repoJson = new Map<string, unknown>();
  const faults = new Map<string, Fault>();
  const hits: string[] = [];
  const authorizations: (string | null)[] = [];
  const ancestry = (id: string): string[] => {
    const image = images.get(id);
    return image?.parent ? [id, ...ancestry(image.parent)] : [id];
  };
  const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 60,
    async fetch(request) {
      const path = new URL(request.url).pathname;
      hits.push(path);
      authorizations.push(request.headers.get('authorization'));
      const fault = faults.get(path);
      if (fault) return fault(request);
      let m = /^\/v1\/images\/([a-f0-9]+)\/(json|ancestry|layer)$/.exec(path);
      if (m) {
        const image = images.get(m[1]!);
        if (!image) return json({ error: 'Image not found' }, 404);
        if (m[2] === 'ancestry') return json(ancestry(image.id));
        if (m[2] === 'layer') return new Response(image.layer, { headers: { 'content-type': 'application/octet-stream' } });
        const headers = image.jsonHeaders ?? {
          'x-docker-size': String(image.layer.byteLength),
          'x-docker-checksum-payload': payload(image.json, image.layer),
        };
        return new Response(image.json, { headers: { 'content-type': 'application/json', ...headers } });
      }
      m = /^\/v1\/repositories\/([^/]+)\/([^/]+)\/(tags|json|images)$/.exec(path);
      if (m) {
        const repo = `${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`;
        const list = tags.get(repo);
        if (m[3] === 'json') return repoJson.has(repo) ? json(repoJson.get(repo)) : json({ error: 'not found' }, 404);
        if (!list) return json({ error: m[3] === 'images' ? 'images not found' : 'Repository not found' }, 404);
        if (m[3] === 'tags') return json(list);
        const token = `Token signature=stub,repository="${repo}",access=read`;
        return json(
          [...new Set(Object.values(list).flatMap(ancestry))].map((id) => ({ id })),
          200,
          { 'x-docker-token': token, 'x-docker-endpoints': new URL(request.url).host },
        );
      }
      return json({ error: 'Not found' }, 404);
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    hits,
    authorizations,
    count: (path) => hits.filter((h) => h === path).length,
    addImage(image) {
      images.set(image.id, image);
      return image;
    },
    setTags: (repo, list) => (list ? tags.set(repo, list) : tags.delete(repo)),
    setRepositoryJson: (repo, value) => repoJson.set(repo, value),
    fault: (path, f) => (f ? faults.set(path, f) : faults.delete(path)),
    stop: () => server.stop(true),
  };
}
