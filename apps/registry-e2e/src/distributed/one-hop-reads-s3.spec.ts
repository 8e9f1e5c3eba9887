/**
 * Blob GETs in one hop on S3 (ADR 23): once access control and the repository link check passed,
 * the gateway asks the blob service for a short-lived URL presigned for the store's internal
 * endpoint (WHARF_S3_ENDPOINT) and fetches the bytes, the client's Range included, itself. The S3
 * test server records how each GetObject was signed: the driver signs in the Authorization header,
 * a presigned URL in the query; and the blob service's data port counts no read.
 */
import { randomBytes } from 'node:crypto';
import { parsePrometheusText, sumSamples } from '@wharf/observability/testing';
import { http, sha256 } from '../auth/support';
import { startDistributedRegistry, type DistributedCluster } from '../support/distributed';

const REPO = 'onehop/s3';

async function metric(url: string, name: string, labels: Record<string, string>): Promise<number> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  return sumSamples(parsePrometheusText(await res.text()), name, labels);
}

describe('distributed shape on S3: the gateway reads blobs through internal presigned URLs', () => {
  let cluster: DistributedCluster;
  let gateway: string;
  const data = randomBytes(2 * 1024 * 1024 + 5);
  const digest = sha256(data);

  const dataPortReads = () =>
    metric(cluster.services.blob[0].url, 'wharf_http_requests_total', {
      route: 'internal_blob',
      method: 'GET',
    });
  const blobReads = () =>
    cluster
      .s3!.takeOperations()
      .filter((op) => op.name === 'GetObject')
      .map(({ host, presigned, range }) => ({ host, presigned, range }));

  beforeAll(async () => {
    cluster = await startDistributedRegistry({
      storage: 's3',
      replicas: { gateway: 1, metadata: 1, blob: 1 },
      // A public name the gateway must not use: URLs for clients are another matter (redirect.spec.ts).
      s3Env: (s3) => ({ WHARF_S3_PUBLIC_ENDPOINT: `http://localhost:${s3.port}` }),
    });
    gateway = cluster.gateways[0];
    const r = await http(`${gateway}/v2/${REPO}/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: data,
    });
    expect(r.status).toBe(201);
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('whole and ranged GETs are fetched by the gateway from a URL signed for the internal endpoint', async () => {
    const internalHost = `127.0.0.1:${cluster.s3!.port}`;
    const before = {
      port: await dataPortReads(),
      url: await metric(gateway, 'wharf_blob_reads_total', { path: 'url' }),
    };
    blobReads();

    const whole = await fetch(`${gateway}/v2/${REPO}/blobs/${digest}`, { redirect: 'manual' });
    expect(whole.status).toBe(200);
    expect(whole.headers.get('location')).toBeNull();
    expect(Buffer.from(await whole.arrayBuffer()).equals(data)).toBe(true);
    const ranged = await fetch(`${gateway}/v2/${REPO}/blobs/${digest}`, {
      headers: { Range: 'bytes=1000-1999' },
      redirect: 'manual',
    });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 1000-1999/${data.length}`);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(data.subarray(1000, 2000))).toBe(true);

    // One presigned GET per read, for the internal name, with the client's range passed on.
    expect(blobReads()).toEqual([
      { host: internalHost, presigned: true },
      { host: internalHost, presigned: true, range: 'bytes=1000-1999' },
    ]);
    expect(await dataPortReads()).toBe(before.port);
    expect(await metric(gateway, 'wharf_blob_reads_total', { path: 'url' })).toBe(before.url + 2);
  });

  it('asks for no URL before the repository link check passed', async () => {
    blobReads();
    const readUrlOps = () =>
      metric(cluster.services.blob[0].url, 'wharf_rpc_requests_total', { service: 'blob', op: 'readUrl' });
    const asked = await readUrlOps();
    expect(asked).toBeGreaterThanOrEqual(2);
    const unlinked = await http(`${gateway}/v2/onehop/other/blobs/${digest}`);
    expect(unlinked.status).toBe(404);
    expect(unlinked.json().errors[0].code).toBe('BLOB_UNKNOWN');
    expect(blobReads()).toEqual([]);
    expect(await readUrlOps()).toBe(asked);
  });
});
