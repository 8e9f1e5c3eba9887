/**
 * Several workers on one database, as on several metadata replicas: each due row is taken by one
 * of them (FOR UPDATE SKIP LOCKED), nothing is deleted or counted twice, nobody deadlocks, and
 * pushes going on at the same time all succeed.
 */
import type { DataSource } from 'typeorm';
import { BLOB_API, type BlobApi } from '@wharf/contracts';
import {
  GcCollector,
  HolderCoherence,
  openMetadataDataSource,
  readGcStats,
  type GcPassResult,
} from '@wharf/metadata';
import { MT, descriptorOf, indexOf, randomBlob, sha256 } from '../api/support/client';
import { settle, sleep, startGcRegistry, type GcRegistry } from './support';

const DELAY_MS = 500;
const IMAGES = 40;
const INDEXES = 10;

describe('several GC workers on one database', () => {
  let r: GcRegistry;
  const sources: DataSource[] = [];

  beforeAll(async () => {
    // The registry's own worker only runs when told, so every pass below is one we started.
    r = await startGcRegistry({ WHARF_GC_ENABLED: 'false', WHARF_GC_REVIEW_DELAY: `${DELAY_MS}ms` });
  });

  afterAll(async () => {
    for (const ds of sources) await ds.destroy();
    await r.stop();
  });

  it('share the queues without double deletes or deadlocks while pushes go on', async () => {
    const repo = 'workers/app';
    const garbageBlobs: string[] = [];
    const sizes = new Map<string, number>();
    const note = (blob: Buffer): string => {
      sizes.set(sha256(blob), blob.length);
      return sha256(blob);
    };
    for (let i = 0; i < IMAGES; i++) {
      const image = await r.client.pushImage(repo, { layers: [randomBlob(1000), randomBlob(1000)] });
      garbageBlobs.push(...[image.configBlob, ...image.layerBlobs].map(note));
    }
    for (let i = 0; i < INDEXES; i++) {
      const children = [];
      for (const architecture of ['amd64', 'arm64']) {
        const child = await r.client.pushImage(repo, { platform: { architecture, os: 'linux' } });
        garbageBlobs.push(note(child.configBlob), note(child.layerBlobs[0]));
        children.push({
          ...descriptorOf(MT.ociManifest, child.manifest),
          platform: { architecture, os: 'linux' },
        });
      }
      await r.client.pushManifest(repo, 'tmp', indexOf(MT.ociIndex, children as never), MT.ociIndex);
    }
    // The last index stays tagged (with its children); every other one lost the tag to the next.
    await sleep(DELAY_MS + 100);

    const blobs = r.running.app.get<BlobApi>(BLOB_API);
    const collectors = [];
    for (let i = 0; i < 3; i++) {
      const ds = await openMetadataDataSource({ databaseUrl: r.databaseUrl, poolSize: 4, timeoutMs: 30_000 });
      sources.push(ds);
      collectors.push(new GcCollector(ds, blobs, DELAY_MS, new HolderCoherence(ds)));
    }
    let pushing = true;
    const pushes = (async () => {
      let n = 0;
      while (pushing) await r.client.pushImage('workers/live', { tag: `t${n++}` });
      return n;
    })();
    const [results] = await Promise.all([
      Promise.all(collectors.map((c) => c.runPass())),
      r.worker.runOnce(),
    ]);
    pushing = false;
    const pushed = await pushes;
    await settle(r, 0);

    // Every worker got some of the work; the totals are exact.
    expect(results.filter((x: GcPassResult) => x.reviewed > 0).length).toBeGreaterThanOrEqual(2);
    const garbageManifests = IMAGES + (INDEXES - 1) * 3;
    const keptBlobs = 4; // the tagged index's two children
    const stats = await readGcStats({ query: (q, p) => r.sql(q, p) });
    expect(stats.manifestsDeleted).toBe(garbageManifests);
    expect(stats.blobsDeleted).toBe(garbageBlobs.length - keptBlobs);
    const gone = garbageBlobs.slice(0, garbageBlobs.length - keptBlobs);
    expect(stats.bytesFreed).toBe(gone.reduce((sum, d) => sum + sizes.get(d)!, 0));
    expect(gone.filter((d) => r.blobOnDisk(d))).toEqual([]);
    expect(garbageBlobs.slice(-keptBlobs).every((d) => r.blobOnDisk(d))).toBe(true);
    expect((await r.client.head(`/v2/${repo}/manifests/tmp`, { Accept: MT.ociIndex })).status).toBe(200);

    expect(pushed).toBeGreaterThan(0);
    for (let n = 0; n < pushed; n++) {
      const m = await r.client.get(`/v2/workers/live/manifests/t${n}`, { Accept: MT.ociManifest });
      expect(m.status).toBe(200);
      const layer = (JSON.parse(m.body.toString()) as { layers: { digest: string }[] }).layers[0].digest;
      const b = await r.client.get(`/v2/workers/live/blobs/${layer}`);
      expect(sha256(b.body)).toBe(layer);
    }
  });

  it('a blob service that cannot list its committed blobs (an older release) stops only that walk', async () => {
    const ds = await openMetadataDataSource({ databaseUrl: r.databaseUrl, poolSize: 2, timeoutMs: 30_000 });
    sources.push(ds);
    const real = r.running.app.get<BlobApi>(BLOB_API);
    const older = Object.assign(Object.create(real) as BlobApi, {
      listCommitted: () => Promise.reject(new Error('no responder for blob.listCommitted')),
    });
    const repo = 'workers/older';
    const digest = await r.client.pushBlob(repo, randomBlob(1000));
    expect((await r.client.delete(`/v2/${repo}/blobs/${digest}`)).status).toBe(202);
    await sleep(DELAY_MS + 100);
    const before = await readGcStats({ query: (q, p) => r.sql(q, p) });

    const result = await new GcCollector(ds, older, DELAY_MS, new HolderCoherence(ds)).runPass();
    expect(result.sweepError).toBe('no responder for blob.listCommitted');
    expect(result.blobsDeleted).toBe(1);
    expect(r.blobOnDisk(digest)).toBe(false);
    // The pass was still recorded.
    const after = await readGcStats({ query: (q, p) => r.sql(q, p) });
    expect(after.blobsDeleted).toBe(before.blobsDeleted + 1);
  });
});
