/**
 * GET /v2/<name>/referrers/<digest>[?artifactType=] (PROTOCOL.md §2.7).
 */
import { startTestRegistry, type TestRegistry } from '../support/registry';
import {
  EMPTY_JSON_DIGEST,
  MT,
  RegistryClient,
  descriptorOf,
  expectError,
  indexOf,
  jsonBytes,
  randomBlob,
  sha256,
  type Descriptor,
  type PushedImage,
} from './support/client';

const TYPE_A = 'application/vnd.example.signature';
const TYPE_B = 'application/vnd.example.sbom';
const TYPE_INDEX = 'application/vnd.example.bundle';
const KEY = 'org.example.note';
const EMPTY: Descriptor = { mediaType: MT.ociEmpty, digest: EMPTY_JSON_DIGEST, size: 2 };

interface Index {
  schemaVersion: number;
  mediaType: string;
  manifests: (Descriptor & { artifactType?: string; annotations?: Record<string, string> })[];
}

describe('referrers', () => {
  let registry: TestRegistry;
  let client: RegistryClient;
  const repo = 'referrers/app';
  let subject: PushedImage;
  let subjectDesc: Descriptor;
  /** digest → what the referrers list must say about it */
  const expected = new Map<
    string,
    { mediaType: string; size: number; artifactType?: string; note: string }
  >();

  beforeAll(async () => {
    registry = await startTestRegistry();
    client = new RegistryClient(registry.url);
    subject = await client.pushImage(repo, { tag: 'v1' });
    subjectDesc = descriptorOf(MT.ociManifest, subject.manifest);
    await client.pushBlob(repo, Buffer.from('{}'));

    // Two referrers whose type is their config media type, two with artifactType and the empty
    // config, one index: the five of the conformance suite.
    const configA = Buffer.from('signature payload');
    const configB = Buffer.from('sbom payload');
    await client.pushBlob(repo, configA);
    await client.pushBlob(repo, configB);
    const referrers: [Buffer, string, string | undefined, string][] = [];
    const byConfig = (config: Buffer, type: string, note: string) =>
      jsonBytes({
        schemaVersion: 2,
        mediaType: MT.ociManifest,
        config: descriptorOf(type, config),
        layers: [EMPTY],
        subject: subjectDesc,
        annotations: { [KEY]: note },
      });
    const byArtifactType = (layer: Buffer, type: string, note: string) =>
      jsonBytes({
        schemaVersion: 2,
        mediaType: MT.ociManifest,
        artifactType: type,
        config: EMPTY,
        layers: [descriptorOf(type, layer)],
        subject: subjectDesc,
        annotations: { [KEY]: note },
      });
    referrers.push([byConfig(configA, TYPE_A, 'config a'), MT.ociManifest, TYPE_A, 'config a']);
    referrers.push([byConfig(configB, TYPE_B, 'config b'), MT.ociManifest, TYPE_B, 'config b']);
    referrers.push([byArtifactType(configA, TYPE_A, 'layer a'), MT.ociManifest, TYPE_A, 'layer a']);
    referrers.push([byArtifactType(configB, TYPE_B, 'layer b'), MT.ociManifest, TYPE_B, 'layer b']);
    for (const [body, mediaType, artifactType, note] of referrers) {
      const res = await client.putManifest(repo, sha256(body), body, mediaType);
      expect(res.status).toBe(201);
      expect(res.header('oci-subject')).toBe(subject.digest);
      expected.set(sha256(body), { mediaType, size: body.length, artifactType, note });
    }
    const index = indexOf(
      MT.ociIndex,
      referrers.slice(0, 2).map(([body]) => descriptorOf(MT.ociManifest, body)),
      { subject: subjectDesc, artifactType: TYPE_INDEX, annotations: { [KEY]: 'index' } },
    );
    const res = await client.putManifest(repo, sha256(index), index, MT.ociIndex);
    expect(res.status).toBe(201);
    expect(res.header('oci-subject')).toBe(subject.digest);
    expected.set(sha256(index), {
      mediaType: MT.ociIndex,
      size: index.length,
      artifactType: TYPE_INDEX,
      note: 'index',
    });
  });

  afterAll(async () => {
    client?.close();
    await registry?.stop();
  });

  const referrersOf = (digest: string, query = '', r = repo) =>
    client.get(`/v2/${r}/referrers/${digest}${query}`);

  function expectIndex(res: Awaited<ReturnType<typeof referrersOf>>): Index {
    expect(res.status).toBe(200);
    expect(res.header('content-type')).toBe(MT.ociIndex);
    const body = res.json<Index>();
    expect(body.schemaVersion).toBe(2);
    expect(body.mediaType).toBe(MT.ociIndex);
    expect(Array.isArray(body.manifests)).toBe(true);
    return body;
  }

  it('an unknown subject answers 200 with an empty image index', async () => {
    const res = await referrersOf(sha256('no such subject'));
    expect(expectIndex(res).manifests).toEqual([]);
    expect(res.header('oci-filters-applied')).toBeUndefined();
  });

  it('an unknown repository answers 200 with an empty image index too', async () => {
    expect(expectIndex(await referrersOf(subject.digest, '', 'referrers/none')).manifests).toEqual([]);
  });

  it('lists the 5 referrers, each with its mediaType, size, artifactType and annotations', async () => {
    const body = expectIndex(await referrersOf(subject.digest));
    expect(body.manifests).toHaveLength(5);
    expect(new Set(body.manifests.map((m) => m.digest))).toEqual(new Set(expected.keys()));
    for (const m of body.manifests) {
      const want = expected.get(m.digest)!;
      expect(m).toEqual({
        mediaType: want.mediaType,
        digest: m.digest,
        size: want.size,
        artifactType: want.artifactType,
        annotations: { [KEY]: want.note },
      });
    }
  });

  it('artifactType=<type> lists the matching subset and answers OCI-Filters-Applied: artifactType', async () => {
    const res = await referrersOf(subject.digest, `?artifactType=${encodeURIComponent(TYPE_A)}`);
    const body = expectIndex(res);
    expect(res.header('oci-filters-applied')).toBe('artifactType');
    expect(body.manifests).toHaveLength(2);
    for (const m of body.manifests) {
      expect(m.artifactType).toBe(TYPE_A);
      expect(Object.keys(m.annotations!)).toEqual([KEY]);
    }
    const index = expectIndex(
      await referrersOf(subject.digest, `?artifactType=${encodeURIComponent(TYPE_INDEX)}`),
    );
    expect(index.manifests.map((m) => m.mediaType)).toEqual([MT.ociIndex]);
  });

  it('a filter that matches nothing answers an empty list, still with OCI-Filters-Applied', async () => {
    const res = await referrersOf(subject.digest, '?artifactType=application%2Fvnd.example.none');
    expect(expectIndex(res).manifests).toEqual([]);
    expect(res.header('oci-filters-applied')).toBe('artifactType');
  });

  it('without a filter there is no OCI-Filters-Applied header', async () => {
    expect((await referrersOf(subject.digest)).header('oci-filters-applied')).toBeUndefined();
  });

  it('a referrer of a subject that was never pushed is listed for that subject', async () => {
    const ghost = descriptorOf(MT.ociManifest, Buffer.from('{"never":"pushed"}'));
    const body = jsonBytes({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      artifactType: TYPE_B,
      config: EMPTY,
      layers: [EMPTY],
      subject: ghost,
    });
    const res = await client.putManifest(repo, sha256(body), body, MT.ociManifest);
    expect(res.status).toBe(201);
    expect(res.header('oci-subject')).toBe(ghost.digest);
    const list = expectIndex(await referrersOf(ghost.digest));
    expect(list.manifests).toEqual([
      { mediaType: MT.ociManifest, digest: sha256(body), size: body.length, artifactType: TYPE_B },
    ]);
  });

  it('an index referrer without artifactType is listed without one', async () => {
    const r = 'referrers/plain-index';
    const target = await client.pushImage(r, {});
    const child = await client.pushImage(r, {});
    const index = indexOf(MT.ociIndex, [descriptorOf(MT.ociManifest, child.manifest)], {
      subject: descriptorOf(MT.ociManifest, target.manifest),
    });
    await client.pushManifest(r, sha256(index), index, MT.ociIndex);
    const list = expectIndex(await referrersOf(target.digest, '', r));
    expect(list.manifests).toEqual([{ mediaType: MT.ociIndex, digest: sha256(index), size: index.length }]);
  });

  it('referrers are per repository: the same subject digest elsewhere has none', async () => {
    // `other` holds the very same subject manifest, but none of the referrers.
    const other = 'referrers/other';
    for (const blob of [subject.configBlob, ...subject.layerBlobs]) await client.pushBlob(other, blob);
    await client.pushManifest(other, 'v1', subject.manifest, MT.ociManifest);
    expect(expectIndex(await referrersOf(subject.digest, '', other)).manifests).toEqual([]);
  });

  it('a deleted referrer leaves the list', async () => {
    const r = 'referrers/delete';
    const target = await client.pushImage(r, {});
    const blob = randomBlob(8);
    await client.pushBlob(r, blob);
    const body = jsonBytes({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: descriptorOf(TYPE_A, blob),
      layers: [],
      subject: descriptorOf(MT.ociManifest, target.manifest),
    });
    await client.pushManifest(r, sha256(body), body, MT.ociManifest);
    expect(expectIndex(await referrersOf(target.digest, '', r)).manifests).toHaveLength(1);
    expect((await client.delete(`/v2/${r}/manifests/${sha256(body)}`)).status).toBe(202);
    expect(expectIndex(await referrersOf(target.digest, '', r)).manifests).toEqual([]);
  });

  it.each(['sha256:abc', 'notadigest', `sha256:${'A'.repeat(64)}`])(
    'an invalid digest (%s) answers 400 DIGEST_INVALID',
    async (digest) => {
      expectError(await referrersOf(digest), 400, 'DIGEST_INVALID');
    },
  );

  it.each(['POST', 'PUT', 'DELETE'])('%s answers 405 UNSUPPORTED', async (method) => {
    expectError(await client.request(method, `/v2/${repo}/referrers/${subject.digest}`), 405, 'UNSUPPORTED');
  });
});
