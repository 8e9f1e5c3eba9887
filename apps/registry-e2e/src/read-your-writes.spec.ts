/**
 * The all-in-one reads tags, manifests and blob links through an in-process cache
 * (libs/metadata/src/read-cache.ts). Whatever the cache holds, a write is visible to every read
 * that starts after the write answered (DESIGN.md: once the PUT that moved a tag has answered 201,
 * the old digest is never served).
 */
import { startTestRegistry, type TestRegistry } from './support/registry';
import { MT, RegistryClient } from './api/support/client';

describe('reads after writes, with pulls cached in process', () => {
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

  const accept = { Accept: [MT.ociManifest, MT.dockerManifest].join(', ') };

  it('a GET by tag after the 201 of the PUT that moved it answers the new digest, under concurrent pulls', async () => {
    const repo = 'ryw/moves';
    let stop = false;
    // Pullers keep the tag hot in the cache the whole time.
    const pullers = Array.from({ length: 8 }, async () => {
      while (!stop) await client.get(`/v2/${repo}/manifests/latest`, accept);
    });
    try {
      for (let i = 0; i < 15; i++) {
        const image = await client.pushImage(repo, { tag: 'latest' });
        for (const method of ['get', 'head'] as const) {
          const res = await client[method](`/v2/${repo}/manifests/latest`, accept);
          expect(res.status).toBe(200);
          expect(res.header('docker-content-digest')).toBe(image.digest);
        }
      }
    } finally {
      stop = true;
      await Promise.all(pullers);
    }
  });

  it('a tag deleted, or whose manifest was deleted, is gone for the next GET', async () => {
    const repo = 'ryw/deletes';
    const a = await client.pushImage(repo, { tag: 'a' });
    const b = await client.pushImage(repo, { tag: 'b' });
    for (const ref of ['a', 'b', a.digest, b.digest]) {
      expect((await client.get(`/v2/${repo}/manifests/${ref}`, accept)).status).toBe(200);
    }
    expect((await client.delete(`/v2/${repo}/manifests/a`)).status).toBe(202);
    expect((await client.get(`/v2/${repo}/manifests/a`, accept)).status).toBe(404);
    expect((await client.get(`/v2/${repo}/manifests/${a.digest}`, accept)).status).toBe(200);

    expect((await client.delete(`/v2/${repo}/manifests/${b.digest}`)).status).toBe(202);
    expect((await client.get(`/v2/${repo}/manifests/b`, accept)).status).toBe(404);
    expect((await client.head(`/v2/${repo}/manifests/${b.digest}`, accept)).status).toBe(404);

    // Pushed again by digest, the manifest is back, but not the tag its deletion removed.
    await client.pushManifest(repo, b.digest, b.manifest, b.mediaType);
    expect((await client.get(`/v2/${repo}/manifests/${b.digest}`, accept)).status).toBe(200);
    expect((await client.get(`/v2/${repo}/manifests/b`, accept)).status).toBe(404);
  });

  it('a blob deleted from a repository is unknown there for the next GET', async () => {
    const repo = 'ryw/blobs';
    const image = await client.pushImage(repo, { tag: 'x' });
    const path = `/v2/${repo}/blobs/${image.layers[0].digest}`;
    expect((await client.get(path)).status).toBe(200);
    expect((await client.head(path)).status).toBe(200);
    expect((await client.delete(path)).status).toBe(202);
    expect((await client.get(path)).status).toBe(404);
    expect((await client.head(path)).status).toBe(404);
  });
});
