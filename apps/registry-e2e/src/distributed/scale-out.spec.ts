/**
 * The distributed shape scales out: any gateway serves any request of a conversation, every
 * gateway sees a tag the moment another answered 201, errors raised behind NATS reach the client
 * with their codes, and what does not fit a NATS message takes the internal HTTP ports, which
 * nobody without the internal token may use.
 */
import { randomBytes } from 'node:crypto';
import { startDistributedRegistry, type DistributedCluster } from '../support/distributed';
import {
  MT,
  RegistryClient,
  buildImage,
  expectError,
  jsonBytes,
  randomBlob,
  sha256,
  withQuery,
} from '../api/support/client';
import { skopeoDriver } from '../real-clients/drivers';
import { buildFixtureSet } from '../real-clients/fixtures';
import { KINDS } from '../real-clients/kinds';
import { verifyServed } from '../real-clients/checks';
import { ClientSandbox, missingClients } from '../real-clients/tools';

describe('distributed shape: scale-out', () => {
  let cluster: DistributedCluster;
  let gw: [RegistryClient, RegistryClient];

  beforeAll(async () => {
    // Blobs in the S3 test server, as in production (MinIO); the API suite covers the filesystem.
    cluster = await startDistributedRegistry({ storage: 's3' });
    gw = [new RegistryClient(cluster.gateways[0]), new RegistryClient(cluster.gateways[1])];
  });

  afterAll(async () => {
    gw?.forEach((c) => c.close());
    await cluster?.stop();
  });

  it('an upload whose chunks alternate between the two gateways completes and reads back whole', async () => {
    const repo = 'scale/alternating';
    const data = randomBlob(5 * 256 * 1024 + 17);
    const chunk = 256 * 1024;
    let res = await gw[0].post(`/v2/${repo}/blobs/uploads/`);
    expect(res.status).toBe(202);
    let n = 0;
    for (let offset = 0; offset < data.length; offset += chunk, n++) {
      const part = data.subarray(offset, offset + chunk);
      res = await gw[(n + 1) % 2].patch(res.location, part, {
        'Content-Type': 'application/octet-stream',
        'Content-Range': `${offset}-${offset + part.length - 1}`,
      });
      expect(res.status).toBe(202);
      expect(res.header('range')).toBe(`0-${offset + part.length - 1}`);
    }
    // The session state is visible from either gateway.
    for (const c of gw) expect((await c.get(res.location)).header('range')).toBe(`0-${data.length - 1}`);
    const digest = sha256(data);
    res = await gw[n % 2].put(withQuery(res.location, { digest }));
    expect(res.status).toBe(201);
    for (const c of gw) {
      const got = await c.get(`/v2/${repo}/blobs/${digest}`);
      expect(got.status).toBe(200);
      expect(sha256(got.body)).toBe(digest);
      const range = await c.get(`/v2/${repo}/blobs/${digest}`, { Range: 'bytes=1000-1999' });
      expect(range.status).toBe(206);
      expect(range.body.equals(data.subarray(1000, 2000))).toBe(true);
    }
  });

  it('once a manifest PUT answered 201 on one gateway, the other serves the new digest for that tag', async () => {
    const repo = 'scale/read-your-writes';
    for (let i = 0; i < 10; i++) {
      const image = await gw[i % 2].pushImage(repo, { tag: 'latest' });
      for (const c of [gw[(i + 1) % 2], gw[i % 2]]) {
        const res = await c.get(`/v2/${repo}/manifests/latest`, { Accept: MT.ociManifest });
        expect(res.header('docker-content-digest')).toBe(image.digest);
      }
    }
  });

  it('errors raised in the metadata and blob services reach the client with their code and status', async () => {
    const repo = 'scale/errors';
    const image = buildImage();
    // Raised inside the metadata service's transaction, across NATS, out of the gateway.
    const missing = await gw[0].putManifest(repo, 'v1', image.manifest, MT.ociManifest);
    const body = expectError(missing, 400, 'MANIFEST_BLOB_UNKNOWN');
    expect(body.errors.map((e) => (e.detail as { digest: string }).digest).sort()).toEqual(
      [image.config.digest, ...image.layers.map((l) => l.digest)].sort(),
    );
    expectError(await gw[1].get(`/v2/${repo}/manifests/nope`), 404, 'MANIFEST_UNKNOWN');
    expectError(await gw[1].get(`/v2/${repo}/tags/list`), 404, 'NAME_UNKNOWN');
    // Raised in the blob service, over NATS and over its data port.
    const uuid = '3f2a1b4c-0000-4000-8000-000000000000';
    expectError(await gw[0].get(`/v2/${repo}/blobs/uploads/${uuid}`), 404, 'BLOB_UPLOAD_UNKNOWN');
    const session = await gw[0].post(`/v2/${repo}/blobs/uploads/`);
    const outOfOrder = await gw[1].patch(session.location, Buffer.from('abc'), {
      'Content-Type': 'application/octet-stream',
      'Content-Range': '5-7',
    });
    expectError(outOfOrder, 416, 'RANGE_INVALID');
    const wrong = await gw[0].put(
      withQuery(session.location, { digest: sha256('other') }),
      Buffer.from('abc'),
    );
    expectError(wrong, 400, 'DIGEST_INVALID');
  });

  it('a manifest too large for a NATS message goes over the metadata data port, both ways', async () => {
    const repo = 'scale/big-manifest';
    const layers = [randomBlob(64)];
    // ~1 MiB of annotations: far past the 512 KiB message bound, within the 4 MiB manifest limit.
    const annotations = Object.fromEntries(
      Array.from({ length: 256 }, (_, i) => [`org.example.k${i}`, randomBytes(2048).toString('hex')]),
    );
    const image = buildImage({ layers, annotations });
    expect(image.manifest.length).toBeGreaterThan(1 << 20);
    for (const b of [image.configBlob, ...image.layerBlobs]) await gw[0].pushBlob(repo, b);
    expect((await gw[1].putManifest(repo, 'big', image.manifest, MT.ociManifest)).status).toBe(201);
    for (const c of gw) {
      const res = await c.get(`/v2/${repo}/manifests/big`, { Accept: MT.ociManifest });
      expect(res.status).toBe(200);
      expect(res.body.equals(image.manifest)).toBe(true);
    }
    const subject = { mediaType: MT.ociManifest, digest: image.digest, size: image.manifest.length };
    const referrer = jsonBytes({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      artifactType: 'application/vnd.example.sig',
      config: { mediaType: MT.ociEmpty, digest: sha256('{}'), size: 2 },
      layers: [image.layers[0]],
      subject,
    });
    await gw[0].pushBlob(repo, Buffer.from('{}'));
    expect((await gw[0].putManifest(repo, sha256(referrer), referrer, MT.ociManifest)).status).toBe(201);
    const list = await gw[1].get(`/v2/${repo}/referrers/${image.digest}`);
    expect(list.json().manifests).toHaveLength(1);
  });

  it('the internal ports refuse requests without the internal token', async () => {
    const blob = cluster.services.blob[0].url;
    const metadata = cluster.services.metadata[0].url;
    const digest = sha256('x');
    for (const [url, init] of [
      [`${blob}/internal/blob/blobs/${digest}`, { method: 'GET' }],
      [
        `${blob}/internal/blob/uploads/3f2a1b4c-0000-4000-8000-000000000000?repository=a`,
        { method: 'PATCH', body: 'x' },
      ],
      [`${metadata}/internal/rpc/metadata/listRepositories`, { method: 'POST', body: '{}' }],
      [`${blob}/internal/rpc/blob/startUpload`, { method: 'POST', body: '{"repository":"a"}' }],
    ] as const) {
      for (const token of [undefined, 'wrong', `${cluster.env.WHARF_INTERNAL_TOKEN}x`]) {
        const res = await fetch(url, { ...init, headers: token ? { 'x-wharf-internal-token': token } : {} });
        expect({ url, token, status: res.status }).toEqual({ url, token, status: 401 });
      }
    }
    const ok = await fetch(`${metadata}/internal/rpc/metadata/listRepositories`, {
      method: 'POST',
      body: '{}',
      headers: { 'x-wharf-internal-token': cluster.env.WHARF_INTERNAL_TOKEN },
    });
    expect(await ok.json()).toMatchObject({ ok: true });
  });

  it('the internal ports answer a path outside their routes with the Reply their clients read', async () => {
    const token = { 'x-wharf-internal-token': cluster.env.WHARF_INTERNAL_TOKEN };
    for (const p of [...cluster.services.metadata, ...cluster.services.blob]) {
      for (const [method, path] of [
        ['GET', '/nope'],
        ['GET', '/v2/'],
        ['GET', '/%zz'],
        ['PATCH', `/internal/blob/uploads/${'a'.repeat(2600)}?repository=a`],
        ['POST', `/internal/rpc/${p.role}/nope`],
        ['GET', `/internal/rpc/${p.role}/ping`],
      ]) {
        const res = await fetch(`${p.url}${path}`, {
          method,
          headers: token,
          body: method === 'GET' ? undefined : '{}',
        });
        const body = (await res.json()) as { ok?: boolean; error?: { errors?: { code?: string }[] } };
        expect({
          role: p.role,
          method,
          status: res.status,
          ok: body.ok,
          code: body.error?.errors?.[0]?.code,
        }).toEqual({ role: p.role, method, status: 404, ok: false, code: 'UNSUPPORTED' });
      }
    }
  });

  it('every service answers /healthz and /readyz', async () => {
    for (const p of Object.values(cluster.services).flat()) {
      expect((await fetch(`${p.url}/healthz`)).status).toBe(200);
      const ready = await fetch(`${p.url}/readyz`);
      expect({ role: p.role, status: ready.status }).toEqual({ role: p.role, status: 200 });
    }
  });

  const missing = missingClients();
  (missing.includes('skopeo') ? describe.skip : describe)('skopeo', () => {
    let sb: ClientSandbox;
    beforeAll(async () => {
      sb = await ClientSandbox.create('wharf-dist-skopeo-');
    });
    afterAll(async () => {
      await sb?.dispose();
    });

    it.each(KINDS.filter((k) => k.kind === 'oci-index' || k.kind === 'docker'))(
      'pushes $kind through one gateway and pulls it through the other',
      async (info) => {
        const set = await buildFixtureSet(sb, undefined, `dist-${info.kind}`);
        const driver = skopeoDriver(sb);
        const [g0, g1] = cluster.gateways.map((u) => ({ url: u, host: new URL(u).host }));
        const repository = `dist/skopeo-${info.kind}`;
        const digest = await driver.push(set, info, `${g0.host}/${repository}:v1`);
        const summary = await verifyServed(sb, g1, { repository, tag: 'v1', digest }, info);
        await driver.pullAndCheck({
          ref: `${g1.host}/${repository}:v1`,
          expected: summary,
          info,
          repository: `${g1.host}/${repository}`,
        });
      },
    );
  });
});
