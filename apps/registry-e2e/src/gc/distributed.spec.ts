/**
 * Online GC in the distributed shape (needs `npm run build`): workers on both metadata replicas,
 * bytes in the S3 test server deleted through the blob service (BlobApi.deleteBlob over NATS),
 * pushes racing the collectors through both gateways, pulls never failing.
 */
import { Client } from 'pg';
import { loadConfig } from '@wharf/config';
import { S3Driver, parseS3Endpoint } from '@wharf/storage';
import { startDistributedRegistry, type DistributedCluster } from '../support/distributed';
import { MT, RegistryClient, buildImage, randomBlob, sha256, type BuiltImage } from '../api/support/client';
import { sleep } from './support';

const DELAY_MS = 3000;

describe('online GC, distributed shape', () => {
  let cluster: DistributedCluster;
  let client: RegistryClient;
  let pg: Client;
  /** The bucket as the blob service sees it, to look for the bytes themselves. */
  let s3: S3Driver;

  beforeAll(async () => {
    cluster = await startDistributedRegistry({
      storage: 's3',
      env: { WHARF_GC_REVIEW_DELAY: `${DELAY_MS}ms`, WHARF_GC_INTERVAL: '50ms' },
    });
    client = new RegistryClient(cluster.url);
    pg = new Client({ connectionString: cluster.env.WHARF_DATABASE_URL });
    await pg.connect();
    const storage = loadConfig(cluster.env).cluster.storage;
    if (storage.driver !== 's3') throw new Error('expected the S3 shape');
    s3 = new S3Driver({
      ...parseS3Endpoint(storage.endpoint),
      region: storage.region,
      accessKey: storage.accessKey,
      secretKey: storage.secretKey,
      bucket: storage.bucket,
      pathStyle: storage.pathStyle,
      prefix: storage.prefix,
    });
  });

  afterAll(async () => {
    client?.close();
    await pg?.end();
    await cluster?.stop();
  });

  const count = async (sql: string, params: unknown[] = []): Promise<number> =>
    Number((await pg.query(sql, params)).rows[0].count);

  async function drained(): Promise<void> {
    const deadline = Date.now() + 20_000;
    await sleep(DELAY_MS + 200);
    while (Date.now() < deadline) {
      const left = await count(
        `SELECT (SELECT count(*) FROM metadata.gc_manifest_reviews WHERE review_after <= now())
              + (SELECT count(*) FROM metadata.gc_blob_reviews WHERE review_after <= now())
              + (SELECT count(*) FROM metadata.gc_blob_deletions) AS count`,
      );
      if (left === 0) return;
      await sleep(100);
    }
    throw new Error('the metadata replicas did not drain the GC queues');
  }

  async function push(repo: string, reference: string, image: BuiltImage): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      for (const blob of [image.configBlob, ...image.layerBlobs]) {
        if ((await client.head(`/v2/${repo}/blobs/${sha256(blob)}`)).status === 404)
          await client.pushBlob(repo, blob);
      }
      const put = await client.putManifest(repo, reference, image.manifest, image.mediaType);
      if (put.status === 201) return;
      expect(put.body.toString()).toContain('MANIFEST_BLOB_UNKNOWN');
    }
    throw new Error(`push of ${repo}:${reference} kept losing`);
  }

  it('collects untagged content from S3 while pushes and pulls go on through both gateways', async () => {
    const repo = 'dist-gc/app';
    const stable = await client.pushImage(repo, { tag: 'stable' });
    let pulling = true;
    const failures: string[] = [];
    const puller = (async () => {
      while (pulling) {
        for (const d of [stable.config.digest, stable.layers[0].digest]) {
          const b = await client.get(`/v2/${repo}/blobs/${d}`);
          if (b.status !== 200 || sha256(b.body) !== d) failures.push(`${d} ${b.status}`);
        }
      }
    })();

    const garbage: string[] = [];
    const pushed: { tag: string; image: BuiltImage }[] = [];
    await Promise.all(
      [0, 1].map(async (lane) => {
        for (let i = 0; i < 4; i++) {
          const shared = randomBlob(2048);
          // By digest, so untagged. On this 2-core machine a push can outlast the short delay
          // under load; like the tagged one it then retries (the clean outcome of a lost race).
          const untagged = buildImage({ layers: [shared, randomBlob(1024)] });
          await push(repo, untagged.digest, untagged);
          garbage.push(untagged.config.digest, untagged.layers[1].digest);
          await sleep(DELAY_MS - 150 + Math.floor(Math.random() * 300));
          const image = buildImage({ layers: [shared, randomBlob(512)] });
          await push(repo, `l${lane}-${i}`, image);
          pushed.push({ tag: `l${lane}-${i}`, image });
        }
      }),
    );
    pulling = false;
    await puller;
    await drained();

    expect(failures).toEqual([]);
    for (const d of garbage) {
      expect((await client.head(`/v2/${repo}/blobs/${d}`)).status).toBe(404);
      expect(await count('SELECT count(*) FROM blob.blobs WHERE digest = $1', [d])).toBe(0);
      expect(await s3.stat(d)).toBeNull();
    }
    expect(await s3.stat(stable.layers[0].digest)).toEqual({ size: stable.layerBlobs[0].length });
    for (const { tag, image } of pushed) {
      expect((await client.head(`/v2/${repo}/manifests/${tag}`, { Accept: MT.ociManifest })).status).toBe(
        200,
      );
      for (const blob of [image.configBlob, ...image.layerBlobs]) {
        const b = await client.get(`/v2/${repo}/blobs/${sha256(blob)}`);
        expect(b.status).toBe(200);
        expect(sha256(b.body)).toBe(sha256(blob));
      }
    }
    expect(
      await count(`SELECT count(*) FROM metadata.manifest_blobs mb WHERE NOT EXISTS (SELECT 1 FROM blob.blobs b
                     WHERE b.digest = mb.blob_digest)`),
    ).toBe(0);
    // Workers on both metadata replicas share the queues; each untagged image counts exactly once.
    const state = (await pg.query('SELECT manifests_deleted, last_run_at FROM metadata.gc_state')).rows[0];
    expect(Number(state.manifests_deleted)).toBe(8);
    expect(state.last_run_at).not.toBeNull();
  });
});
