/**
 * Pushes racing the collector. Each lane pushes an untagged image, waits until the collector is
 * about to take it, then pushes a tagged image sharing a layer with it, as docker does: HEAD each
 * blob, upload what is missing, PUT the manifest, and on MANIFEST_BLOB_UNKNOWN (the collector won
 * the race for a blob) check and upload again. Meanwhile a puller reads a tagged image nonstop.
 * Afterwards no manifest may reference a blob that is not linked, and no link may lack its bytes.
 */
import { MT, buildImage, type BuiltImage, randomBlob, sha256 } from '../api/support/client';
import { settle, sleep, startGcRegistry, type GcRegistry } from './support';

const LANES = 4;
const ITERATIONS = 12;
const DELAY_MS = 2000;

describe('pushes racing the collector', () => {
  let r: GcRegistry;

  beforeAll(async () => {
    r = await startGcRegistry({ WHARF_GC_REVIEW_DELAY: `${DELAY_MS}ms`, WHARF_GC_INTERVAL: '10ms' });
  });

  afterAll(() => r.stop());

  /** What a client does: skip blobs the registry has, upload the rest, PUT; re-check on a lost race. */
  async function pushLikeAClient(
    repo: string,
    reference: string,
    image: BuiltImage,
  ): Promise<{ retries: number }> {
    for (let attempt = 0; attempt < 5; attempt++) {
      for (const blob of [image.configBlob, ...image.layerBlobs]) {
        const head = await r.client.head(`/v2/${repo}/blobs/${sha256(blob)}`);
        if (head.status === 404) await r.client.pushBlob(repo, blob);
        else expect(head.status).toBe(200);
      }
      const put = await r.client.putManifest(repo, reference, image.manifest, image.mediaType);
      if (put.status === 201) return { retries: attempt };
      expect(put.status).toBe(400);
      expect(put.body.toString()).toContain('MANIFEST_BLOB_UNKNOWN');
    }
    throw new Error(`push of ${repo}:${reference} kept losing`);
  }

  it('never leaves a manifest whose blobs are gone, and pulls never fail', async () => {
    const repo = 'race/app';
    const stable = await r.client.pushImage(repo, { tag: 'stable' });
    let pulling = true;
    const pullFailures: string[] = [];
    let pulls = 0;
    const puller = (async () => {
      while (pulling) {
        const m = await r.client.get(`/v2/${repo}/manifests/stable`, { Accept: MT.ociManifest });
        if (m.status !== 200) pullFailures.push(`manifest ${m.status}`);
        for (const d of [stable.config.digest, stable.layers[0].digest]) {
          const b = await r.client.get(`/v2/${repo}/blobs/${d}`);
          if (b.status !== 200 || sha256(b.body) !== d) pullFailures.push(`blob ${b.status}`);
        }
        pulls++;
      }
    })();

    const pushed: { tag: string; image: BuiltImage }[] = [];
    let lostRaces = 0;
    const lane = async (l: number): Promise<void> => {
      for (let i = 0; i < ITERATIONS; i++) {
        const shared = randomBlob(4096);
        // Untagged (by digest); a push that outlasts the delay on a loaded machine retries too.
        const untagged = buildImage({ layers: [shared, randomBlob(512)] });
        lostRaces += (await pushLikeAClient(repo, untagged.digest, untagged)).retries;
        // Around the moment the untagged image and then its layers come due.
        await sleep(DELAY_MS - 100 + Math.floor(Math.random() * 250));
        const image = buildImage({ layers: [shared, randomBlob(256)] });
        const tag = `l${l}-i${i}`;
        lostRaces += (await pushLikeAClient(repo, tag, image)).retries;
        pushed.push({ tag, image });
      }
    };
    await Promise.all(Array.from({ length: LANES }, (_, l) => lane(l)));
    pulling = false;
    await puller;
    await settle(r, DELAY_MS + 100);

    expect(pullFailures).toEqual([]);
    expect(pulls).toBeGreaterThan(0);
    // The untagged images really were collected while the pushes ran.
    const [{ count: untaggedLeft }] = await r.sql(
      `SELECT count(*) FROM metadata.manifests m WHERE NOT EXISTS
         (SELECT 1 FROM metadata.tags t WHERE t.repository_id = m.repository_id AND t.manifest_digest = m.digest)`,
    );
    expect(Number(untaggedLeft)).toBe(0);

    for (const { tag, image } of pushed) {
      const m = await r.client.get(`/v2/${repo}/manifests/${tag}`, { Accept: image.mediaType });
      expect(m.status).toBe(200);
      for (const blob of [image.configBlob, ...image.layerBlobs]) {
        const b = await r.client.get(`/v2/${repo}/blobs/${sha256(blob)}`);
        expect(b.status).toBe(200);
        expect(sha256(b.body)).toBe(sha256(blob));
      }
    }
    const dangling = await r.sql(
      `SELECT mb.blob_digest FROM metadata.manifest_blobs mb WHERE NOT EXISTS (SELECT 1 FROM metadata.blob_links bl
         WHERE bl.repository_id = mb.repository_id AND bl.digest = mb.blob_digest)`,
    );
    expect(dangling).toEqual([]);
    const links = await r.sql('SELECT DISTINCT digest FROM metadata.blob_links');
    expect(links.filter((l) => !r.blobOnDisk(String(l.digest)))).toEqual([]);
    process.stdout.write(
      `gc race: ${pushed.length} pushes, ${lostRaces} lost a blob to the collector and retried, ${pulls} pulls\n`,
    );
  });
});
