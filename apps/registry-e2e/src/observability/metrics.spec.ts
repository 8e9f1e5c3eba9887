/**
 * Prometheus /metrics on the all-in-one: a strict parse of the exposition, RED per route template
 * (never a repository name), bytes in and out, upload sessions open, GC and event figures; the
 * client's X-Request-Id echoed; and WHARF_METRICS_ADDR moving /metrics off the client-facing port.
 */
import { parsePrometheusText, sumSamples, type MetricFamily } from '@wharf/observability/testing';
import {
  RegistryClient,
  buildImage,
  expectError,
  randomBlob,
  sha256,
  withQuery,
} from '../api/support/client';
import { startInProcessRegistry } from '../support/in-process';
import { freePort } from '../support/process';
import type { TestRegistry } from '../support/registry';

const ROUTES = new Set([
  'base',
  'catalog',
  'tags',
  'manifest',
  'blob',
  'uploads',
  'upload',
  'referrers',
  'v2_other',
  'healthz',
  'readyz',
  'metrics',
  'token',
  'jwks',
  'other',
]);

async function scrape(url: string): Promise<Map<string, MetricFamily>> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parsePrometheusText(await res.text());
}

describe('metrics on the all-in-one', () => {
  let registry: TestRegistry;
  let client: RegistryClient;
  const metricsUrl = (): string => `${registry.url}/metrics`;

  beforeAll(async () => {
    registry = await startInProcessRegistry();
    client = new RegistryClient(registry.url);
  });

  afterAll(async () => {
    client?.close();
    await registry?.stop();
  });

  it('serves every expected family on the HTTP port, in a format a strict parser accepts', async () => {
    await client.get('/v2/');
    const families = await scrape(metricsUrl());
    for (const [name, type] of [
      ['wharf_http_requests_total', 'counter'],
      ['wharf_http_request_duration_seconds', 'histogram'],
      ['wharf_http_received_bytes_total', 'counter'],
      ['wharf_http_sent_bytes_total', 'counter'],
      ['wharf_http_requests_in_flight', 'gauge'],
      ['wharf_uploads_open', 'gauge'],
      ['process_resident_memory_bytes', 'gauge'],
      ['process_cpu_seconds_total', 'counter'],
    ] as const) {
      expect({ name, type: families.get(name)?.type }).toEqual({ name, type });
      expect(families.get(name)?.help).toBeTruthy();
    }
  });

  it('counts requests per route template, method and status, and times them', async () => {
    const repo = 'metrics/red';
    const before = await scrape(metricsUrl());
    const image = await client.pushImage(repo, { tag: 'v1' });
    const labels = { route: 'manifest', method: 'GET', status: '200' };
    for (let i = 0; i < 3; i++) expect((await client.get(`/v2/${repo}/manifests/v1`)).status).toBe(200);
    expectError(await client.get(`/v2/${repo}/manifests/nope`), 404, 'MANIFEST_UNKNOWN');
    expectError(await client.get(`/v2/${repo}/blobs/sha256:${'0'.repeat(64)}`), 404, 'BLOB_UNKNOWN');
    const after = await scrape(metricsUrl());
    const delta = (name: string, l: Record<string, string>): number =>
      sumSamples(after, name, l) - sumSamples(before, name, l);
    expect(delta('wharf_http_requests_total', labels)).toBe(3);
    expect(delta('wharf_http_request_duration_seconds_count', labels)).toBe(3);
    expect(delta('wharf_http_request_duration_seconds_sum', labels)).toBeGreaterThan(0);
    expect(delta('wharf_http_requests_total', { ...labels, status: '404' })).toBe(1);
    expect(delta('wharf_http_requests_total', { route: 'blob', method: 'GET', status: '404' })).toBe(1);
    // Pushing went through the upload routes and a manifest PUT.
    expect(delta('wharf_http_requests_total', { route: 'uploads', method: 'POST', status: '202' })).toBe(
      1 + image.layerBlobs.length,
    );
    expect(delta('wharf_http_requests_total', { route: 'upload', method: 'PUT', status: '201' })).toBe(
      1 + image.layerBlobs.length,
    );
    expect(delta('wharf_http_requests_total', { route: 'manifest', method: 'PUT', status: '201' })).toBe(1);
  });

  it('labels routes by template only: no repository name, tag or digest in any label', async () => {
    const repo = 'secret-team/secret-image';
    const digest = await client.pushBlob(repo, randomBlob(1000));
    await client.get(`/v2/${repo}/blobs/${digest}`);
    await client.get(`/v2/${repo}/tags/list`);
    await client.get(`/v2/${repo}/manifests/secret-tag`);
    await client.get('/v2/no/such/route/at/all');
    const text = await (await fetch(metricsUrl())).text();
    expect(text).not.toMatch(/secret|sha256:|no\/such/);
    const families = parsePrometheusText(text);
    const routes = new Set(families.get('wharf_http_requests_total')!.samples.map((s) => s.labels.route));
    for (const r of routes) expect(ROUTES).toContain(r);
    expect(routes).toContain('tags');
    expect(routes).toContain('v2_other');
  });

  it('counts the bytes of a blob upload in and of a blob read out', async () => {
    const repo = 'metrics/bytes';
    const data = randomBlob(300_000);
    const before = await scrape(metricsUrl());
    const digest = await client.pushBlob(repo, data);
    const got = await client.get(`/v2/${repo}/blobs/${digest}`);
    expect(sha256(got.body)).toBe(digest);
    const after = await scrape(metricsUrl());
    const received =
      sumSamples(after, 'wharf_http_received_bytes_total', { route: 'upload' }) -
      sumSamples(before, 'wharf_http_received_bytes_total', { route: 'upload' });
    const sent =
      sumSamples(after, 'wharf_http_sent_bytes_total', { route: 'blob' }) -
      sumSamples(before, 'wharf_http_sent_bytes_total', { route: 'blob' });
    // The body plus headers, not a second copy of it.
    expect(received).toBeGreaterThanOrEqual(data.length);
    expect(received).toBeLessThan(data.length + 4096);
    expect(sent).toBeGreaterThanOrEqual(data.length);
    expect(sent).toBeLessThan(data.length + 4096);
  });

  it('reports upload sessions open, until they complete or are cancelled', async () => {
    const repo = 'metrics/uploads';
    const open = async (): Promise<number> => sumSamples(await scrape(metricsUrl()), 'wharf_uploads_open');
    const base = await open();
    const a = await client.post(`/v2/${repo}/blobs/uploads/`);
    const b = await client.post(`/v2/${repo}/blobs/uploads/`);
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(await open()).toBe(base + 2);
    const data = randomBlob(10);
    expect((await client.put(withQuery(a.location, { digest: sha256(data) }), data)).status).toBe(201);
    expect(await client.delete(b.location)).toMatchObject({ status: 204 });
    expect(await open()).toBe(base);
  });

  it('reports GC queue depth, totals freed and event lag from the metadata tables', async () => {
    // Figures are read at most once a second: let what earlier tests did show.
    const settle = () => new Promise((r) => setTimeout(r, 1100));
    await settle();
    const families = await scrape(metricsUrl());
    for (const [name, type] of [
      ['wharf_gc_queue_depth', 'gauge'],
      ['wharf_gc_overdue_reviews', 'gauge'],
      ['wharf_gc_freed_bytes_total', 'counter'],
      ['wharf_gc_deleted_total', 'counter'],
      ['wharf_events_undelivered', 'gauge'],
      ['wharf_events_lag_seconds', 'gauge'],
    ] as const)
      expect({ name, type: families.get(name)?.type }).toEqual({ name, type });
    const queues = families.get('wharf_gc_queue_depth')!.samples.map((s) => s.labels.queue);
    expect(queues.sort()).toEqual(['blob_deletions', 'blob_reviews', 'manifest_reviews']);
    // An uploaded blob nothing references yet is queued for review (after the review delay).
    const before = sumSamples(families, 'wharf_gc_queue_depth', { queue: 'blob_reviews' });
    await client.pushBlob('metrics/gc', randomBlob(100));
    await settle();
    const after = await scrape(metricsUrl());
    expect(sumSamples(after, 'wharf_gc_queue_depth', { queue: 'blob_reviews' })).toBe(before + 1);
  });

  it('echoes a well-formed X-Request-Id the client sent, and no other', async () => {
    const own = await client.get('/v2/', { 'X-Request-Id': 'client-chosen.id-42' });
    expect(own.header('x-request-id')).toBe('client-chosen.id-42');
    const err = await client.get('/v2/metrics/none/manifests/x', { 'X-Request-Id': 'err-1' });
    expect(err.status).toBe(404);
    expect(err.header('x-request-id')).toBe('err-1');
    // A value that would garble a log line is neither kept nor echoed.
    const hostile = await client.get('/v2/', { 'X-Request-Id': 'a b"c' });
    expect(hostile.status).toBe(200);
    expect(hostile.header('x-request-id')).toBeUndefined();
    // Ids the registry makes up go to its logs and spans, not into every response.
    expect((await client.get('/v2/')).header('x-request-id')).toBeUndefined();
  });

  it('/metrics is not a /v2 route: a repository named metrics is still served', async () => {
    const image = buildImage();
    await client.pushImage('metrics', { tag: 'latest' });
    const res = await client.get('/v2/metrics/manifests/latest', { Accept: image.mediaType });
    expect(res.status).toBe(200);
    expect((await client.post('/metrics')).status).toBe(405);
  });
});

describe('metrics on a listener of their own (WHARF_METRICS_ADDR)', () => {
  let registry: TestRegistry;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    registry = await startInProcessRegistry({ WHARF_METRICS_ADDR: `127.0.0.1:${port}` });
  });

  afterAll(async () => {
    await registry?.stop();
  });

  it('serves /metrics there and nothing else, and no longer on the HTTP port', async () => {
    const url = `http://127.0.0.1:${port}/metrics`;
    const before = await scrape(url);
    const client = new RegistryClient(registry.url);
    try {
      expect((await client.get('/v2/')).status).toBe(200);
      expect((await client.get('/metrics')).status).toBe(404);
    } finally {
      client.close();
    }
    const after = await scrape(url);
    // The registry is the process's: another registry in this jest worker counts into it too.
    const delta = (l: Record<string, string>): number =>
      sumSamples(after, 'wharf_http_requests_total', l) - sumSamples(before, 'wharf_http_requests_total', l);
    expect(delta({ route: 'base', status: '200' })).toBe(1);
    expect(delta({ route: 'metrics', status: '404' })).toBe(1);
    expect((await fetch(`http://127.0.0.1:${port}/v2/`)).status).toBe(404);
  });
});
