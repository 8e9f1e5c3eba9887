import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import {
  EMPTY_LAYER_DIGEST,
  MT,
  OLD_CLIENT_ACCEPTS,
  getManifest,
  http,
  pushImage,
  pushList,
  putManifest,
  sha256,
  startWharf,
  verifyJwsIndependently,
  type TestImage,
  type WharfInstance,
} from './support';

// The schema2 → signed schema1 rewrite as old Docker clients meet it (PROTOCOL.md §3.3–3.4), on the
// all-in-one with its defaults.

function imageWith(history: object[], layers = 2, extra: object = {}): TestImage {
  const blobs = Array.from({ length: layers }, () => randomBytes(64));
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/bin'], Cmd: ['sh'] },
      rootfs: { type: 'layers', diff_ids: blobs.map((b) => sha256(b)) },
      history,
      ...extra,
    }),
  );
  return { config, layers: blobs };
}

const withEmptyLayers = (): TestImage =>
  imageWith([
    { created: '2024-01-02T03:04:05Z', created_by: '/bin/sh -c #(nop) ADD file:a in /' },
    { created: '2024-01-02T03:04:06Z', created_by: '/bin/sh -c #(nop)  ENV A=1', empty_layer: true },
    { created: '2024-01-02T03:04:07Z', created_by: '/bin/sh -c apk add x' },
    { created: '2024-01-02T03:04:08Z', created_by: '/bin/sh -c #(nop)  CMD ["sh"]', empty_layer: true },
  ]);

