/**
 * The metrics pieces without processes: a worker's recording (WorkerMetrics), the worker's
 * questions to the supervisor (Replies), and the supervisor's sums (SupervisorMetrics),
 * with workers simulated in-process and messages passed through JSON as over IPC.
 */
import { describe, expect, test } from 'bun:test';
import { Replies } from '../../src/metrics/client.ts';
import { LAYER_UPLOAD_ROUTE, WorkerMetrics, type MetricsJson } from '../../src/metrics/registry.ts';
import { SupervisorMetrics } from '../../src/metrics/supervisor.ts';
import { metricValue } from './prometheus-text.ts';

const drain = async (request: Request) => {
  let n = 0;
  if (request.body) for await (const chunk of request.body) n += chunk.byteLength;
  return n;
};

describe('WorkerMetrics', () => {
  test('counts requests by method, route template and status, with durations and bytes', async () => {
    const m = new WorkerMetrics();
    for (let i = 0; i < 3; i++) {
      const { finish } = m.begin(new Request('http://x/v1/_ping'), '/v1/_ping');
      finish(new Response('{}', { headers: { 'content-length': '2' } }));
    }
    const miss = m.begin(new Request('http://x/nope/123'), '/nope/123');
    miss.finish(new Response('{"error": "Not found"}', { status: 404, headers: { 'content-length': '22' } }));
    const text = await m.text();
    expect(metricValue(text, 'registry_http_requests_total', { method: 'GET', route: '/v1/_ping', status: '200' })).toBe(3);
    expect(metricValue(text, 'registry_http_requests_total', { route: 'other', status: '404' })).toBe(1);
    expect(text).not.toContain('/nope/123');
    expect(metricValue(text, 'registry_http_request_duration_seconds_count', { route: '/v1/_ping' })).toBe(3);
    expect(metricValue(text, 'registry_http_request_duration_seconds_bucket', { route: '/v1/_ping', le: '+Inf' })).toBe(3);
    expect(metricValue(text, 'registry_http_response_bytes_total', { route: '/v1/_ping' })).toBe(6);
    expect(metricValue(text, 'registry_http_response_bytes_total', { route: 'other' })).toBe(22);
  });

  test('request bytes: Content-Length as declared; a chunked body as read', async () => {
    const m = new WorkerMetrics();
    const declared = m.begin(new Request('http://x/v1/images/a/json', { method: 'PUT', body: 'x'.repeat(100) }), '/v1/images/a/json');
    expect(await drain(declared.request)).toBe(100);
    declared.finish(new Response(null));
    const chunks = [new Uint8Array(1000), new Uint8Array(234)];
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        const next = chunks.shift();
        if (next) c.enqueue(next);
        else c.close();
      },
    });
    const chunked = m.begin(new Request('http://x/v1/images/b/layer', { method: 'PUT', body: stream }), '/v1/images/b/layer');
    expect(chunked.request.url).toBe('http://x/v1/images/b/layer');
    expect(await drain(chunked.request)).toBe(1234);
    chunked.finish(new Response(null));
    const text = await m.text();
    expect(metricValue(text, 'registry_http_request_bytes_total', { route: '/v1/images/{id}/json' })).toBe(100);
    expect(metricValue(text, 'registry_http_request_bytes_total', { route: LAYER_UPLOAD_ROUTE })).toBe(1234);
  });

  test('no response bytes for HEAD, 204 and 304; a handler that threw counts as 500', async () => {
    const m = new WorkerMetrics();
    m.begin(new Request('http://x/v1/_ping', { method: 'HEAD' }), '/v1/_ping').finish(new Response(null, { headers: { 'content-length': '2' } }));
    m.begin(new Request('http://x/v1/images/a/json'), '/v1/images/a/json').finish(new Response(null, { status: 304, headers: { 'content-length': '9' } }));
    m.begin(new Request('http://x/v1/users/u', { method: 'PUT' }), '/v1/users/u').finish(new Response(null, { status: 204, headers: { 'content-length': '9' } }));
    m.begin(new Request('http://x/v1/search'), '/v1/search').finish(null);
    const text = await m.text();
    expect(metricValue(text, 'registry_http_response_bytes_total', {})).toBe(0);
    expect(metricValue(text, 'registry_http_requests_total', { method: 'HEAD', route: '/v1/_ping', status: '200' })).toBe(1);
    expect(metricValue(text, 'registry_http_requests_total', { route: '/v1/search', status: '500' })).toBe(1);
  });

  test('storage calls: one histogram observation per driver call, by driver, operation and outcome', async () => {
    const m = new WorkerMetrics();
    m.storageCall('fs', 'writer', 0.002, true);
    m.storageCall('fs', 'writer', 0.2, true);
    m.storageCall('fs', 'stat', 0.0001, false);
    const text = await m.text();
    const name = 'registry_storage_operation_duration_seconds';
    expect(metricValue(text, `${name}_count`, { driver: 'fs', operation: 'writer', outcome: 'ok' })).toBe(2);
    expect(metricValue(text, `${name}_bucket`, { driver: 'fs', operation: 'writer', outcome: 'ok', le: '0.0025' })).toBe(1);
    expect(metricValue(text, `${name}_sum`, { driver: 'fs', operation: 'writer', outcome: 'ok' })).toBeCloseTo(0.202, 6);
    expect(metricValue(text, `${name}_count`, { driver: 'fs', operation: 'stat', outcome: 'error' })).toBe(1);
  });

  test('uploads in progress: layer PUTs between begin and finish', async () => {
    const m = new WorkerMetrics();
    const uploads = async () => metricValue(await m.text(), 'registry_uploads_in_progress', {});
    const a = m.begin(new Request('http://x/v1/images/a/layer', { method: 'PUT', body: 'a' }), '/v1/images/a/layer');
    const b = m.begin(new Request('http://x/v1/images/b/layer', { method: 'PUT', body: 'b' }), '/v1/images/b/layer');
    const json = m.begin(new Request('http://x/v1/images/c/json', { method: 'PUT', body: '{}' }), '/v1/images/c/json');
    const get = m.begin(new Request('http://x/v1/images/d/layer'), '/v1/images/d/layer');
    expect(await uploads()).toBe(2);
    a.finish(new Response(null));
    a.finish(new Response(null)); // a second call changes nothing
    json.finish(new Response(null));
    get.finish(new Response(null));
    expect(await uploads()).toBe(1);
    b.finish(null);
    expect(await uploads()).toBe(0);
  });
});

