/**
 * `GET /metrics` with real processes (`bun src/main.ts`, 2 workers): whichever worker answers,
 * the text is the sum over all workers plus the supervisor's own metrics.
 */
import { expect, test } from 'bun:test';
import { waitFor, type Supervisor, useSupervisors } from '../helpers/supervisor.ts';
import { metricValue } from './prometheus-text.ts';

const supervisors = useSupervisors();
const start = supervisors.start;


/** A request on a NEW connection (Bun's fetch keeps connections alive), so both workers get traffic. */
const fresh = (url: string, init: RequestInit = {}) =>
  fetch(url, { ...init, headers: { connection: 'close', ...(init.headers as Record<string, string>) } });

async function scrape(s: Supervisor, timeoutMs = 5000): Promise<string> {
  const res = await fresh(`${s.url}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return res.text();
}

const PING = { method: 'GET', route: '/v1/_ping', status: '200' };
const LAYER = '/v1/images/{id}/layer';

test('sums requests, latencies, bytes and uploads over the workers; restarts counted, counts kept across a kill -9', async () => {
  const s = await start({ REGISTRY_WORKERS: '2' });
  expect(s.workers()).toHaveLength(2);

  const pings = 40;
  let pingBytes = 0;
  for (let i = 0; i < pings; i++) {
    const res = await fresh(`${s.url}/v1/_ping`);
    expect(res.status).toBe(200);
    pingBytes += Number(res.headers.get('content-length'));
    await res.arrayBuffer();
  }
  for (let i = 0; i < 5; i++) expect((await fresh(`${s.url}/no/such/path/${i}`)).status).toBe(404);
  for (let i = 0; i < 3; i++) expect((await fresh(`${s.url}/v1/images/${'0'.repeat(15)}${i}/json`)).status).toBe(404);

  // one layer with Content-Length, one chunked; the second is held open half-way to see the gauge
  const [a, b] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2'];
  for (const id of [a, b]) expect((await fresh(`${s.url}/v1/images/${id}/json`, { method: 'PUT', body: JSON.stringify({ id }) })).status).toBe(200);
  const layerA = new Uint8Array(300_000).fill(7);
  expect((await fresh(`${s.url}/v1/images/${a}/layer`, { method: 'PUT', body: layerA })).status).toBe(200);
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const parts = [new Uint8Array(100_000).fill(1), new Uint8Array(23_456).fill(2)];
  const body = new ReadableStream<Uint8Array>({
    async pull(c) {
      if (parts.length === 2) c.enqueue(parts.shift()!);
      else if (parts.length === 1) {
        await held;
        c.enqueue(parts.shift()!);
      } else c.close();
    },
  });
  const uploading = fresh(`${s.url}/v1/images/${b}/layer`, { method: 'PUT', body });
  await waitFor('the upload in progress', async () => metricValue(await scrape(s), 'registry_uploads_in_progress', {}) === 1, 10_000);
  release();
  expect((await uploading).status).toBe(200);

  // several scrapes, on new connections: the same sums whichever worker answers
  const texts = [];
  for (let i = 0; i < 6; i++) texts.push(await scrape(s));
  for (const text of texts) {
    expect(metricValue(text, 'registry_http_requests_total', PING)).toBe(pings);
    expect(metricValue(text, 'registry_http_request_duration_seconds_count', { method: 'GET', route: '/v1/_ping' })).toBe(pings);
    expect(metricValue(text, 'registry_http_request_duration_seconds_bucket', { method: 'GET', route: '/v1/_ping', le: '+Inf' })).toBe(pings);
    expect(metricValue(text, 'registry_http_requests_total', { route: 'other', status: '404' })).toBe(5);
    expect(metricValue(text, 'registry_http_requests_total', { method: 'GET', route: '/v1/images/{id}/json', status: '404' })).toBe(3);
    expect(metricValue(text, 'registry_http_requests_total', { method: 'PUT', route: LAYER, status: '200' })).toBe(2);
    expect(metricValue(text, 'registry_http_response_bytes_total', { method: 'GET', route: '/v1/_ping' })).toBe(pingBytes);
    expect(pingBytes).toBeGreaterThan(0);
    expect(metricValue(text, 'registry_http_request_bytes_total', { method: 'PUT', route: LAYER })).toBe(layerA.length + 123_456);
    expect(metricValue(text, 'registry_uploads_in_progress', {})).toBe(0);
    // the driver base timed the layer uploads' writers (one per PUT layer) in the workers
    expect(metricValue(text, 'registry_storage_operation_duration_seconds_count', { driver: 'fs', operation: 'writer', outcome: 'ok' })).toBe(2);
    expect(metricValue(text, 'registry_workers', {})).toBe(2);
    expect(metricValue(text, 'registry_workers_desired', {})).toBe(2);
    expect(metricValue(text, 'registry_worker_restarts_total', {})).toBe(0);
    expect(metricValue(text, 'registry_worker_boot_failures_total', {})).toBe(0);
    // no raw path in a label, no scrape counted, no worker late
    expect(text).not.toContain('/no/such/path');
    expect(text).not.toContain('/metrics');
    expect(text).not.toMatch(/^# registry:/m);
  }

  // kill -9 of a worker: replaced, one restart; what it counted up to the last scrape stays in
  // the sums (the supervisor keeps a dead worker's last values, so counters never go down; a
  // worker's counts after the last scrape die with it)
  const [victim] = s.workers();
  process.kill(victim!, 'SIGKILL');
  await waitFor('replacement', () => s.workers().length === 2 && !s.workers().includes(victim!));
  await waitFor('3 boots', () => (s.log().match(/Booting worker/g)?.length ?? 0) >= 3);
  for (let i = 0; i < 4; i++) {
    const text = await scrape(s);
    expect(metricValue(text, 'registry_worker_restarts_total', {})).toBe(1);
    expect(metricValue(text, 'registry_workers', {})).toBe(2);
    expect(metricValue(text, 'registry_http_requests_total', PING)).toBe(pings);
    expect(metricValue(text, 'registry_http_request_bytes_total', { method: 'PUT', route: LAYER })).toBe(layerA.length + 123_456);
  }
  expect((await fresh(`${s.url}/v1/_ping`)).status).toBe(200);
  expect(metricValue(await scrape(s), 'registry_http_requests_total', PING)).toBe(pings + 1);
}, 60_000);

test('a worker that cannot answer in time: the sums use its previous values, and the text says so', async () => {
  const s = await start({ REGISTRY_WORKERS: '2' });
  for (let i = 0; i < 20; i++) expect((await fresh(`${s.url}/v1/_ping`)).status).toBe(200);
  expect(metricValue(await scrape(s), 'registry_http_requests_total', PING)).toBe(20);
  const [stopped] = s.workers();
  process.kill(stopped!, 'SIGSTOP');
  try {
    // a connection may land on the stopped worker and wait: retry until the other one answers
    // (in about 1 s: the supervisor's wait for the stopped worker)
    let text = '';
    await waitFor('a scrape answered by the running worker', async () => {
      text = await scrape(s, 2500).catch(() => '');
      return text !== '';
    }, 40_000);
    expect(text).toContain('# registry: 1 of 2 workers did not answer within 1000 ms; their previous values are used');
    expect(metricValue(text, 'registry_http_requests_total', PING)).toBe(20);
  } finally {
    process.kill(stopped!, 'SIGCONT');
  }
}, 60_000);

test('the supervisor does not answer: a worker falls back to its own metrics, and says so', async () => {
  const s = await start({ REGISTRY_WORKERS: '1' });
  for (let i = 0; i < 3; i++) expect((await fresh(`${s.url}/v1/_ping`)).status).toBe(200);
  process.kill(s.pid, 'SIGSTOP');
  try {
    const t = performance.now();
    const text = await scrape(s);
    expect(performance.now() - t).toBeGreaterThanOrEqual(1900);
    expect(text).toMatch(/^# registry: the sum over workers is unavailable \(no answer from the supervisor\); metrics of worker \d+ only$/m);
    expect(metricValue(text, 'registry_http_requests_total', PING)).toBe(3);
    expect(text).not.toContain('registry_workers');
  } finally {
    process.kill(s.pid, 'SIGCONT');
  }
  // and once it is back, the sums again
  expect(metricValue(await scrape(s), 'registry_workers', {})).toBe(1);
}, 60_000);

test('registry_worker_restarts_total: growing the pool is no restart; a reload replaces (restarts) every worker', async () => {
  const s = await start({ REGISTRY_WORKERS: '2' });
  const boots = () => s.log().match(/Booting worker/g)?.length ?? 0;
  const restarts = async () => metricValue(await scrape(s), 'registry_worker_restarts_total', {});

  process.kill(s.pid, 'SIGTTIN');
  await waitFor('3 workers', () => boots() === 3 && s.workers().length === 3);
  const text = await scrape(s);
  expect(metricValue(text, 'registry_worker_restarts_total', {})).toBe(0);
  expect(metricValue(text, 'registry_workers', {})).toBe(3);
  expect(metricValue(text, 'registry_workers_desired', {})).toBe(3);

  // HUP re-reads REGISTRY_WORKERS=2: three workers go, two come, each in the place of another
  process.kill(s.pid, 'SIGHUP');
  await waitFor('all replaced', () => boots() === 5 && s.workers().length === 2);
  expect(await restarts()).toBe(2);

  // TTOU gives a slot up: no restart owed, now or when the pool grows again
  process.kill(s.pid, 'SIGTTOU');
  await waitFor('1 worker', () => s.workers().length === 1);
  process.kill(s.pid, 'SIGTTIN');
  await waitFor('2 workers again', () => boots() === 6 && s.workers().length === 2);
  expect(await restarts()).toBe(2);
}, 60_000);

test('registry_worker_restarts_total: a worker recycled by max_requests is restarted', async () => {
  const s = await start({ REGISTRY_WORKERS: '1', REGISTRY_MAX_REQUESTS: '5', REGISTRY_MAX_REQUESTS_JITTER: '0' });
  const boots = () => s.log().match(/Booting worker/g)?.length ?? 0;
  const [first] = s.workers();
  for (let i = 0; i < 5; i++) await (await fresh(`${s.url}/v1/_ping`)).arrayBuffer();
  await waitFor('the recycled worker gone', () => boots() === 2 && s.workers().length === 1 && !s.workers().includes(first!));
  const text = await scrape(s);
  expect(metricValue(text, 'registry_worker_restarts_total', {})).toBe(1);
  expect(metricValue(text, 'registry_worker_boot_failures_total', {})).toBe(0);
  // no scrape saw its 5 pings, but it handed its final counts over as it stopped
  expect(metricValue(text, 'registry_http_requests_total', PING)).toBe(5);
}, 60_000);
