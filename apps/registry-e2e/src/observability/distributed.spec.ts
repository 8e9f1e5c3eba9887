/**
 * Observability of the distributed shape (separate gateway, metadata and blob processes over NATS;
 * needs `npm run build`): one trace follows a whole push from the gateway into metadata and blob,
 * exported over OTLP/HTTP to a receiver in this test; the request id a client sent appears in the
 * metadata and blob services' logs; every service serves /metrics.
 */
import { randomBytes } from 'node:crypto';
import { parsePrometheusText, sumSamples } from '@wharf/observability/testing';
import { RegistryClient, buildImage, sha256, withQuery } from '../api/support/client';
import { startDistributedRegistry, type DistributedCluster } from '../support/distributed';
import { OtlpReceiver, type ReceivedSpan } from './otlp-receiver';

const SERVICES = ['wharf-gateway', 'wharf-metadata', 'wharf-blob'];
const SERVER = 2; // OTLP SpanKind SPAN_KIND_SERVER
const CLIENT = 3;

describe('distributed shape: traces, request ids and metrics', () => {
  let otlp: OtlpReceiver;
  let cluster: DistributedCluster;
  let client: RegistryClient;

  beforeAll(async () => {
    otlp = await OtlpReceiver.start();
    cluster = await startDistributedRegistry({
      replicas: { gateway: 1, metadata: 1, blob: 1 },
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
        OTEL_BSP_SCHEDULE_DELAY: '100',
        WHARF_LOG_LEVEL: 'debug',
      },
    });
    client = new RegistryClient(cluster.url);
  });

  afterAll(async () => {
    client?.close();
    await cluster?.stop();
    await otlp?.close();
  });

  /** Pushes an image with every request carrying `headers`; returns its manifest digest. */
  async function push(repo: string, headers: (what: string) => Record<string, string>): Promise<string> {
    const image = buildImage();
    for (const [i, blob] of [image.configBlob, ...image.layerBlobs].entries()) {
      const session = await client.post(`/v2/${repo}/blobs/uploads/`, undefined, headers(`post-${i}`));
      expect(session.status).toBe(202);
      const put = await client.put(withQuery(session.location, { digest: sha256(blob) }), blob, {
        'Content-Type': 'application/octet-stream',
        ...headers(`blob-${i}`),
      });
      expect(put.status).toBe(201);
    }
    const res = await client.put(`/v2/${repo}/manifests/latest`, image.manifest, {
      'Content-Type': image.mediaType,
      ...headers('manifest'),
    });
    expect(res.status).toBe(201);
    return image.digest;
  }

  it('a whole push is one trace with spans from the gateway, metadata and blob services', async () => {
    const traceId = randomBytes(16).toString('hex');
    const root = randomBytes(8).toString('hex');
    // What a traced client (or an ingress) sends: every request of the push under one parent.
    await push('traced/push', () => ({ traceparent: `00-${traceId}-${root}-01` }));
    const inTrace = (spans: ReceivedSpan[]): ReceivedSpan[] => spans.filter((s) => s.traceId === traceId);
    // Spans arrive as each ends, parents (the gateway's request spans) last: wait for the whole tree.
    const complete = (t: ReceivedSpan[]): boolean => {
      const ids = new Set([root, ...t.map((s) => s.spanId)]);
      const names = new Set(t.filter((s) => s.kind === SERVER).map((s) => `${s.service} ${s.name}`));
      return (
        SERVICES.every((svc) => t.some((s) => s.service === svc)) &&
        [
          'wharf-gateway PUT manifest',
          'wharf-gateway PUT upload',
          'wharf-metadata metadata.putManifest',
        ].every((n) => names.has(n)) &&
        t.every((s) => ids.has(s.parentSpanId ?? ''))
      );
    };
    const spans = inTrace(await otlp.waitFor((all) => complete(inTrace(all))));
    expect(otlp.errors).toEqual([]);
    expect([...new Set(spans.map((s) => s.service))].sort()).toEqual([...SERVICES].sort());
    // One tree: every span hangs off the client's span or another span of this trace.
    const ids = new Set(spans.map((s) => s.spanId));
    for (const s of spans) expect([root, ...ids]).toContain(s.parentSpanId);
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    // The gateway answered each client request; metadata's PUT hangs off the gateway's call.
    const gatewayServer = spans.filter((s) => s.service === 'wharf-gateway' && s.kind === SERVER);
    expect(gatewayServer.map((s) => s.name)).toEqual(
      expect.arrayContaining(['POST uploads', 'PUT upload', 'PUT manifest']),
    );
    for (const s of gatewayServer) expect(s.parentSpanId).toBe(root);
    const putManifest = spans.find(
      (s) => s.service === 'wharf-metadata' && s.name === 'metadata.putManifest',
    )!;
    const caller = byId.get(putManifest.parentSpanId!)!;
    expect({ service: caller.service, kind: caller.kind, name: caller.name }).toEqual({
      service: 'wharf-gateway',
      kind: CLIENT,
      name: 'metadata.putManifest',
    });
    expect(byId.get(caller.parentSpanId!)?.name).toBe('PUT manifest');
    // The upload bytes went to the blob service's data port, inside the same trace.
    const blobSpans = spans.filter((s) => s.service === 'wharf-blob' && s.kind === SERVER);
    expect(blobSpans.map((s) => s.name)).toEqual(expect.arrayContaining(['PUT internal_upload']));
    for (const s of blobSpans) expect(byId.get(s.parentSpanId!)?.service).toBe('wharf-gateway');
  });

  it('a request without (valid) trace context starts a trace of its own, tagged with its request id', async () => {
    await push('traced/fresh', () => ({}));
    const requestId = `e2e-get-${randomBytes(6).toString('hex')}`;
    const res = await client.get('/v2/traced/fresh/manifests/latest', {
      Accept: buildImage().mediaType,
      'X-Request-Id': requestId,
      // Malformed: ignored, not an error and not a parent.
      traceparent: '00-not-a-trace-01',
    });
    expect(res.status).toBe(200);
    expect(res.header('x-request-id')).toBe(requestId);
    const tagged = (all: ReceivedSpan[]): ReceivedSpan[] =>
      all.filter((s) => s.attributes['wharf.request_id'] === requestId);
    const spans = tagged(
      await otlp.waitFor((all) =>
        ['wharf-gateway', 'wharf-metadata'].every((svc) => tagged(all).some((s) => s.service === svc)),
      ),
    );
    const gateway = spans.find((s) => s.service === 'wharf-gateway' && s.kind === SERVER)!;
    expect(gateway.name).toBe('GET manifest');
    expect(gateway.parentSpanId).toBeUndefined();
    const metadata = spans.find((s) => s.service === 'wharf-metadata')!;
    expect(metadata.traceId).toBe(gateway.traceId);
  });

  it('the request id a client sent through the gateway is in the metadata and blob logs', async () => {
    const tag = randomBytes(6).toString('hex');
    const ids: string[] = [];
    await push('logged/push', (what) => {
      const id = `e2e-${tag}-${what}`;
      ids.push(id);
      return { 'X-Request-Id': id };
    });
    const logged = (role: 'gateway' | 'metadata' | 'blob', id: string): boolean =>
      cluster.services[role][0].output().includes(`"reqId":"${id}"`);
    const manifestId = `e2e-${tag}-manifest`;
    const blobId = `e2e-${tag}-blob-0`;
    // Log lines are written as the work happens; give stdout a moment to reach us.
    const deadline = Date.now() + 15_000;
    const all = (): boolean =>
      logged('gateway', manifestId) && logged('metadata', manifestId) && logged('blob', blobId);
    while (!all() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect({ gateway: logged('gateway', manifestId), metadata: logged('metadata', manifestId) }).toEqual({
      gateway: true,
      metadata: true,
    });
    expect(logged('blob', blobId)).toBe(true);
    // And an id the services made up for nobody else's request is nowhere.
    expect(logged('metadata', `e2e-${tag}-never-sent`)).toBe(false);
  });

  it('every service serves /metrics: gateway RED, metadata and blob operations, uploads open', async () => {
    await push('metrics/dist', () => ({}));
    const scrape = async (url: string) => {
      const res = await fetch(`${url}/metrics`);
      expect(res.status).toBe(200);
      return parsePrometheusText(await res.text());
    };
    const gateway = await scrape(cluster.services.gateway[0].url);
    const metadata = await scrape(cluster.services.metadata[0].url);
    const blob = await scrape(cluster.services.blob[0].url);
    expect(
      sumSamples(gateway, 'wharf_http_requests_total', { route: 'manifest', method: 'PUT', status: '201' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sumSamples(metadata, 'wharf_rpc_requests_total', {
        service: 'metadata',
        op: 'putManifest',
        outcome: 'ok',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sumSamples(metadata, 'wharf_rpc_duration_seconds_count', { op: 'putManifest' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sumSamples(blob, 'wharf_http_requests_total', {
        route: 'internal_upload',
        method: 'PUT',
        status: '200',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(blob.get('wharf_uploads_open')?.type).toBe('gauge');
    expect(metadata.get('wharf_gc_queue_depth')?.type).toBe('gauge');
    expect(metadata.get('wharf_events_lag_seconds')?.type).toBe('gauge');
    // Metadata keeps no upload sessions; the gauge belongs to the blob service.
    expect(metadata.has('wharf_uploads_open')).toBe(false);
  });
});