describe('Replies', () => {
  test('matches answers by id; null when unsent or unanswered in time', async () => {
    const client = new Replies<string>(100);
    const sent: number[] = [];
    const first = client.request((id) => (sent.push(id), true));
    const second = client.request((id) => (sent.push(id), true));
    client.answer(sent[1]!, 'two');
    client.answer(sent[0]!, 'one');
    expect(await Promise.all([first, second])).toEqual(['one', 'two']);
    expect(await client.request(() => false)).toBeNull();
    const t = performance.now();
    expect(await client.request(() => true)).toBeNull();
    expect(performance.now() - t).toBeGreaterThanOrEqual(90);
    client.answer(99, 'unknown id: ignored');
  });
});

describe('SupervisorMetrics', () => {
  /** in-process workers: each answers `collect` with its registry, through JSON, asynchronously */
  function cluster(pids: number[]) {
    const workers = new Map(pids.map((pid) => [pid, new WorkerMetrics()]));
    const silent = new Set<number>();
    let live = pids.length;
    const sup = new SupervisorMetrics(() => ({ live, desired: 2 }), 200);
    const ask = (pid: number, id: number) => {
      const w = workers.get(pid);
      if (!w) return false;
      if (!silent.has(pid)) {
        const json = w.json();
        setTimeout(() => sup.collected(pid, id, JSON.parse(JSON.stringify(json)) as MetricsJson), 5);
      }
      return true;
    };
    const ping = (pid: number, n: number) => {
      for (let i = 0; i < n; i++) workers.get(pid)!.begin(new Request('http://x/v1/_ping'), '/v1/_ping').finish(new Response('{}'));
    };
    const scrape = () => sup.scrape([...workers.keys()], ask);
    const kill = (pid: number) => {
      workers.delete(pid);
      live--;
      sup.gone(pid);
    };
    return { sup, workers, silent, ping, scrape, kill };
  }
  const pings = (text: string) => metricValue(text, 'registry_http_requests_total', { route: '/v1/_ping', status: '200' });

  test('sums the workers and adds its own metrics', async () => {
    const c = cluster([1, 2]);
    c.ping(1, 3);
    c.ping(2, 4);
    c.sup.workerStarted(false);
    c.sup.workerStarted(false);
    c.sup.workerStarted(true);
    c.sup.bootFailed();
    const text = await c.scrape();
    expect(pings(text)).toBe(7);
    expect(metricValue(text, 'registry_http_request_duration_seconds_count', { route: '/v1/_ping' })).toBe(7);
    expect(metricValue(text, 'registry_workers', {})).toBe(2);
    expect(metricValue(text, 'registry_workers_desired', {})).toBe(2);
    expect(metricValue(text, 'registry_worker_restarts_total', {})).toBe(1);
    expect(metricValue(text, 'registry_worker_boot_failures_total', {})).toBe(1);
    expect(text).not.toContain('did not answer');
  });

  test('a worker that exits keeps its last collected counts (the sums never go down); its gauges go', async () => {
    const c = cluster([1, 2]);
    c.ping(1, 3);
    c.ping(2, 4);
    c.workers.get(1)!.begin(new Request('http://x/v1/images/a/layer', { method: 'PUT' }), '/v1/images/a/layer');
    let text = await c.scrape();
    expect(pings(text)).toBe(7);
    expect(metricValue(text, 'registry_uploads_in_progress', {})).toBe(1);
    c.ping(1, 10); // counted after the last scrape: lost with the worker
    c.kill(1);
    c.ping(2, 1);
    text = await c.scrape();
    expect(pings(text)).toBe(8);
    expect(metricValue(text, 'registry_uploads_in_progress', {})).toBe(0);
    c.kill(2);
    text = await c.scrape();
    expect(pings(text)).toBe(8);
  });

  test('a worker that stops normally hands its final counts over: nothing it counted is lost', async () => {
    const c = cluster([1, 2]);
    c.ping(1, 3);
    expect(pings(await c.scrape())).toBe(3);
    c.ping(1, 4);
    c.sup.final(1, JSON.parse(JSON.stringify(c.workers.get(1)!.json())) as MetricsJson);
    c.kill(1);
    expect(pings(await c.scrape())).toBe(7);
  });

  test('a worker that does not answer in time is summed with its previous values, and the text says so', async () => {
    const c = cluster([1, 2]);
    c.ping(1, 3);
    c.ping(2, 4);
    expect(pings(await c.scrape())).toBe(7);
    c.silent.add(2);
    c.ping(1, 1);
    c.ping(2, 1);
    const t = performance.now();
    const text = await c.scrape();
    expect(performance.now() - t).toBeLessThan(1000);
    expect(text).toContain('# registry: 1 of 2 workers did not answer within 200 ms; their previous values are used');
    expect(pings(text)).toBe(8);
  });

  test('an exit during a scrape ends the wait for that worker', async () => {
    const c = cluster([1, 2]);
    c.ping(1, 2);
    c.silent.add(2);
    const scraping = c.scrape();
    c.kill(2);
    const t = performance.now();
    const text = await scraping;
    expect(performance.now() - t).toBeLessThan(150);
    expect(text).not.toContain('did not answer');
    expect(pings(text)).toBe(2);
  });
});
