/**
 * Manifests: GET / HEAD / PUT / DELETE /v2/<name>/manifests/<reference> for Docker schema2, Docker
 * manifest lists, OCI manifests, OCI indexes and OCI artifacts; content negotiation; validation
 * (PROTOCOL.md §2.4, §3).
 */
import { startTestRegistry, type TestRegistry } from '../support/registry';
import {
  EMPTY_JSON_DIGEST,
  MT,
  RegistryClient,
  buildImage,
  descriptorOf,
  expectError,
  expectHeadError,
  indexOf,
  jsonBytes,
  randomBlob,
  sha256,
  type Descriptor,
  type PushedImage,
} from './support/client';

const MAX_MANIFEST = 4 * 1024 * 1024;

describe('manifests', () => {
  let registry: TestRegistry;
  let client: RegistryClient;
  let repoCount = 0;
  const freshRepo = (what: string) => `manifests/${what}-${++repoCount}`;

  beforeAll(async () => {
    registry = await startTestRegistry();
    client = new RegistryClient(registry.url);
  });

  afterAll(async () => {
    client?.close();
    await registry?.stop();
  });

  const manifestPath = (repo: string, ref: string) => `/v2/${repo}/manifests/${ref}`;

  function expectManifest(res: Awaited<ReturnType<RegistryClient['get']>>, body: Buffer, mediaType: string) {
    expect(res.status).toBe(200);
    expect(res.header('content-type')).toBe(mediaType);
    expect(res.header('docker-content-digest')).toBe(sha256(body));
    expect(res.header('content-length')).toBe(String(body.length));
    expect(res.header('etag')).toBe(`"${sha256(body)}"`);
    expect(res.body.equals(body)).toBe(true);
  }

  async function pushIndexChildren(repo: string, format: 'oci' | 'docker') {
    const arm = await client.pushImage(repo, { format, platform: { architecture: 'arm64', os: 'linux' } });
    const amd = await client.pushImage(repo, { format, platform: { architecture: 'amd64', os: 'linux' } });
    const childType = format === 'docker' ? MT.dockerManifest : MT.ociManifest;
    const entries: Descriptor[] = [
      descriptorOf(childType, arm.manifest, { platform: { architecture: 'arm64', os: 'linux' } }),
      descriptorOf(childType, amd.manifest, { platform: { architecture: 'amd64', os: 'linux' } }),
    ];
    return { arm, amd, entries };
  }

  describe('lifecycle of each kind: PUT, GET, HEAD and DELETE by tag and by digest', () => {
    /** Pushes what the manifest needs into `repo` and returns its bytes and media type. */
    const KINDS: [string, (repo: string) => Promise<{ body: Buffer; mediaType: string }>][] = [
      [
        'Docker schema2',
        async (repo) => {
          const image = buildImage({ format: 'docker' });
          for (const b of [image.configBlob, ...image.layerBlobs]) await client.pushBlob(repo, b);
          return { body: image.manifest, mediaType: MT.dockerManifest };
        },
      ],
      [
        'Docker manifest list',
        async (repo) => ({
          body: indexOf(MT.dockerList, (await pushIndexChildren(repo, 'docker')).entries),
          mediaType: MT.dockerList,
        }),
      ],
      [
        'OCI manifest',
        async (repo) => {
          const image = buildImage();
          for (const b of [image.configBlob, ...image.layerBlobs]) await client.pushBlob(repo, b);
          return { body: image.manifest, mediaType: MT.ociManifest };
        },
      ],
      [
        'OCI index',
        async (repo) => ({
          body: indexOf(MT.ociIndex, (await pushIndexChildren(repo, 'oci')).entries),
          mediaType: MT.ociIndex,
        }),
      ],
      [
        'OCI artifact',
        async (repo) => {
          const payload = randomBlob(40);
          await client.pushBlob(repo, Buffer.from('{}'));
          await client.pushBlob(repo, payload);
          const body = jsonBytes({
            schemaVersion: 2,
            mediaType: MT.ociManifest,
            artifactType: 'application/vnd.example.thing',
            config: { mediaType: MT.ociEmpty, digest: EMPTY_JSON_DIGEST, size: 2 },
            layers: [descriptorOf('application/vnd.example.thing.layer', payload)],
          });
          return { body, mediaType: MT.ociManifest };
        },
      ],
    ];

    it.each(KINDS)('%s', async (_kind, prepare) => {
      const repo = freshRepo('kind');
      const { body, mediaType } = await prepare(repo);
      const digest = sha256(body);
      const accept = { Accept: mediaType };

      const byTag = await client.putManifest(repo, 'tagged', body, mediaType);
      expect(byTag.status).toBe(201);
      expect(byTag.location).toBe(`/v2/${repo}/manifests/${digest}`);
      expect(byTag.header('docker-content-digest')).toBe(digest);
      const byDigest = await client.putManifest(repo, digest, body, mediaType);
      expect(byDigest.status).toBe(201);
      expect(byDigest.header('docker-content-digest')).toBe(digest);

      for (const ref of ['tagged', digest]) {
        expectManifest(await client.get(manifestPath(repo, ref), accept), body, mediaType);
        const head = await client.head(manifestPath(repo, ref), accept);
        expect(head.status).toBe(200);
        expect(head.header('docker-content-digest')).toBe(digest);
        expect(head.header('content-length')).toBe(String(body.length));
        expect(head.body.length).toBe(0);
      }

      expect((await client.delete(manifestPath(repo, 'tagged'))).status).toBe(202);
      expectError(await client.get(manifestPath(repo, 'tagged'), accept), 404, 'MANIFEST_UNKNOWN');
      expectManifest(await client.get(manifestPath(repo, digest), accept), body, mediaType);

      expect((await client.putManifest(repo, 'again', body, mediaType)).status).toBe(201);
      expect((await client.delete(manifestPath(repo, digest))).status).toBe(202);
      expectError(await client.get(manifestPath(repo, digest), accept), 404, 'MANIFEST_UNKNOWN');
      expectHeadError(await client.head(manifestPath(repo, digest), accept), 404);
      expectError(await client.get(manifestPath(repo, 'again'), accept), 404, 'MANIFEST_UNKNOWN');
      expectError(await client.delete(manifestPath(repo, digest)), 404, 'MANIFEST_UNKNOWN');
    });
  });

  describe('PUT', () => {
    it('by tag answers 201 with Location by digest and Docker-Content-Digest', async () => {
      const repo = freshRepo('put');
      const image = buildImage();
      for (const b of [image.configBlob, ...image.layerBlobs]) await client.pushBlob(repo, b);
      const res = await client.putManifest(repo, 'v1', image.manifest, MT.ociManifest);
      expect(res.status).toBe(201);
      expect(res.header('location')).toBe(`http://${client.host}/v2/${repo}/manifests/${image.digest}`);
      expect(res.header('docker-content-digest')).toBe(image.digest);
      expect(res.header('content-length')).toBe('0');
      expect(res.header('oci-subject')).toBeUndefined();
    });

    it('by digest answers 201 with the same Location', async () => {
      const repo = freshRepo('put-digest');
      const image = buildImage();
      for (const b of [image.configBlob, ...image.layerBlobs]) await client.pushBlob(repo, b);
      const res = await client.putManifest(repo, image.digest, image.manifest, MT.ociManifest);
      expect(res.status).toBe(201);
      expect(res.location).toBe(`/v2/${repo}/manifests/${image.digest}`);
      expect(res.header('docker-content-digest')).toBe(image.digest);
    });

    it('Location is built from X-Forwarded-Proto and X-Forwarded-Host when present', async () => {
      const repo = freshRepo('put-fwd');
      const image = buildImage();
      for (const b of [image.configBlob, ...image.layerBlobs]) await client.pushBlob(repo, b);
      const res = await client.putManifest(repo, 'fwd', image.manifest, MT.ociManifest, {
        'X-Forwarded-Proto': 'https',
        'X-Forwarded-Host': 'registry.example.com:8443',
      });
      expect(res.status).toBe(201);
      expect(res.header('location')).toBe(
        `https://registry.example.com:8443/v2/${repo}/manifests/${image.digest}`,
      );
    });

    it('Location is built from Host when no forwarded headers are present', async () => {
      const repo = freshRepo('put-host');
      const image = buildImage();
      for (const b of [image.configBlob, ...image.layerBlobs]) await client.pushBlob(repo, b);
      const res = await client.putManifest(repo, 'host', image.manifest, MT.ociManifest, {
        Host: 'registry.internal:5000',
      });
      expect(res.header('location')).toBe(
        `http://registry.internal:5000/v2/${repo}/manifests/${image.digest}`,
      );
    });

    it('stores the exact bytes pushed, unknown fields and odd whitespace included', async () => {
      const repo = freshRepo('exact');
      const config = Buffer.from(
        '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}',
      );
      const layer = randomBlob(100);
      await client.pushBlob(repo, config);
      await client.pushBlob(repo, layer);
      const body = Buffer.from(
        `{\n\t"schemaVersion":   2,\n\t"mediaType": "${MT.ociManifest}",\n` +
          `\t"config": {"mediaType": "${MT.ociConfig}", "digest": "${sha256(config)}", "size": ${config.length},` +
          ` "data": "${config.toString('base64')}", "newUnspecifiedField": "aGVsbG8gd29ybGQ="},\n` +
          `\t"layers": [{"mediaType": "${MT.ociLayer}", "digest": "${sha256(layer)}", "size": ${layer.length}, "newUnspecifiedField": null}],\n` +
          `\t"x-vendor": {"nested": [1, 2.50, "\\u00e9"]}\n}\n\n`,
      );
      const digest = await client.pushManifest(repo, 'exact', body, MT.ociManifest);
      expectManifest(await client.get(manifestPath(repo, 'exact')), body, MT.ociManifest);
      expectManifest(await client.get(manifestPath(repo, digest)), body, MT.ociManifest);
    });

    it('accepts a Content-Type with parameters', async () => {
      const repo = freshRepo('ct-params');
      const image = buildImage();
      for (const b of [image.configBlob, ...image.layerBlobs]) await client.pushBlob(repo, b);
      const res = await client.putManifest(repo, 'p', image.manifest, `${MT.ociManifest}; charset=utf-8`);
      expect(res.status).toBe(201);
    });

    it('a manifest with empty layers: [] is accepted', async () => {
      const repo = freshRepo('empty-layers');
      const image = await client.pushImage(repo, { layers: [], tag: 'empty' });
      expect(image.layers).toEqual([]);
      expectManifest(await client.get(manifestPath(repo, 'empty')), image.manifest, MT.ociManifest);
    });

    it('pushing the same manifest twice answers 201 both times', async () => {
      const repo = freshRepo('twice');
      const image = await client.pushImage(repo, { tag: 'a' });
      expect((await client.putManifest(repo, 'a', image.manifest, MT.ociManifest)).status).toBe(201);
      expect((await client.putManifest(repo, image.digest, image.manifest, MT.ociManifest)).status).toBe(201);
    });

    it('PUT by tag moves the tag; the old manifest stays reachable by digest', async () => {
      const repo = freshRepo('move');
      const first = await client.pushImage(repo, { tag: 'latest' });
      const second = await client.pushImage(repo, { tag: 'latest' });
      expectManifest(await client.get(manifestPath(repo, 'latest')), second.manifest, MT.ociManifest);
      expectManifest(await client.get(manifestPath(repo, first.digest)), first.manifest, MT.ociManifest);
    });
  });

  describe('Docker schema2', () => {
    let repo: string;
    let image: PushedImage;

    beforeAll(async () => {
      repo = freshRepo('schema2');
      image = await client.pushImage(repo, {
        format: 'docker',
        tag: 'v2',
        layers: [randomBlob(300), randomBlob(200)],
      });
    });

    it('GET by tag with the schema2 type in Accept answers the stored bytes', async () => {
      const res = await client.get(manifestPath(repo, 'v2'), { Accept: MT.dockerManifest });
      expectManifest(res, image.manifest, MT.dockerManifest);
    });

    it('GET by digest answers the stored bytes whatever the Accept', async () => {
      expectManifest(await client.get(manifestPath(repo, image.digest)), image.manifest, MT.dockerManifest);
      expectManifest(
        await client.get(manifestPath(repo, image.digest), { Accept: MT.ociManifest }),
        image.manifest,
        MT.dockerManifest,
      );
    });

    it('GET and HEAD by tag without the schema2 type in Accept do not fail with 500', async () => {
      for (const accept of [undefined, '*/*', MT.ociManifest, 'application/json']) {
        const headers = accept ? { Accept: accept } : undefined;
        expect((await client.get(manifestPath(repo, 'v2'), headers)).status).toBeLessThan(500);
        expect((await client.head(manifestPath(repo, 'v2'), headers)).status).toBeLessThan(500);
      }
    });

    it('HEAD answers Content-Length, Docker-Content-Digest and Content-Type with no body', async () => {
      for (const ref of ['v2', image.digest]) {
        const res = await client.head(manifestPath(repo, ref), { Accept: MT.dockerManifest });
        expect(res.status).toBe(200);
        expect(res.header('content-length')).toBe(String(image.manifest.length));
        expect(res.header('docker-content-digest')).toBe(image.digest);
        expect(res.header('content-type')).toBe(MT.dockerManifest);
        expect(res.body.length).toBe(0);
      }
    });

    it('a schema2 manifest without its mediaType field is refused with 400 MANIFEST_INVALID', async () => {
      const body = jsonBytes({ schemaVersion: 2, config: image.config, layers: image.layers });
      expectError(await client.putManifest(repo, 'nomt', body, MT.dockerManifest), 400, 'MANIFEST_INVALID');
    });
  });

  describe('Docker manifest list', () => {
    let repo: string;
    let list: Buffer;
    let amd: PushedImage;

    beforeAll(async () => {
      repo = freshRepo('list');
      const children = await pushIndexChildren(repo, 'docker');
      amd = children.amd;
      list = indexOf(MT.dockerList, children.entries);
      await client.pushManifest(repo, 'multi', list, MT.dockerList);
    });

    it('GET by tag with the list type in Accept answers the list', async () => {
      const res = await client.get(manifestPath(repo, 'multi'), {
        Accept: `${MT.dockerManifest}, ${MT.dockerList}`,
      });
      expectManifest(res, list, MT.dockerList);
    });

    it('GET by digest answers the list whatever the Accept', async () => {
      expectManifest(await client.get(manifestPath(repo, sha256(list))), list, MT.dockerList);
    });

    it('GET by tag without the list type in Accept answers the linux/amd64 child', async () => {
      const res = await client.get(manifestPath(repo, 'multi'), { Accept: MT.dockerManifest });
      expectManifest(res, amd.manifest, MT.dockerManifest);
    });

    it('HEAD by tag without the list type in Accept describes the linux/amd64 child', async () => {
      const res = await client.head(manifestPath(repo, 'multi'), {
        Accept: `${MT.dockerManifest}, ${MT.ociManifest}`,
      });
      expect(res.status).toBe(200);
      expect(res.header('docker-content-digest')).toBe(amd.digest);
      expect(res.header('content-length')).toBe(String(amd.manifest.length));
    });

    it('GET by tag with no Accept does not fail with 500', async () => {
      expect((await client.get(manifestPath(repo, 'multi'))).status).toBeLessThan(500);
    });

    it('a list with no linux/amd64 entry, fetched by tag without the list type, answers 404 MANIFEST_UNKNOWN', async () => {
      const r = freshRepo('list-noamd');
      const arm = await client.pushImage(r, {
        format: 'docker',
        platform: { architecture: 'arm64', os: 'linux' },
      });
      const armOnly = indexOf(MT.dockerList, [
        descriptorOf(MT.dockerManifest, arm.manifest, { platform: { architecture: 'arm64', os: 'linux' } }),
      ]);
      await client.pushManifest(r, 'arm', armOnly, MT.dockerList);
      expectError(
        await client.get(manifestPath(r, 'arm'), { Accept: MT.dockerManifest }),
        404,
        'MANIFEST_UNKNOWN',
      );
      expectManifest(
        await client.get(manifestPath(r, 'arm'), { Accept: MT.dockerList }),
        armOnly,
        MT.dockerList,
      );
    });

    it('a list whose children are missing is refused with one MANIFEST_BLOB_UNKNOWN per child', async () => {
      const r = freshRepo('list-missing');
      const a = buildImage({ format: 'docker' });
      const b = buildImage({ format: 'docker' });
      const body = indexOf(MT.dockerList, [
        descriptorOf(MT.dockerManifest, a.manifest, { platform: { architecture: 'amd64', os: 'linux' } }),
        descriptorOf(MT.dockerManifest, b.manifest, { platform: { architecture: 'arm64', os: 'linux' } }),
      ]);
      const err = expectError(
        await client.putManifest(r, 'x', body, MT.dockerList),
        400,
        'MANIFEST_BLOB_UNKNOWN',
      );
      expect(err.errors.map((e) => e.code)).toEqual(['MANIFEST_BLOB_UNKNOWN', 'MANIFEST_BLOB_UNKNOWN']);
      expect(JSON.stringify(err.errors)).toContain(a.digest);
      expect(JSON.stringify(err.errors)).toContain(b.digest);
    });
  });

  describe('OCI manifest negotiation', () => {
    let repo: string;
    let image: PushedImage;

    beforeAll(async () => {
      repo = freshRepo('oci');
      image = await client.pushImage(repo, { tag: 'v1' });
    });

    it.each([
      ['no Accept', undefined],
      ['*/*', '*/*'],
      ['the OCI manifest type', MT.ociManifest],
      ['a list including the OCI type with q-values', `${MT.dockerManifest};q=0.9, ${MT.ociManifest};q=0.5`],
    ])('GET by tag with %s answers the stored bytes', async (_what, accept) => {
      const res = await client.get(manifestPath(repo, 'v1'), accept ? { Accept: accept } : undefined);
      expectManifest(res, image.manifest, MT.ociManifest);
    });

    it('GET by tag with an Accept that excludes the OCI manifest type answers 404 MANIFEST_UNKNOWN', async () => {
      const res = await client.get(manifestPath(repo, 'v1'), {
        Accept: `${MT.dockerManifest}, ${MT.dockerList}`,
      });
      expectError(res, 404, 'MANIFEST_UNKNOWN');
      expectHeadError(await client.head(manifestPath(repo, 'v1'), { Accept: MT.dockerManifest }), 404);
    });

    it('GET by digest answers the stored bytes even when Accept excludes the type', async () => {
      const res = await client.get(manifestPath(repo, image.digest), { Accept: MT.dockerManifest });
      expectManifest(res, image.manifest, MT.ociManifest);
    });

    it('HEAD answers Content-Length and Docker-Content-Digest with no body', async () => {
      for (const ref of ['v1', image.digest]) {
        const res = await client.head(manifestPath(repo, ref), { Accept: MT.ociManifest });
        expect(res.status).toBe(200);
        expect(res.header('content-length')).toBe(String(image.manifest.length));
        expect(res.header('docker-content-digest')).toBe(image.digest);
        expect(res.header('content-type')).toBe(MT.ociManifest);
        expect(res.body.length).toBe(0);
      }
    });

    it('If-None-Match with the digest answers 304, by tag and by digest', async () => {
      for (const ref of ['v1', image.digest]) {
        const res = await client.get(manifestPath(repo, ref), { 'If-None-Match': `"${image.digest}"` });
        expect(res.status).toBe(304);
        expect(res.body.length).toBe(0);
        expect(res.header('docker-content-digest')).toBe(image.digest);
      }
      expect((await client.get(manifestPath(repo, 'v1'), { 'If-None-Match': image.digest })).status).toBe(
        304,
      );
    });

    it('If-None-Match with another digest answers 200 with the manifest', async () => {
      const res = await client.get(manifestPath(repo, 'v1'), { 'If-None-Match': `"${sha256('other')}"` });
      expectManifest(res, image.manifest, MT.ociManifest);
    });

    it('an unknown tag or digest answers 404 MANIFEST_UNKNOWN', async () => {
      expectError(await client.get(manifestPath(repo, 'nope')), 404, 'MANIFEST_UNKNOWN');
      expectError(await client.get(manifestPath(repo, sha256('nope'))), 404, 'MANIFEST_UNKNOWN');
      expectHeadError(await client.head(manifestPath(repo, 'nope')), 404);
      expectError(await client.get(manifestPath('manifests/no-such-repo', 'v1')), 404, 'MANIFEST_UNKNOWN');
    });

    it('a manifest of repo A is unknown in repo B', async () => {
      const other = freshRepo('oci-other');
      await client.pushImage(other, { tag: 'v1' });
      expectError(await client.get(manifestPath(other, image.digest)), 404, 'MANIFEST_UNKNOWN');
    });
  });

  describe('OCI index', () => {
    let repo: string;
    let index: Buffer;

    beforeAll(async () => {
      repo = freshRepo('index');
      const { entries } = await pushIndexChildren(repo, 'oci');
      index = indexOf(MT.ociIndex, entries);
      await client.pushManifest(repo, 'multi', index, MT.ociIndex);
    });

    it('GET by tag with no Accept or */* answers the stored index', async () => {
      expectManifest(await client.get(manifestPath(repo, 'multi')), index, MT.ociIndex);
      expectManifest(await client.get(manifestPath(repo, 'multi'), { Accept: '*/*' }), index, MT.ociIndex);
    });

    it('GET by tag with the index type in Accept answers the stored index', async () => {
      expectManifest(
        await client.get(manifestPath(repo, 'multi'), { Accept: MT.ociIndex }),
        index,
        MT.ociIndex,
      );
    });

    it('GET by tag with an Accept that excludes the index type answers 404 MANIFEST_UNKNOWN', async () => {
      const res = await client.get(manifestPath(repo, 'multi'), {
        Accept: `${MT.ociManifest}, ${MT.dockerManifest}`,
      });
      expectError(res, 404, 'MANIFEST_UNKNOWN');
    });

    it('GET by digest answers the stored index whatever the Accept', async () => {
      const res = await client.get(manifestPath(repo, sha256(index)), { Accept: MT.ociManifest });
      expectManifest(res, index, MT.ociIndex);
    });

    it('an index whose child is missing in this repository answers 400 MANIFEST_BLOB_UNKNOWN', async () => {
      const r = freshRepo('index-missing');
      const present = await client.pushImage(r, {});
      const missing = buildImage();
      const body = indexOf(MT.ociIndex, [
        descriptorOf(MT.ociManifest, present.manifest),
        descriptorOf(MT.ociManifest, missing.manifest),
      ]);
      const err = expectError(
        await client.putManifest(r, 'x', body, MT.ociIndex),
        400,
        'MANIFEST_BLOB_UNKNOWN',
      );
      expect(err.errors).toHaveLength(1);
      expect(JSON.stringify(err.errors[0].detail)).toContain(missing.digest);
    });

    it('a child that exists only in another repository, or only as a blob, does not count', async () => {
      const r = freshRepo('index-foreign');
      const foreign = await client.pushImage(freshRepo('index-foreign-src'), {});
      const asBlob = buildImage();
      await client.pushBlob(r, asBlob.manifest);
      const body = indexOf(MT.ociIndex, [
        descriptorOf(MT.ociManifest, foreign.manifest),
        descriptorOf(MT.ociManifest, asBlob.manifest),
      ]);
      const err = expectError(
        await client.putManifest(r, 'x', body, MT.ociIndex),
        400,
        'MANIFEST_BLOB_UNKNOWN',
      );
      expect(err.errors).toHaveLength(2);
    });
  });

  describe('OCI artifacts and subject', () => {
    it('an artifact with artifactType and the empty config is stored and served as pushed', async () => {
      const repo = freshRepo('artifact');
      const empty = Buffer.from('{}');
      const payload = randomBlob(64);
      await client.pushBlob(repo, empty);
      await client.pushBlob(repo, payload);
      const body = jsonBytes({
        schemaVersion: 2,
        mediaType: MT.ociManifest,
        artifactType: 'application/vnd.example.sbom+json',
        config: { mediaType: MT.ociEmpty, digest: EMPTY_JSON_DIGEST, size: 2, data: 'e30=' },
        layers: [descriptorOf('application/vnd.example.sbom.layer+json', payload)],
        annotations: { 'org.example.kind': 'sbom' },
      });
      const digest = await client.pushManifest(repo, 'sbom', body, MT.ociManifest);
      expectManifest(await client.get(manifestPath(repo, 'sbom')), body, MT.ociManifest);
      expectManifest(await client.get(manifestPath(repo, digest)), body, MT.ociManifest);
    });

    it('a manifest with a subject answers OCI-Subject on PUT', async () => {
      const repo = freshRepo('subject');
      const subject = await client.pushImage(repo, { tag: 'app' });
      const res = await client.putManifest(
        repo,
        'sig',
        await buildImageFor(repo, {
          subject: descriptorOf(MT.ociManifest, subject.manifest),
          artifactType: 'application/x.sig',
        }),
        MT.ociManifest,
      );
      expect(res.status).toBe(201);
      expect(res.header('oci-subject')).toBe(subject.digest);
    });

    it('an index with a subject answers OCI-Subject on PUT', async () => {
      const repo = freshRepo('index-subject');
      const subject = await client.pushImage(repo, { tag: 'app' });
      const child = await client.pushImage(repo, {});
      const body = indexOf(MT.ociIndex, [descriptorOf(MT.ociManifest, child.manifest)], {
        subject: descriptorOf(MT.ociManifest, subject.manifest),
        artifactType: 'application/vnd.example.bundle',
      });
      const res = await client.putManifest(repo, sha256(body), body, MT.ociIndex);
      expect(res.status).toBe(201);
      expect(res.header('oci-subject')).toBe(subject.digest);
    });

    it('a referrer pushed before its subject exists is accepted with OCI-Subject', async () => {
      const repo = freshRepo('early-referrer');
      const futureSubject = buildImage();
      const referrer = await buildImageFor(repo, {
        subject: descriptorOf(MT.ociManifest, futureSubject.manifest),
        artifactType: 'application/x.early',
      });
      const res = await client.putManifest(repo, sha256(referrer), referrer, MT.ociManifest);
      expect(res.status).toBe(201);
      expect(res.header('oci-subject')).toBe(futureSubject.digest);
      expectManifest(await client.get(manifestPath(repo, sha256(referrer))), referrer, MT.ociManifest);
    });

    /** Builds an image manifest and pushes its blobs (not the manifest itself). */
    async function buildImageFor(repo: string, opts: Parameters<typeof buildImage>[0]): Promise<Buffer> {
      const image = buildImage(opts);
      for (const b of [image.configBlob, ...image.layerBlobs]) await client.pushBlob(repo, b);
      return image.manifest;
    }
  });

  describe('validation', () => {
    it('missing config and layers answer 400 with one MANIFEST_BLOB_UNKNOWN per missing digest', async () => {
      const repo = freshRepo('missing');
      const image = buildImage({ layers: [randomBlob(10), randomBlob(11), randomBlob(12)] });
      await client.pushBlob(repo, image.layerBlobs[1]);
      const err = expectError(
        await client.putManifest(repo, 'x', image.manifest, MT.ociManifest),
        400,
        'MANIFEST_BLOB_UNKNOWN',
      );
      const missing = [image.config.digest, image.layers[0].digest, image.layers[2].digest];
      expect(err.errors).toHaveLength(3);
      for (const [i, e] of err.errors.entries()) {
        expect(e.code).toBe('MANIFEST_BLOB_UNKNOWN');
        expect(JSON.stringify(e.detail)).toContain(missing[i]);
      }
      expectError(await client.get(manifestPath(repo, image.digest)), 404, 'MANIFEST_UNKNOWN');
      expectError(await client.get(manifestPath(repo, 'x')), 404, 'MANIFEST_UNKNOWN');
    });

    it('a blob linked only in another repository does not satisfy a reference', async () => {
      const repo = freshRepo('foreign-blob');
      const image = buildImage();
      for (const b of [image.configBlob, ...image.layerBlobs])
        await client.pushBlob(freshRepo('elsewhere'), b);
      const err = expectError(
        await client.putManifest(repo, 'x', image.manifest, MT.ociManifest),
        400,
        'MANIFEST_BLOB_UNKNOWN',
      );
      expect(err.errors).toHaveLength(2);
    });

    it('a Docker schema2 manifest with a missing layer answers 400 MANIFEST_BLOB_UNKNOWN', async () => {
      const repo = freshRepo('missing-docker');
      const image = buildImage({ format: 'docker' });
      await client.pushBlob(repo, image.configBlob);
      const err = expectError(
        await client.putManifest(repo, 'x', image.manifest, MT.dockerManifest),
        400,
        'MANIFEST_BLOB_UNKNOWN',
      );
      expect(err.errors).toHaveLength(1);
      expect(JSON.stringify(err.errors[0].detail)).toContain(image.layers[0].digest);
    });

    describe('media type and body must agree (400 MANIFEST_INVALID)', () => {
      let repo: string;
      let oci: PushedImage;
      let docker: PushedImage;
      let ociIndexBody: Buffer;

      beforeAll(async () => {
        repo = freshRepo('mismatch');
        oci = await client.pushImage(repo, {});
        docker = await client.pushImage(repo, { format: 'docker' });
        ociIndexBody = indexOf(MT.ociIndex, [descriptorOf(MT.ociManifest, oci.manifest)]);
      });

      it('an OCI manifest sent as Docker schema2', async () => {
        expectError(
          await client.putManifest(repo, 't', oci.manifest, MT.dockerManifest),
          400,
          'MANIFEST_INVALID',
        );
      });

      it('a Docker schema2 manifest sent as OCI manifest', async () => {
        expectError(
          await client.putManifest(repo, 't', docker.manifest, MT.ociManifest),
          400,
          'MANIFEST_INVALID',
        );
      });

      it('an OCI index sent as OCI manifest', async () => {
        expectError(
          await client.putManifest(repo, 't', ociIndexBody, MT.ociManifest),
          400,
          'MANIFEST_INVALID',
        );
      });

      it('an OCI manifest sent as OCI index', async () => {
        expectError(await client.putManifest(repo, 't', oci.manifest, MT.ociIndex), 400, 'MANIFEST_INVALID');
      });

      it('a Docker schema2 manifest sent as Docker manifest list', async () => {
        expectError(
          await client.putManifest(repo, 't', docker.manifest, MT.dockerList),
          400,
          'MANIFEST_INVALID',
        );
      });

      it('an unknown Content-Type', async () => {
        expectError(
          await client.putManifest(repo, 't', oci.manifest, 'application/vnd.example.unknown+json'),
          400,
          'MANIFEST_INVALID',
        );
      });

      it('a schema1 Content-Type', async () => {
        expectError(
          await client.putManifest(
            repo,
            't',
            oci.manifest,
            'application/vnd.docker.distribution.manifest.v1+prettyjws',
          ),
          400,
          'MANIFEST_INVALID',
        );
      });

      it('nothing was tagged by the refused pushes', async () => {
        expectError(await client.get(manifestPath(repo, 't')), 404, 'MANIFEST_UNKNOWN');
      });
    });

    it('PUT by digest with a body of another digest answers 400 DIGEST_INVALID and stores nothing', async () => {
      const repo = freshRepo('digest-mismatch');
      const image = buildImage();
      for (const b of [image.configBlob, ...image.layerBlobs]) await client.pushBlob(repo, b);
      const wrong = sha256('not this manifest');
      expectError(
        await client.putManifest(repo, wrong, image.manifest, MT.ociManifest),
        400,
        'DIGEST_INVALID',
      );
      expectError(await client.get(manifestPath(repo, image.digest)), 404, 'MANIFEST_UNKNOWN');
      expectError(await client.get(manifestPath(repo, wrong)), 404, 'MANIFEST_UNKNOWN');
    });

    it.each([
      ['not JSON', 'blablabla'],
      ['truncated JSON', '{"schemaVersion": 2, "config": {'],
      ['a JSON array', '[]'],
      ['JSON null', 'null'],
      ['an empty body', ''],
      ['schemaVersion 1', '{"schemaVersion": 1, "name": "x", "tag": "y", "fsLayers": [], "history": []}'],
      [
        'schemaVersion 3',
        `{"schemaVersion": 3, "mediaType": "${MT.ociManifest}", "config": {}, "layers": []}`,
      ],
      [
        'a config that is not a descriptor',
        `{"schemaVersion": 2, "mediaType": "${MT.ociManifest}", "config": 5, "layers": []}`,
      ],
      [
        'a descriptor with a bad digest',
        `{"schemaVersion": 2, "config": {"mediaType": "${MT.ociConfig}", "digest": "sha256:zz", "size": 1}, "layers": []}`,
      ],
      [
        'a descriptor with a negative size',
        `{"schemaVersion": 2, "config": {"mediaType": "${MT.ociConfig}", "digest": "${sha256('a')}", "size": -1}, "layers": []}`,
      ],
    ])('%s answers 400 MANIFEST_INVALID', async (_what, body) => {
      const res = await client.putManifest(freshRepo('malformed'), 'bad', Buffer.from(body), MT.ociManifest);
      expectError(res, 400, 'MANIFEST_INVALID');
    });

    it('invalid UTF-8 answers 400 MANIFEST_INVALID', async () => {
      const body = Buffer.concat([
        Buffer.from('{"schemaVersion": 2, "x": "'),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('"}'),
      ]);
      expectError(
        await client.putManifest(freshRepo('utf8'), 'bad', body, MT.ociManifest),
        400,
        'MANIFEST_INVALID',
      );
    });

    describe('size limit (4 MiB)', () => {
      function paddedManifest(image: PushedImage | ReturnType<typeof buildImage>, size: number): Buffer {
        const make = (pad: string) =>
          jsonBytes({
            schemaVersion: 2,
            mediaType: MT.ociManifest,
            config: image.config,
            layers: image.layers,
            annotations: { pad },
          });
        const base = make('').length;
        const body = make('a'.repeat(size - base));
        expect(body.length).toBe(size);
        return body;
      }

      let repo: string;
      let image: PushedImage;
      beforeAll(async () => {
        repo = freshRepo('big');
        image = await client.pushImage(repo, {});
      });

      it('a manifest of exactly 4 MiB is accepted and served back', async () => {
        const body = paddedManifest(image, MAX_MANIFEST);
        const digest = await client.pushManifest(repo, 'max', body, MT.ociManifest);
        const res = await client.get(manifestPath(repo, digest));
        expect(res.status).toBe(200);
        expect(res.body.equals(body)).toBe(true);
      });

      it('one byte more answers 413 with code MANIFEST_INVALID', async () => {
        const body = paddedManifest(image, MAX_MANIFEST + 1);
        expectError(await client.putManifest(repo, 'over', body, MT.ociManifest), 413, 'MANIFEST_INVALID');
        expectError(await client.get(manifestPath(repo, 'over')), 404, 'MANIFEST_UNKNOWN');
      });

      it('an oversized body sent chunked (no Content-Length) also answers 413 MANIFEST_INVALID', async () => {
        const body = paddedManifest(image, MAX_MANIFEST + 100_000);
        const parts = [];
        for (let i = 0; i < body.length; i += 256 * 1024) parts.push(body.subarray(i, i + 256 * 1024));
        const res = await client.request('PUT', manifestPath(repo, 'chunked'), {
          headers: { 'Content-Type': MT.ociManifest },
          body: parts,
        });
        expectError(res, 413, 'MANIFEST_INVALID');
      });

      it('the registry still answers on the same connection afterwards', async () => {
        expect((await client.get('/v2/')).status).toBe(200);
      });
    });
  });

  describe('DELETE', () => {
    it('by tag removes only the tag: 202, the tag is gone, the manifest is still there by digest', async () => {
      const repo = freshRepo('del-tag');
      const image = await client.pushImage(repo, { tag: 'a' });
      await client.pushManifest(repo, 'b', image.manifest, MT.ociManifest);
      const res = await client.delete(manifestPath(repo, 'a'));
      expect(res.status).toBe(202);
      expectError(await client.get(manifestPath(repo, 'a')), 404, 'MANIFEST_UNKNOWN');
      expectManifest(await client.get(manifestPath(repo, image.digest)), image.manifest, MT.ociManifest);
      expectManifest(await client.get(manifestPath(repo, 'b')), image.manifest, MT.ociManifest);
      expect((await client.get(`/v2/${repo}/tags/list`)).json().tags).toEqual(['b']);
    });

    it('by digest removes the manifest and every tag on it', async () => {
      const repo = freshRepo('del-digest');
      const image = await client.pushImage(repo, { tag: 'one' });
      await client.pushManifest(repo, 'two', image.manifest, MT.ociManifest);
      const other = await client.pushImage(repo, { tag: 'other' });
      const res = await client.delete(manifestPath(repo, image.digest));
      expect(res.status).toBe(202);
      expectError(await client.get(manifestPath(repo, image.digest)), 404, 'MANIFEST_UNKNOWN');
      expectError(await client.get(manifestPath(repo, 'one')), 404, 'MANIFEST_UNKNOWN');
      expectError(await client.get(manifestPath(repo, 'two')), 404, 'MANIFEST_UNKNOWN');
      expectManifest(await client.get(manifestPath(repo, 'other')), other.manifest, MT.ociManifest);
      expect((await client.get(`/v2/${repo}/tags/list`)).json().tags).toEqual(['other']);
    });

    it('the layers stay readable as blobs after their manifest is deleted', async () => {
      const repo = freshRepo('del-keeps-blobs');
      const image = await client.pushImage(repo, { tag: 'x' });
      expect((await client.delete(manifestPath(repo, image.digest))).status).toBe(202);
      expect((await client.get(`/v2/${repo}/blobs/${image.layers[0].digest}`)).status).toBe(200);
    });

    it('an unknown tag or digest answers 404 MANIFEST_UNKNOWN', async () => {
      const repo = freshRepo('del-unknown');
      await client.pushImage(repo, { tag: 'x' });
      expectError(await client.delete(manifestPath(repo, 'nope')), 404, 'MANIFEST_UNKNOWN');
      expectError(await client.delete(manifestPath(repo, sha256('nope'))), 404, 'MANIFEST_UNKNOWN');
      expectError(await client.delete(manifestPath('manifests/never', 'x')), 404, 'MANIFEST_UNKNOWN');
    });

    it('a deleted manifest can be pushed again', async () => {
      const repo = freshRepo('del-repush');
      const image = await client.pushImage(repo, { tag: 'x' });
      expect((await client.delete(manifestPath(repo, image.digest))).status).toBe(202);
      await client.pushManifest(repo, 'x', image.manifest, MT.ociManifest);
      expectManifest(await client.get(manifestPath(repo, 'x')), image.manifest, MT.ociManifest);
    });
  });
});