describe('schema1 rewrite for old clients (all-in-one)', () => {
  let wharf: WharfInstance;
  const repo = 'team/old-clients';
  let image: TestImage;
  let stored: { body: Buffer; digest: string };

  beforeAll(async () => {
    wharf = await startWharf();
    image = withEmptyLayers();
    stored = await pushImage(wharf.url, repo, 'v1', image);
  });
  afterAll(() => wharf?.stop());

  describe.each(OLD_CLIENT_ACCEPTS)('GET by tag with $name', ({ accept }) => {
    it('answers a signed schema1 manifest whose digest headers name its payload', async () => {
      const res = await getManifest(wharf.url, repo, 'v1', accept);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe(MT.schema1Signed);
      expect(Number(res.headers['content-length'])).toBe(res.body.length);
      const jws = verifyJwsIndependently(res.body);
      expect(res.headers['docker-content-digest']).toBe(jws.digest);
      expect(res.headers['etag']).toBe(`"${jws.digest}"`);
      const payload = JSON.parse(jws.payload.toString('utf8'));
      expect(payload).toMatchObject({ schemaVersion: 1, name: repo, tag: 'v1', architecture: 'amd64' });
      expect(payload.fsLayers).toHaveLength(4);
    });
  });

  it('signs each response afresh while the payload and digest stay the same', async () => {
    const a = await getManifest(wharf.url, repo, 'v1');
    // The protected header's time has seconds precision; the ECDSA nonce differs regardless.
    const b = await getManifest(wharf.url, repo, 'v1');
    expect(a.body.equals(b.body)).toBe(false);
    expect(verifyJwsIndependently(a.body).payload.equals(verifyJwsIndependently(b.body).payload)).toBe(true);
  });

  it('serves the stored schema2 bytes when Accept lists the schema2 type', async () => {
    const res = await getManifest(wharf.url, repo, 'v1', `${MT.schema1Signed}, ${MT.docker}`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(MT.docker);
    expect(res.body.equals(stored.body)).toBe(true);
  });

  it.each(OLD_CLIENT_ACCEPTS)('never rewrites by digest ($name)', async ({ accept }) => {
    const res = await getManifest(wharf.url, repo, stored.digest, accept);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(MT.docker);
    expect(res.headers['docker-content-digest']).toBe(stored.digest);
    expect(res.body.equals(stored.body)).toBe(true);
  });

  it('answers HEAD with the digest and length a GET answers, and no body', async () => {
    const get = await getManifest(wharf.url, repo, 'v1');
    const head = await getManifest(wharf.url, repo, 'v1', undefined, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toHaveLength(0);
    expect(head.headers['content-type']).toBe(MT.schema1Signed);
    expect(head.headers['docker-content-digest']).toBe(get.headers['docker-content-digest']);
    expect(head.headers['content-length']).toBe(get.headers['content-length']);
  });

  it('links the gzipped empty tar into the repository so old clients can pull every blobSum', async () => {
    const jws = verifyJwsIndependently((await getManifest(wharf.url, repo, 'v1')).body);
    const sums: string[] = JSON.parse(jws.payload.toString()).fsLayers.map(
      (l: { blobSum: string }) => l.blobSum,
    );
    expect(sums).toContain(EMPTY_LAYER_DIGEST);
    for (const sum of new Set(sums)) {
      const blob = await http('GET', `${wharf.url}/v2/${repo}/blobs/${sum}`);
      expect(blob.status).toBe(200);
      expect(sha256(blob.body)).toBe(sum);
    }
  });

  it('follows the tag when it moves to another image', async () => {
    const before = await getManifest(wharf.url, repo, 'moving');
    expect(before.status).toBe(404);
    await pushImage(wharf.url, repo, 'moving', image);
    const first = verifyJwsIndependently((await getManifest(wharf.url, repo, 'moving')).body);
    await pushImage(wharf.url, repo, 'moving', imageWith([{ created_by: 'a' }, { created_by: 'b' }]));
    const second = verifyJwsIndependently((await getManifest(wharf.url, repo, 'moving')).body);
    expect(second.digest).not.toBe(first.digest);
    expect(JSON.parse(second.payload.toString()).fsLayers).toHaveLength(2);
  });

  it('answers 400 MANIFEST_INVALID for an image whose config cannot be converted', async () => {
    await pushImage(wharf.url, repo, 'no-history', imageWith([], 1));
    const res = await getManifest(wharf.url, repo, 'no-history');
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body.toString()).errors[0]).toMatchObject({
      code: 'MANIFEST_INVALID',
      message: 'empty history when trying to create schema1 manifest',
    });
    // Clients that read schema2 are not affected.
    expect((await getManifest(wharf.url, repo, 'no-history', MT.docker)).status).toBe(200);
  });

  it('refuses a schema1 push with 400 MANIFEST_INVALID saying it is disabled', async () => {
    const doc = (await getManifest(wharf.url, repo, 'v1')).body;
    for (const type of [MT.schema1Signed, MT.schema1]) {
      const res = await putManifest(wharf.url, repo, 'pushed', type, doc);
      expect(res.status).toBe(400);
      const error = JSON.parse(res.body.toString()).errors[0];
      expect(error.code).toBe('MANIFEST_INVALID');
      expect(error.message).toMatch(/schema1 manifest push is disabled/);
    }
  });

  it('rewrites an image stored before configs were kept, and keeps its config from then on', async () => {
    const { digest } = await pushImage(wharf.url, repo, 'old-row', withEmptyLayers());
    const client = new Client({ connectionString: wharf.databaseUrl });
    await client.connect();
    try {
      const forget = await client.query('UPDATE metadata.manifests SET config = NULL WHERE digest = $1', [
        digest,
      ]);
      expect(forget.rowCount).toBe(1);
      const res = await getManifest(wharf.url, repo, 'old-row');
      expect(res.status).toBe(200);
      verifyJwsIndependently(res.body);
      const row = await client.query('SELECT config FROM metadata.manifests WHERE digest = $1', [digest]);
      expect(row.rows[0].config).not.toBeNull();
    } finally {
      await client.end();
    }
  });

  it('keeps the config beside a Docker schema2 manifest at push', async () => {
    const client = new Client({ connectionString: wharf.databaseUrl });
    await client.connect();
    try {
      const row = await client.query('SELECT config FROM metadata.manifests WHERE digest = $1', [
        stored.digest,
      ]);
      expect(Buffer.compare(row.rows[0].config, image.config)).toBe(0);
    } finally {
      await client.end();
    }
  });

  describe('a Docker manifest list fetched by tag', () => {
    const listRepo = 'team/multi';
    let amd64: { body: Buffer; digest: string };
    let list: { body: Buffer; digest: string };

    beforeAll(async () => {
      amd64 = await pushImage(wharf.url, listRepo, 'amd64', withEmptyLayers());
      const arm64 = await pushImage(wharf.url, listRepo, 'arm64', imageWith([{ created_by: 'x' }], 1));
      list = await pushList(wharf.url, listRepo, 'multi', [
        { digest: arm64.digest, size: arm64.body.length, platform: { os: 'linux', architecture: 'arm64' } },
        { digest: amd64.digest, size: amd64.body.length, platform: { os: 'linux', architecture: 'amd64' } },
      ]);
      await pushList(wharf.url, listRepo, 'arm-only', [
        { digest: arm64.digest, size: arm64.body.length, platform: { os: 'linux', architecture: 'arm64' } },
      ]);
    });

    it.each(OLD_CLIENT_ACCEPTS)(
      'answers the linux/amd64 entry rewritten to schema1, named by the requested tag ($name)',
      async ({ accept }) => {
        const res = await getManifest(wharf.url, listRepo, 'multi', accept);
        expect(res.status).toBe(200);
        expect(res.headers['content-type']).toBe(MT.schema1Signed);
        const jws = verifyJwsIndependently(res.body);
        expect(res.headers['docker-content-digest']).toBe(jws.digest);
        const direct = verifyJwsIndependently((await getManifest(wharf.url, listRepo, 'amd64')).body);
        // The same image under another tag: only the tag inside differs.
        expect(jws.payload.toString().replace('"tag": "multi"', '"tag": "amd64"')).toBe(
          direct.payload.toString(),
        );
      },
    );

    it('answers the linux/amd64 entry as stored when Accept has schema2 but not the list type', async () => {
      const res = await getManifest(wharf.url, listRepo, 'multi', MT.docker);
      expect(res.headers['content-type']).toBe(MT.docker);
      expect(res.headers['docker-content-digest']).toBe(amd64.digest);
      expect(res.body.equals(amd64.body)).toBe(true);
    });

    it('answers the list itself when Accept has the list type, and by digest', async () => {
      const byTag = await getManifest(wharf.url, listRepo, 'multi', MT.dockerList);
      expect(byTag.body.equals(list.body)).toBe(true);
      const byDigest = await getManifest(wharf.url, listRepo, list.digest);
      expect(byDigest.headers['content-type']).toBe(MT.dockerList);
      expect(byDigest.body.equals(list.body)).toBe(true);
    });

    it('answers 404 MANIFEST_UNKNOWN when the list has no linux/amd64 entry', async () => {
      const res = await getManifest(wharf.url, listRepo, 'arm-only');
      expect(res.status).toBe(404);
      expect(JSON.parse(res.body.toString()).errors[0].code).toBe('MANIFEST_UNKNOWN');
    });

    it('answers HEAD of the fallback with the GET digest', async () => {
      const get = await getManifest(wharf.url, listRepo, 'multi');
      const head = await getManifest(wharf.url, listRepo, 'multi', undefined, 'HEAD');
      expect(head.headers['docker-content-digest']).toBe(get.headers['docker-content-digest']);
      expect(head.headers['content-length']).toBe(get.headers['content-length']);
    });
  });
});
