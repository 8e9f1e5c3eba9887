/**
 * The distributed shape survives the loss of a replica: a kill -9 of one gateway, one metadata and
 * one blob service in the middle of pushes leaves every client's retry succeeding and nothing
 * half-written visible; a SIGTERM drains what is in flight (the push completes) before the
 * process exits.
 */
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { startDistributedRegistry, stopProcess, type DistributedCluster } from '../support/distributed';
import {
  MT,
  RegistryClient,
  buildImage,
  randomBlob,
  sha256,
  withQuery,
  type BuiltImage,
} from '../api/support/client';

/** A PATCH whose body trickles out over `ms`, so the request is surely in flight when a replica goes. */
function slowPatch(
  baseUrl: string,
  location: string,
  data: Buffer,
  ms: number,
): Promise<{ status: number; range?: string }> {
  const pieces = 20;
  const size = Math.ceil(data.length / pieces);
  let i = 0;
  const body = new Readable({
    read() {
      if (i >= pieces) return void this.push(null);
      const piece = data.subarray(i * size, (i + 1) * size);
      i++;
      setTimeout(() => this.push(piece), ms / pieces);
    },
  });
  return new Promise((resolve, reject) => {
    const req = request(new URL(location, baseUrl), {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': data.length },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, range: res.headers.range as string | undefined }),
      );
    });
    req.on('error', reject);
    body.pipe(req);
  });
}

