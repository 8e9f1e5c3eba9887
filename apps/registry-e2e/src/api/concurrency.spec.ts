/**
 * Concurrent pushes: many clients pushing images that share layers, through every upload path, to
 * the same and to different repositories. Content is addressed by digest, so every layer must end
 * up stored exactly once, and no upload may be left behind (DESIGN.md "Rules that keep it correct").
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { startTestRegistry, type TestRegistry } from '../support/registry';
import {
  MT,
  RegistryClient,
  buildImage,
  randomBlob,
  sha256,
  withQuery,
  type BuiltImage,
} from './support/client';
import { blobDataPath, filesUnder, storageRoot, storedBlobFiles, uploadsLeft } from './support/storage';

const IMAGES = 50;
const REPOS = 5;
const CHUNK = 64 * 1024;

describe('concurrency', () => {
  let registry: TestRegistry;
  let client: RegistryClient;

  beforeAll(async () => {
    registry = await startTestRegistry();
    client = new RegistryClient(registry.url);
  });

  afterAll(async () => {
    client?.close();
    await registry?.stop();
  });

  type Mode = 'chunked' | 'monolithic' | 'post-put';
  const MODES: Mode[] = ['chunked', 'monolithic', 'post-put'];

  function pushBlobVia(mode: Mode, repo: string, data: Buffer): Promise<string> {
    if (mode === 'chunked') return client.pushBlobChunked(repo, data, CHUNK);
    if (mode === 'monolithic') return client.pushBlobMonolithic(repo, data);
    return client.pushBlob(repo, data);
  }

  describe(`${IMAGES} concurrent pushes of images sharing 3 layers`, () => {
    const shared = [randomBlob(256 * 1024 + 3), randomBlob(100 * 1024), randomBlob(40 * 1024 + 1)];
    const images: { repo: string; tag: string; mode: Mode; image: BuiltImage }[] = [];
    const results: PromiseSettledResult<unknown>[] = [];

    beforeAll(async () => {
      for (let i = 0; i < IMAGES; i++) {
        const image = buildImage({ layers: [...shared, randomBlob(20 * 1024 + i)] });
        images.push({
          repo: `concurrency/r${i % REPOS}`,
          tag: `img-${i}`,
          mode: MODES[i % MODES.length],
          image,
        });
      }
      const pushes = images.map(async ({ repo, tag, mode, image }) => {
        // Every blob of the image at once, as clients do, each through this image's upload path.
        await Promise.all([image.configBlob, ...image.layerBlobs].map((b) => pushBlobVia(mode, repo, b)));
        const byTag = await client.putManifest(repo, tag, image.manifest, MT.ociManifest);
        if (byTag.status !== 201) throw new Error(`PUT ${repo}:${tag} answered ${byTag.describe()}`);
        // Every image also moves its repository's `latest`, all at the same time.
        const latest = await client.putManifest(repo, 'latest', image.manifest, MT.ociManifest);
        if (latest.status !== 201) throw new Error(`PUT ${repo}:latest answered ${latest.describe()}`);
      });
      results.push(...(await Promise.allSettled(pushes)));
    });

    it('every push succeeds', () => {
      const failed = results.flatMap((r, i) =>
        r.status === 'rejected' ? [`image ${i}: ${String(r.reason)}`] : [],
      );
      expect(failed).toEqual([]);
    });

    it('every manifest is served by its tag, and latest is one of its repository images', async () => {
      for (const { repo, tag, image } of images) {
        const res = await client.get(`/v2/${repo}/manifests/${tag}`);
        expect(res.status).toBe(200);
        expect(res.header('docker-content-digest')).toBe(image.digest);
      }
      for (let r = 0; r < REPOS; r++) {
        const repo = `concurrency/r${r}`;
        const latest = await client.head(`/v2/${repo}/manifests/latest`);
        expect(latest.status).toBe(200);
        const candidates = images.filter((i) => i.repo === repo).map((i) => i.image.digest);
        expect(candidates).toContain(latest.header('docker-content-digest'));
        const tags = (await client.get(`/v2/${repo}/tags/list`)).json().tags as string[];
        expect(tags).toHaveLength(IMAGES / REPOS + 1);
      }
    });

    it('every blob reads back intact in every repository that pushed it', async () => {
      for (const { repo, image } of images) {
        for (const blob of [image.configBlob, ...image.layerBlobs]) {
          const res = await client.get(`/v2/${repo}/blobs/${sha256(blob)}`);
          expect(res.status).toBe(200);
          expect(sha256(res.body)).toBe(sha256(blob));
        }
      }
    });

    it('each layer is stored once: one data file per distinct digest, with the right size', () => {
      const distinct = new Map<string, number>();
      for (const { image } of images) {
        for (const blob of [image.configBlob, ...image.layerBlobs]) distinct.set(sha256(blob), blob.length);
      }
      expect(distinct.size).toBe(shared.length + 2 * IMAGES);
      const expectedFiles = [...distinct.keys()].map((d) => {
        const [alg, hex] = d.split(':');
        return join(alg, hex.slice(0, 2), hex, 'data');
      });
      expect(storedBlobFiles(registry)).toEqual(expectedFiles.sort());
      for (const [digest, size] of distinct) expect(statSync(blobDataPath(registry, digest)).size).toBe(size);
    });

    it('nothing is left under the uploads or staging directories after all commits', () => {
      expect(uploadsLeft(registry)).toEqual([]);
      expect(filesUnder(join(storageRoot(registry), 'tmp'))).toEqual([]);
    });
  });

  it('20 concurrent single-POST uploads of the same new blob to 20 repositories all answer 201', async () => {
    const blob = randomBlob(300 * 1024);
    const digest = sha256(blob);
    const statuses = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const res = await client.post(`/v2/concurrency/same-${i}/blobs/uploads/?digest=${digest}`, blob, {
          'Content-Type': 'application/octet-stream',
        });
        return res.status;
      }),
    );
    expect(statuses).toEqual(Array(20).fill(201));
    expect(statSync(blobDataPath(registry, digest)).size).toBe(blob.length);
    for (let i = 0; i < 20; i++) {
      expect((await client.head(`/v2/concurrency/same-${i}/blobs/${digest}`)).status).toBe(200);
    }
    expect(uploadsLeft(registry)).toEqual([]);
  });

  it('concurrent PATCHes to one session: exactly one is accepted, the rest are refused without a 500', async () => {
    const session = await client.post('/v2/concurrency/one-session/blobs/uploads/');
    const chunks = Array.from({ length: 10 }, () => randomBlob(50 * 1024));
    const responses = await Promise.all(
      chunks.map((chunk) =>
        client.patch(session.location, chunk, {
          'Content-Type': 'application/octet-stream',
          'Content-Range': `0-${chunk.length - 1}`,
        }),
      ),
    );
    const accepted = responses.flatMap((r, i) => (r.status === 202 ? [i] : []));
    expect(accepted).toHaveLength(1);
    for (const r of responses) {
      if (r.status === 202) continue;
      // Either the session was busy (another writer holds it) or it had moved on (out of order).
      expect([
        [404, 'BLOB_UPLOAD_INVALID'],
        [416, 'RANGE_INVALID'],
      ]).toContainEqual([r.status, r.json().errors[0].code]);
    }
    const winner = chunks[accepted[0]];
    expect((await client.get(session.location)).header('range')).toBe(`0-${winner.length - 1}`);
    const put = await client.put(withQuery(session.location, { digest: sha256(winner) }));
    expect(put.status).toBe(201);
    expect(
      (await client.get(`/v2/concurrency/one-session/blobs/${sha256(winner)}`)).body.equals(winner),
    ).toBe(true);
  });

  it('concurrent mounts of one blob into many repositories all answer 201', async () => {
    const blob = randomBlob(1000);
    const digest = await client.pushBlob('concurrency/mount-src', blob);
    const statuses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        client
          .post(`/v2/concurrency/mount-${i % 4}/blobs/uploads/?mount=${digest}&from=concurrency/mount-src`)
          .then((r) => r.status),
      ),
    );
    expect(statuses).toEqual(Array(20).fill(201));
  });

  it('concurrent pushes and deletes of manifests never answer a 500', async () => {
    const repo = 'concurrency/churn';
    const base = await client.pushImage(repo, { tag: 'base' });
    const statuses = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const tag = `t${i % 3}`;
        if (i % 2 === 0) return (await client.putManifest(repo, tag, base.manifest, MT.ociManifest)).status;
        return (await client.delete(`/v2/${repo}/manifests/${i % 4 === 1 ? tag : base.digest}`)).status;
      }),
    );
    for (const s of statuses) expect([201, 202, 404]).toContain(s);
  });
});
