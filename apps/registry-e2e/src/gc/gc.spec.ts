/**
 * Online GC in the all-in-one shape (docs/adr/0012-online-gc.md): what goes after the review
 * delay, what stays, and the figures the CLI and /metrics read. WHARF_GC_REVIEW_DELAY=1s.
 */
import { Readable } from 'node:stream';
import { BLOB_API, type BlobApi } from '@wharf/contracts';
import { readGcStats } from '@wharf/metadata';
import {
  MT,
  buildImage,
  descriptorOf,
  expectError,
  indexOf,
  randomBlob,
  sha256,
} from '../api/support/client';
import { settle, sleep, startGcRegistry, type GcRegistry } from './support';

const SCHEMA1_EMPTY_LAYER = 'sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4';

describe('online garbage collection', () => {
  let r: GcRegistry;

  beforeAll(async () => {
    r = await startGcRegistry();
  });

  afterAll(() => r.stop());

  const manifestStatus = async (repo: string, ref: string) =>
    (await r.client.head(`/v2/${repo}/manifests/${ref}`, { Accept: `${MT.ociManifest}, ${MT.ociIndex}` }))
      .status;
  const blobStatus = async (repo: string, digest: string) =>
    (await r.client.head(`/v2/${repo}/blobs/${digest}`)).status;

  it('an untagged manifest and its unique blobs go after the delay; a layer a tagged image shares stays', async () => {
    const repo = 'gc/untagged';
    const shared = randomBlob(2048);
    const tagged = await r.client.pushImage(repo, { tag: 'v1', layers: [shared, randomBlob(700)] });
    const unique = randomBlob(1500);
    const untagged = await r.client.pushImage(repo, { layers: [shared, unique] });

    // Within the delay nothing goes, even when a pass runs.
    await r.worker.runOnce();
    expect(await manifestStatus(repo, untagged.digest)).toBe(200);
    expect(r.blobOnDisk(sha256(unique))).toBe(true);

    await settle(r);
    expectError(await r.client.get(`/v2/${repo}/manifests/${untagged.digest}`), 404, 'MANIFEST_UNKNOWN');
    for (const gone of [sha256(unique), untagged.config.digest]) {
      expect(await blobStatus(repo, gone)).toBe(404);
      expect(r.blobOnDisk(gone)).toBe(false);
    }
    expect(await manifestStatus(repo, 'v1')).toBe(200);
    for (const kept of [sha256(shared), tagged.config.digest, tagged.layers[1].digest]) {
      expect(await blobStatus(repo, kept)).toBe(200);
      expect(r.blobOnDisk(kept)).toBe(true);
    }
    const pulled = await r.client.get(`/v2/${repo}/blobs/${sha256(shared)}`);
    expect(sha256(pulled.body)).toBe(sha256(shared));
  });

  it('a moved tag and a deleted tag leave their old manifests to the collector', async () => {
    const repo = 'gc/tags';
    const first = await r.client.pushImage(repo, { tag: 'latest' });
    const second = await r.client.pushImage(repo, { tag: 'latest' });
    const dropped = await r.client.pushImage(repo, { tag: 'old' });
    expect((await r.client.delete(`/v2/${repo}/manifests/old`)).status).toBe(202);

    await settle(r);
    expect(await manifestStatus(repo, first.digest)).toBe(404);
    expect(await manifestStatus(repo, dropped.digest)).toBe(404);
    expect(r.blobOnDisk(first.layers[0].digest)).toBe(false);
    expect(r.blobOnDisk(dropped.config.digest)).toBe(false);
    expect(await manifestStatus(repo, 'latest')).toBe(200);
    expect(await manifestStatus(repo, second.digest)).toBe(200);
    expect(r.blobOnDisk(second.layers[0].digest)).toBe(true);
  });

  it('untagged children of a tagged index live; once the index is untagged, index, children and layers go', async () => {
    const repo = 'gc/multiarch';
    const amd = await r.client.pushImage(repo, { platform: { architecture: 'amd64', os: 'linux' } });
    const arm = await r.client.pushImage(repo, { platform: { architecture: 'arm64', os: 'linux' } });
    const index = indexOf(MT.ociIndex, [
      { ...descriptorOf(MT.ociManifest, amd.manifest), platform: { architecture: 'amd64', os: 'linux' } },
      { ...descriptorOf(MT.ociManifest, arm.manifest), platform: { architecture: 'arm64', os: 'linux' } },
    ] as never);
    const indexDigest = await r.client.pushManifest(repo, 'v1', index, MT.ociIndex);

    await settle(r);
    for (const child of [amd, arm]) {
      expect(await manifestStatus(repo, child.digest)).toBe(200);
      expect(r.blobOnDisk(child.layers[0].digest)).toBe(true);
    }

    expect((await r.client.delete(`/v2/${repo}/manifests/v1`)).status).toBe(202);
    await settle(r);
    expect(await manifestStatus(repo, indexDigest)).toBe(404);
    for (const child of [amd, arm]) {
      expect(await manifestStatus(repo, child.digest)).toBe(404);
      expect(r.blobOnDisk(child.layers[0].digest)).toBe(false);
      expect(r.blobOnDisk(child.config.digest)).toBe(false);
    }
  });

  it('a referrer lives while its subject does and goes with it', async () => {
    const repo = 'gc/referrers';
    const subject = await r.client.pushImage(repo, { tag: 'v1' });
    const signature = await r.client.pushImage(repo, {
      artifactType: 'application/vnd.example.signature',
      subject: descriptorOf(MT.ociManifest, subject.manifest),
    });

    await settle(r);
    expect(await manifestStatus(repo, signature.digest)).toBe(200);
    const listed = await r.client.get(`/v2/${repo}/referrers/${subject.digest}`);
    expect((JSON.parse(listed.body.toString()) as { manifests: unknown[] }).manifests).toHaveLength(1);

    expect((await r.client.delete(`/v2/${repo}/manifests/${subject.digest}`)).status).toBe(202);
    await settle(r);
    expect(await manifestStatus(repo, signature.digest)).toBe(404);
    expect(r.blobOnDisk(signature.layers[0].digest)).toBe(false);
    expect(r.blobOnDisk(subject.layers[0].digest)).toBe(false);
  });

  it('a blob nobody references goes with every link; one referenced from another repository stays everywhere', async () => {
    const orphan = randomBlob(999);
    await r.client.pushBlob('gc/orphans-a', orphan);
    await r.client.pushBlob('gc/orphans-b', orphan);
    const used = await r.client.pushImage('gc/users', { tag: 'v1' });
    // The same layer, only linked (not referenced) in a second repository.
    await r.client.pushBlob('gc/orphans-a', used.layerBlobs[0]);

    await settle(r);
    expect(await blobStatus('gc/orphans-a', sha256(orphan))).toBe(404);
    expect(await blobStatus('gc/orphans-b', sha256(orphan))).toBe(404);
    expect(r.blobOnDisk(sha256(orphan))).toBe(false);
    expect(await blobStatus('gc/orphans-a', used.layers[0].digest)).toBe(200);
    expect(r.blobOnDisk(used.layers[0].digest)).toBe(true);
  });

  it('DELETE of the last link of a blob frees its bytes; a blob uploaded again after collection is whole', async () => {
    const repo = 'gc/deleted';
    const data = randomBlob(4096);
    const digest = await r.client.pushBlob(repo, data);
    expect((await r.client.delete(`/v2/${repo}/blobs/${digest}`)).status).toBe(202);
    await settle(r);
    expect(r.blobOnDisk(digest)).toBe(false);

    await r.client.pushBlob(repo, data);
    const image = buildImage({ layers: [data] });
    await r.client.pushBlob(repo, image.configBlob);
    await r.client.pushManifest(repo, 'v1', image.manifest, image.mediaType);
    await settle(r);
    const pulled = await r.client.get(`/v2/${repo}/blobs/${digest}`);
    expect(pulled.status).toBe(200);
    expect(sha256(pulled.body)).toBe(digest);
  });

  it('bytes committed whose link never came go once older than the delay; young ones and linked ones stay', async () => {
    const blobs = r.running.app.get<BlobApi>(BLOB_API);
    // What a gateway that went away between the blob commit and the link leaves: bytes and a
    // blob record, and no repository link, so no review was ever queued for them.
    const commitUnlinked = async (data: Buffer): Promise<string> => {
      const session = await blobs.startUpload({ repository: 'gc/unlinked' });
      const body = Readable.from([data]);
      return (
        await blobs.completeUpload({
          repository: 'gc/unlinked',
          id: session.id,
          digest: sha256(data),
          chunk: { body, length: data.length },
        })
      ).digest;
    };
    const recorded = async (digest: string) =>
      (await r.sql('SELECT 1 FROM blob.blobs WHERE digest = $1', [digest])).length > 0;

    const orphan = await commitUnlinked(randomBlob(4096));
    const repo = 'gc/linked';
    const layer = randomBlob(4096);
    const image = buildImage({ layers: [layer] });
    await r.client.pushBlob(repo, layer);
    await r.client.pushBlob(repo, image.configBlob);
    await r.client.pushManifest(repo, 'v1', image.manifest, image.mediaType);
    expect(r.blobOnDisk(orphan)).toBe(true);

    await settle(r);
    expect(r.blobOnDisk(orphan)).toBe(false);
    expect(await recorded(orphan)).toBe(false);
    expect(r.blobOnDisk(sha256(layer))).toBe(true);
    expect((await r.client.get(`/v2/${repo}/blobs/${sha256(layer)}`)).status).toBe(200);

    // Committed just now: its link may still be on the way, so the walk leaves it for later.
    const young = await commitUnlinked(randomBlob(4096));
    await r.worker.runOnce();
    await r.worker.runOnce();
    expect(r.blobOnDisk(young)).toBe(true);
    expect(await recorded(young)).toBe(true);
    await settle(r);
    expect(r.blobOnDisk(young)).toBe(false);
  });

  it('a manifest PUT whose blob was collected answers 400 MANIFEST_BLOB_UNKNOWN, never a dangling manifest', async () => {
    const repo = 'gc/late';
    const image = buildImage();
    for (const b of [image.configBlob, ...image.layerBlobs]) await r.client.pushBlob(repo, b);
    await settle(r);
    const res = await r.client.putManifest(repo, 'v1', image.manifest, image.mediaType);
    const body = expectError(res, 400, 'MANIFEST_BLOB_UNKNOWN');
    expect(body.errors).toHaveLength(2);
    expect(await manifestStatus(repo, 'v1')).toBe(404);
  });

  it('a blob a client found by HEAD is not collected before its manifest PUT, even once due', async () => {
    const repo = 'gc/head-then-put';
    const shared = randomBlob(3000);
    // The only image holding `shared` goes: `shared` comes due one delay after the delete.
    const old = await r.client.pushImage(repo, { tag: 'old', layers: [shared] });
    expect((await r.client.delete(`/v2/${repo}/manifests/${old.digest}`)).status).toBe(202);
    await sleep(r.delayMs - 300);
    // A pushing client checks the layer, finds it, and skips its upload...
    expect(await blobStatus(repo, sha256(shared))).toBe(200);
    // ...and is slow to send its manifest: the layer's first due time passes, the collector runs.
    await sleep(600);
    await r.worker.runOnce();
    const image = buildImage({ layers: [shared] });
    await r.client.pushBlob(repo, image.configBlob);
    expect((await r.client.putManifest(repo, 'new', image.manifest, image.mediaType)).status).toBe(201);
    await settle(r);
    const pulled = await r.client.get(`/v2/${repo}/blobs/${sha256(shared)}`);
    expect(sha256(pulled.body)).toBe(sha256(shared));
    expect(r.blobOnDisk(old.config.digest)).toBe(false);
  });

  it('the schema1 empty layer a rewrite linked is never collected', async () => {
    const repo = 'gc/schema1';
    const layer = randomBlob(300);
    const config = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [sha256(layer)] },
        history: [{ created_by: 'ENV A=b', empty_layer: true }, { created_by: 'ADD file /' }],
      }),
    );
    await r.client.pushImage(repo, { tag: 'v1', format: 'docker', config, layers: [layer] });
    const rewritten = await r.client.get(`/v2/${repo}/manifests/v1`);
    expect(rewritten.status).toBe(200);
    expect(rewritten.body.toString()).toContain(SCHEMA1_EMPTY_LAYER);

    await settle(r);
    expect(await blobStatus(repo, SCHEMA1_EMPTY_LAYER)).toBe(200);
    expect(r.blobOnDisk(SCHEMA1_EMPTY_LAYER)).toBe(true);
    expect((await r.client.get(`/v2/${repo}/manifests/v1`)).status).toBe(200);
  });

  it('reports queue depth, totals and the last run', async () => {
    const stats = await readGcStats({ query: (q, p) => r.sql(q, p) });
    expect(stats.lastRunAt).toBeInstanceOf(Date);
    expect(Date.now() - stats.lastRunAt!.getTime()).toBeLessThan(60_000);
    // Exactly what the tests above left behind: nothing counted twice, nothing missed.
    expect(stats.manifestsDeleted).toBe(1 + 2 + 3 + 1);
    // The last 2: the bytes whose link never came.
    expect(stats.blobsDeleted).toBe(2 + 4 + 4 + 4 + 1 + 1 + 1 + 2 + 2);
    expect(stats.bytesFreed).toBeGreaterThan(10_000);
    expect(stats.overdueReviews).toBe(0);
    expect(stats.pendingBlobDeletions).toBe(0);
    expect(r.worker.counters().passes).toBeGreaterThan(0);
  });
});