/** What a registry client does: push the image, and on any failure start that step over. */
async function pushWithRetries(
  client: RegistryClient,
  repo: string,
  tag: string,
  image: BuiltImage,
): Promise<number> {
  let failures = 0;
  const attempt = async <T>(step: () => Promise<T>): Promise<T> => {
    for (let n = 0; ; n++) {
      try {
        return await step();
      } catch (e) {
        failures++;
        if (n >= 20) throw e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  };
  for (const blob of [image.configBlob, ...image.layerBlobs]) {
    await attempt(async () => {
      const session = await client.post(`/v2/${repo}/blobs/uploads/`);
      if (session.status !== 202) throw new Error(`POST ${session.describe()}`);
      const patched = await slowPatch(client.baseUrl, session.location, blob, 1500);
      if (patched.status !== 202) throw new Error(`PATCH ${patched.status}`);
      const put = await client.put(withQuery(session.location, { digest: sha256(blob) }));
      if (put.status !== 201) throw new Error(`PUT ${put.describe()}`);
    });
  }
  await attempt(async () => {
    const res = await client.putManifest(repo, tag, image.manifest, MT.ociManifest);
    if (res.status !== 201) throw new Error(`PUT manifest ${res.describe()}`);
  });
  return failures;
}

describe('distributed shape: failover', () => {
  let cluster: DistributedCluster;

  beforeAll(async () => {
    // Short request timeouts: a request that went to a replica that died fails fast and is retried.
    cluster = await startDistributedRegistry({ storage: 's3', env: { WHARF_NATS_TIMEOUT: '3s' } });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('kill -9 of one replica of each service during pushes: retries succeed, nothing half-written is visible', async () => {
    const client = new RegistryClient(cluster.url);
    const images = Array.from({ length: 4 }, () =>
      buildImage({ layers: [randomBlob(2 << 20), randomBlob(300 << 10)] }),
    );
    const pushes = images.map((image, i) => pushWithRetries(client, 'failover/kill', `v${i}`, image));
    await new Promise((r) => setTimeout(r, 700));
    const victims = [cluster.services.blob[0], cluster.services.metadata[0], cluster.services.gateway[0]];
    for (const p of victims) p.child.kill('SIGKILL');
    await Promise.all(victims.map((p) => p.exited));
    const failures = await Promise.all(pushes);
    client.close();

    // Through the surviving gateway: every tag that answered 201 is complete and intact...
    const survivor = new RegistryClient(cluster.gateways[1]);
    try {
      for (const [i, image] of images.entries()) {
        const m = await survivor.get(`/v2/failover/kill/manifests/v${i}`, { Accept: MT.ociManifest });
        expect(m.status).toBe(200);
        expect(m.header('docker-content-digest')).toBe(image.digest);
        for (const blob of [image.configBlob, ...image.layerBlobs]) {
          const got = await survivor.get(`/v2/failover/kill/blobs/${sha256(blob)}`);
          expect(got.status).toBe(200);
          expect(got.body.equals(blob)).toBe(true);
        }
      }
      // ...and nothing else is: no tag but those, no unverified blob served under any name.
      const tags = (await survivor.get('/v2/failover/kill/tags/list')).json().tags;
      expect(tags.sort()).toEqual(images.map((_, i) => `v${i}`).sort());
      expect(failures.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    } finally {
      survivor.close();
    }
    // The killed replicas come back and serve again.
    for (const p of victims) await cluster.restart(p);
    const again = new RegistryClient(cluster.gateways[0]);
    await again.pushImage('failover/after', { tag: 'v1' });
    again.close();
  });

  it('SIGTERM of a gateway during a push: the request in flight completes, then the process exits 0', async () => {
    const gateway = cluster.services.gateway[1];
    const client = new RegistryClient(gateway.url);
    const other = new RegistryClient(cluster.gateways[0]);
    const data = randomBlob(3 << 20);
    const session = await client.post('/v2/failover/drain/blobs/uploads/');
    expect(session.status).toBe(202);
    const patch = slowPatch(gateway.url, session.location, data, 3000);
    await new Promise((r) => setTimeout(r, 800));
    const stopped = stopProcess(gateway);
    expect(await patch).toMatchObject({ status: 202, range: `0-${data.length - 1}` });
    await stopped;
    expect(await gateway.exited).toBe(0);
    client.close();
    // The upload goes on through the other gateway.
    const put = await other.put(withQuery(session.location, { digest: sha256(data) }));
    expect(put.status).toBe(201);
    other.close();
    await cluster.restart(gateway);
  });

  it('SIGTERM of a blob replica during pushes: every chunk in flight is stored before it exits', async () => {
    const blob = cluster.services.blob[0];
    const client = new RegistryClient(cluster.gateways[0]);
    const data = [randomBlob(2 << 20), randomBlob(2 << 20)];
    const sessions = await Promise.all(data.map(() => client.post('/v2/failover/blob-drain/blobs/uploads/')));
    const patches = sessions.map((s, i) => slowPatch(cluster.gateways[0], s.location, data[i], 3000));
    await new Promise((r) => setTimeout(r, 800));
    const stopped = stopProcess(blob);
    for (const p of patches) expect(await p).toMatchObject({ status: 202 });
    await stopped;
    expect(await blob.exited).toBe(0);
    for (const [i, s] of sessions.entries()) {
      const put = await client.put(withQuery(s.location, { digest: sha256(data[i]) }));
      expect(put.status).toBe(201);
    }
    client.close();
    await cluster.restart(blob);
  });

  it('SIGTERM of a metadata replica under load: every request is answered by it or by the other replica', async () => {
    const metadata = cluster.services.metadata[0];
    const client = new RegistryClient(cluster.url);
    const image = await client.pushImage('failover/metadata-drain', { tag: 'v1' });
    const statuses: number[] = [];
    let stop = false;
    const load = Array.from({ length: 8 }, async () => {
      while (!stop) {
        const res = await client.get('/v2/failover/metadata-drain/manifests/v1', { Accept: MT.ociManifest });
        statuses.push(res.status);
      }
    });
    await new Promise((r) => setTimeout(r, 500));
    await stopProcess(metadata);
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await Promise.all(load);
    client.close();
    expect(await metadata.exited).toBe(0);
    expect(statuses.length).toBeGreaterThan(10);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(image.digest).toBeDefined();
    await cluster.restart(metadata);
  });
});
