/**
 * The OCI distribution-spec v1.1.1 conformance suite (conformance/0[1-4]_*_test.go, setup.go),
 * restated as jest tests against Wharf: the same four workflows in the same order, in one
 * repository, with the same fixtures' shape (five configs and five manifests, one per workflow
 * category; chunked blob split 22 + 20; five referrers of manifests[4] and one of the never-pushed
 * manifests[3]) and automatic cross-mount enabled. Where the suite accepts several answers, the
 * test pins the one Wharf gives, so a change of behaviour shows up here (PROTOCOL.md §9).
 *
 * The tests in each workflow depend on the ones before them, exactly as in the suite.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { startTestRegistry, type TestRegistry } from '../support/registry';
import {
  EMPTY_JSON_DIGEST,
  MT,
  RegistryClient,
  expectError,
  randomBlob,
  sha256,
  withQuery,
  type Descriptor,
  type Response,
} from './support/client';

const NAME = 'conformance/oci';
const CROSSMOUNT = `conformance-${randomUUID()}`;
const OCTET = 'application/octet-stream';
const OCI_ERROR_CODES = [
  'BLOB_UNKNOWN',
  'BLOB_UPLOAD_INVALID',
  'BLOB_UPLOAD_UNKNOWN',
  'DIGEST_INVALID',
  'MANIFEST_BLOB_UNKNOWN',
  'MANIFEST_INVALID',
  'MANIFEST_UNKNOWN',
  'MANIFEST_UNVERIFIED',
  'NAME_INVALID',
  'NAME_UNKNOWN',
  'SIZE_INVALID',
  'TAG_INVALID',
  'UNAUTHORIZED',
  'DENIED',
  'UNSUPPORTED',
];

// --- fixtures (setup.go's shapes; our own content) ---------------------------------------------

/** Go's json.MarshalIndent with a tab indent, as the suite builds its documents. */
const goJson = (value: unknown) => Buffer.from(JSON.stringify(value, null, '\t'));

interface TestBlob {
  content: Buffer;
  digest: string;
}
const blobOf = (content: Buffer): TestBlob => ({ content, digest: sha256(content) });

/** One config per workflow, unique through a random author. */
const configs = Array.from({ length: 5 }, () =>
  blobOf(
    goJson({
      author: randomBytes(8).toString('hex'),
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [] },
    }),
  ),
);
const layer = blobOf(gzipSync(Buffer.from('conformance layer: a small gzipped payload\n')));
const layerDescriptor = {
  mediaType: MT.ociLayer,
  digest: layer.digest,
  size: layer.content.length,
  newUnspecifiedField: null,
};

/** Config descriptors carry `data` and a field the image-spec does not define; both must be kept. */
const configDescriptor = (c: TestBlob) => ({
  mediaType: MT.ociConfig,
  digest: c.digest,
  size: c.content.length,
  data: c.content.toString('base64'),
  newUnspecifiedField: Buffer.from('hello world').toString('base64'),
});

const manifests = configs.map((c) =>
  blobOf(
    goJson({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: configDescriptor(c),
      layers: [layerDescriptor],
    }),
  ),
);
/** No mediaType field and no layers at all. */
const emptyLayerManifest = blobOf(
  goJson({ schemaVersion: 2, config: configDescriptor(configs[1]), layers: [] }),
);
const NONEXISTENT_MANIFEST = '.INVALID_MANIFEST_NAME';
const dummyDigest = sha256('hello world');

const testBlobA = blobOf(randomBlob(42));
const testBlobB = blobOf(randomBlob(42));
const chunk1 = testBlobB.content.subarray(0, 22);
const chunk2 = testBlobB.content.subarray(22);
const chunk1Range = `0-${chunk1.length - 1}`;
const chunk2Range = `${chunk1.length}-${testBlobB.content.length - 1}`;

const emptyJSON = blobOf(Buffer.from('{}'));
const emptyJSONDescriptor: Descriptor = { mediaType: MT.ociEmpty, digest: emptyJSON.digest, size: 2 };
const refBlobA = blobOf(Buffer.from('artifact A: a signature, say'));
const refBlobB = blobOf(Buffer.from('artifact B: an SBOM, say'));
const ARTIFACT_TYPE_A = 'application/vnd.wharf.conformance.a';
const ARTIFACT_TYPE_B = 'application/vnd.wharf.conformance.b';
const ARTIFACT_TYPE_INDEX = 'application/vnd.wharf.conformance.bundle';
const ANNOTATION_KEY = 'org.opencontainers.conformance.test';
const annotationValues = new Map<string, string>();

const subjectOf = (m: TestBlob): Descriptor => ({
  mediaType: MT.ociManifest,
  size: m.content.length,
  digest: m.digest,
});

function referrer(doc: Record<string, unknown>, note?: string): TestBlob {
  const blob = blobOf(
    goJson({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      ...doc,
      ...(note ? { annotations: { [ANNOTATION_KEY]: note } } : {}),
    }),
  );
  if (note) annotationValues.set(blob.digest, note);
  return blob;
}
// Artifact type from config.mediaType.
const refsManifestAConfigArtifact = referrer(
  {
    config: { mediaType: ARTIFACT_TYPE_A, size: refBlobA.content.length, digest: refBlobA.digest },
    subject: subjectOf(manifests[4]),
    layers: [emptyJSONDescriptor],
  },
  'test config a',
);
const refsManifestBConfigArtifact = referrer(
  {
    config: { mediaType: ARTIFACT_TYPE_B, size: refBlobB.content.length, digest: refBlobB.digest },
    subject: subjectOf(manifests[4]),
    layers: [emptyJSONDescriptor],
  },
  'test config b',
);
// Artifact type from artifactType, with the empty config.
const refsManifestALayerArtifact = referrer(
  {
    artifactType: ARTIFACT_TYPE_A,
    config: emptyJSONDescriptor,
    subject: subjectOf(manifests[4]),
    layers: [{ mediaType: ARTIFACT_TYPE_A, size: refBlobA.content.length, digest: refBlobA.digest }],
  },
  'test layer a',
);
const refsManifestBLayerArtifact = referrer(
  {
    artifactType: ARTIFACT_TYPE_B,
    config: emptyJSONDescriptor,
    subject: subjectOf(manifests[4]),
    layers: [{ mediaType: ARTIFACT_TYPE_B, size: refBlobB.content.length, digest: refBlobB.digest }],
  },
  'test layer b',
);
// Same as B, but its subject (manifests[3]) is never pushed in this workflow.
const refsManifestCLayerArtifact = referrer({
  artifactType: ARTIFACT_TYPE_B,
  config: emptyJSONDescriptor,
  subject: subjectOf(manifests[3]),
  layers: [{ mediaType: ARTIFACT_TYPE_B, size: refBlobB.content.length, digest: refBlobB.digest }],
});
const refsIndexArtifact = blobOf(
  goJson({
    schemaVersion: 2,
    mediaType: MT.ociIndex,
    artifactType: ARTIFACT_TYPE_INDEX,
    manifests: [subjectOf(refsManifestAConfigArtifact), subjectOf(refsManifestALayerArtifact)],
    subject: subjectOf(manifests[4]),
    annotations: { [ANNOTATION_KEY]: 'test index' },
  }),
);
annotationValues.set(refsIndexArtifact.digest, 'test index');

// --- the suite ---------------------------------------------------------------------------------

describe('OCI distribution-spec v1.1.1 conformance', () => {
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

  /** POST a session, then PUT the blob with Content-Type and Content-Length: the suite's populate step. */
  async function populateBlob(blob: TestBlob, name = NAME): Promise<Response> {
    const session = await client.post(`/v2/${name}/blobs/uploads/`);
    expect(session.status).toBe(202);
    return client.put(withQuery(session.location, { digest: blob.digest }), blob.content, {
      'Content-Type': OCTET,
      'Content-Length': String(blob.content.length),
    });
  }

  const putManifest = (reference: string, m: TestBlob, mediaType: string = MT.ociManifest) =>
    client.putManifest(NAME, reference, m.content, mediaType);
  const blobUrl = (digest: string, name = NAME) => `/v2/${name}/blobs/${digest}`;
  const manifestUrl = (reference: string) => `/v2/${NAME}/manifests/${reference}`;
  const ACCEPT_OCI = { Accept: MT.ociManifest };

  describe('Pull', () => {
    const tag = 'tagtest0';

    describe('Setup', () => {
      it('populates the registry with two config blobs and a layer (201 each)', async () => {
        expect((await populateBlob(configs[0])).status).toBe(201);
        expect((await populateBlob(configs[1])).status).toBe(201);
        expect((await populateBlob(layer)).status).toBe(201);
      });

      it('populates the registry with manifest[0] by tag and manifest[1] by digest (201 each)', async () => {
        expect((await putManifest(tag, manifests[0])).status).toBe(201);
        expect((await putManifest(manifests[1].digest, manifests[1])).status).toBe(201);
      });
    });

    describe('Pull blobs', () => {
      it('HEAD on a nonexistent blob answers 404', async () => {
        expect((await client.head(blobUrl(dummyDigest))).status).toBe(404);
      });

      it('HEAD on an existing blob answers 200 with the right Docker-Content-Digest', async () => {
        const res = await client.head(blobUrl(configs[0].digest));
        expect(res.status).toBe(200);
        expect(res.header('docker-content-digest')).toBe(configs[0].digest);
      });

      it('GET on a nonexistent blob answers 404', async () => {
        expectError(await client.get(blobUrl(dummyDigest)), 404, 'BLOB_UNKNOWN');
      });

      it('GET on an existing blob answers 200 with its bytes', async () => {
        const res = await client.get(blobUrl(configs[0].digest));
        expect(res.status).toBe(200);
        expect(res.body.equals(configs[0].content)).toBe(true);
      });
    });

    describe('Pull manifests', () => {
      it('HEAD on a nonexistent manifest (.INVALID_MANIFEST_NAME) answers 404', async () => {
        expect((await client.head(manifestUrl(NONEXISTENT_MANIFEST))).status).toBe(404);
      });

      it.each([0, 1])('HEAD on manifest[%i] by digest answers 200 with its digest', async (i) => {
        const res = await client.head(manifestUrl(manifests[i].digest), ACCEPT_OCI);
        expect(res.status).toBe(200);
        expect(res.header('docker-content-digest')).toBe(manifests[i].digest);
      });

      it('HEAD on the manifest by tag answers 200 with manifest[0] digest', async () => {
        const res = await client.head(manifestUrl(tag), ACCEPT_OCI);
        expect(res.status).toBe(200);
        expect(res.header('docker-content-digest')).toBe(manifests[0].digest);
      });

      it('GET on a nonexistent manifest answers 404', async () => {
        expectError(await client.get(manifestUrl(NONEXISTENT_MANIFEST)), 404, 'MANIFEST_UNKNOWN');
      });

      it.each([0, 1])('GET on manifest[%i] by digest answers 200 with the exact bytes', async (i) => {
        const res = await client.get(manifestUrl(manifests[i].digest), ACCEPT_OCI);
        expect(res.status).toBe(200);
        expect(res.body.equals(manifests[i].content)).toBe(true);
      });

      it('GET on the manifest by tag answers 200 with manifest[0]', async () => {
        const res = await client.get(manifestUrl(tag), ACCEPT_OCI);
        expect(res.status).toBe(200);
        expect(res.body.equals(manifests[0].content)).toBe(true);
      });
    });

    describe('Error codes', () => {
      it('a 400 body is OCI-conforming JSON whose code is one of the spec codes', async () => {
        const res = await client.request('GET', manifestUrl('sha256:totallywrong'), {
          headers: { 'Content-Type': MT.ociManifest },
          body: Buffer.from('blablabla'),
        });
        const err = expectError(res, 400, 'DIGEST_INVALID');
        expect(err.errors.length).toBeGreaterThan(0);
        expect(OCI_ERROR_CODES).toContain(err.errors[0].code);
      });
    });

    describe('Teardown', () => {
      it('deletes manifest[0] and manifest[1] (202)', async () => {
        expect((await client.delete(manifestUrl(manifests[0].digest))).status).toBe(202);
        expect((await client.delete(manifestUrl(manifests[1].digest))).status).toBe(202);
      });

      it('deletes the config blobs and the layer (202)', async () => {
        for (const blob of [configs[0], configs[1], layer]) {
          expect((await client.delete(blobUrl(blob.digest))).status).toBe(202);
        }
      });
    });
  });

  describe('Push', () => {
    let lastResponse: Response;
    let prevResponse: Response;
    let emptyLayerManifestRef = '';

    describe('Blob Upload Streamed', () => {
      it('PATCH with the blob in the body and no Content-Range answers 202', async () => {
        const session = await client.post(`/v2/${NAME}/blobs/uploads/`);
        expect(session.header('location')).toBeTruthy();
        lastResponse = await client.patch(session.location, testBlobA.content, { 'Content-Type': OCTET });
        expect(lastResponse.status).toBe(202);
      });

      it('PUT to the session URL with the digest answers 201 with a Location', async () => {
        const res = await client.put(
          withQuery(lastResponse.location, { digest: testBlobA.digest }),
          undefined,
          {
            'Content-Type': OCTET,
          },
        );
        expect(res.status).toBe(201);
        expect(res.header('location')).toBeTruthy();
      });
    });

    describe('Blob Upload Monolithic', () => {
      it('GET on a nonexistent blob answers 404', async () => {
        expect((await client.get(blobUrl(dummyDigest))).status).toBe(404);
      });

      it('POST with digest and blob answers 201 (the suite accepts 201 or 202) with a Location', async () => {
        lastResponse = await client.post(
          `/v2/${NAME}/blobs/uploads/?digest=${configs[1].digest}`,
          configs[1].content,
          {
            'Content-Type': OCTET,
            'Content-Length': String(configs[1].content.length),
          },
        );
        expect(lastResponse.header('location')).toBeTruthy();
        expect(lastResponse.status).toBe(201);
      });

      it('GET on the blob from that POST answers 200, consistent with its 201', async () => {
        const res = await client.get(blobUrl(configs[1].digest));
        expect(res.status).toBe(200);
        expect(res.body.equals(configs[1].content)).toBe(true);
      });

      it('POST answers 202 with a session ID', async () => {
        lastResponse = await client.post(`/v2/${NAME}/blobs/uploads/`);
        expect(lastResponse.status).toBe(202);
        expect(lastResponse.header('docker-upload-uuid')).toBeTruthy();
      });

      it('PUT of the whole blob to the session answers 201 with a Location', async () => {
        const res = await client.put(
          withQuery(lastResponse.location, { digest: configs[1].digest }),
          configs[1].content,
          {
            'Content-Type': OCTET,
            'Content-Length': String(configs[1].content.length),
          },
        );
        expect(res.header('location')).toBeTruthy();
        expect(res.status).toBe(201);
      });

      it('GET on that blob answers 200', async () => {
        expect((await client.get(blobUrl(configs[1].digest))).status).toBe(200);
      });

      it('PUT upload of a layer blob answers 201, and GET on it answers 200', async () => {
        const res = await populateBlob(layer);
        expect(res.header('location')).toBeTruthy();
        expect(res.status).toBe(201);
        expect((await client.get(blobUrl(layer.digest))).status).toBe(200);
      });
    });

    describe('Blob Upload Chunked', () => {
      it('an out-of-order first chunk answers 416', async () => {
        const session = await client.post(`/v2/${NAME}/blobs/uploads/`, undefined, { 'Content-Length': '0' });
        expect(session.header('location')).toBeTruthy();
        // Wharf asks for no minimum chunk size, so the suite's 42-byte blob stays as it is.
        expect(session.header('oci-chunk-min-length')).toBeUndefined();
        const res = await client.patch(session.location, chunk2, {
          'Content-Type': OCTET,
          'Content-Length': String(chunk2.length),
          'Content-Range': chunk2Range,
        });
        expectError(res, 416, 'RANGE_INVALID');
      });

      it('PATCH with the first chunk answers 202 with Range equal to its Content-Range', async () => {
        prevResponse = await client.post(`/v2/${NAME}/blobs/uploads/`, undefined, { 'Content-Length': '0' });
        expect(prevResponse.header('location')).toBeTruthy();
        lastResponse = await client.patch(prevResponse.location, chunk1, {
          'Content-Type': OCTET,
          'Content-Length': String(chunk1.length),
          'Content-Range': chunk1Range,
        });
        expect(lastResponse.status).toBe(202);
        expect(lastResponse.header('range')).toBe(chunk1Range);
      });

      it('retrying the first chunk on the previous Location answers 416', async () => {
        const res = await client.patch(prevResponse.location, chunk1, {
          'Content-Type': OCTET,
          'Content-Length': String(chunk1.length),
          'Content-Range': chunk1Range,
        });
        expectError(res, 416, 'RANGE_INVALID');
      });

      it('GET on the stale upload URL answers 204 with a Location and the first chunk Range', async () => {
        lastResponse = await client.get(prevResponse.location);
        expect(lastResponse.status).toBe(204);
        expect(lastResponse.header('location')).toBeTruthy();
        expect(lastResponse.header('range')).toBe(chunk1Range);
      });

      it('PATCH with the second chunk answers 202 with a Location', async () => {
        lastResponse = await client.patch(lastResponse.location, chunk2, {
          'Content-Length': String(chunk2.length),
          'Content-Range': chunk2Range,
          'Content-Type': OCTET,
        });
        expect(lastResponse.status).toBe(202);
        expect(lastResponse.header('location')).toBeTruthy();
      });

      it('PUT with the digest and no body answers 201 with a Location', async () => {
        const res = await client.put(
          withQuery(lastResponse.location, { digest: testBlobB.digest }),
          undefined,
          {
            'Content-Length': '0',
            'Content-Type': OCTET,
          },
        );
        expect(res.status).toBe(201);
        expect(res.header('location')).toBeTruthy();
        expect((await client.get(blobUrl(testBlobB.digest))).body.equals(testBlobB.content)).toBe(true);
      });
    });

    describe('Cross-Repository Blob Mount', () => {
      it('mounting without from answers 202 with a session when the blob is nowhere', async () => {
        const res = await client.post(`/v2/${CROSSMOUNT}/blobs/uploads/?mount=${dummyDigest}`);
        expect(res.status).toBe(202);
        expect(res.header('location')).toMatch(/^https?:\/\//);
      });

      it("POST to mount another repository's blob answers 201 (the suite accepts 201 or 202)", async () => {
        lastResponse = await client.post(
          `/v2/${CROSSMOUNT}/blobs/uploads/?mount=${testBlobA.digest}&from=${NAME}`,
        );
        expect(lastResponse.status).toBe(201);
      });

      it('the mount Location is /v2/<target>/blobs/<digest> and GET on it answers 200', async () => {
        expect(lastResponse.location).toBe(`/v2/${CROSSMOUNT}/blobs/${testBlobA.digest}`);
        const res = await client.get(lastResponse.location);
        expect(res.status).toBe(200);
        expect(res.body.equals(testBlobA.content)).toBe(true);
      });

      it('mounting without from, with automatic content discovery enabled, answers 201', async () => {
        const res = await client.post(`/v2/${CROSSMOUNT}/blobs/uploads/?mount=${testBlobA.digest}`);
        expect(res.status).toBe(201);
      });
    });

    describe('Manifest Upload', () => {
      it('GET on a nonexistent manifest answers 404', async () => {
        expect((await client.get(manifestUrl(NONEXISTENT_MANIFEST))).status).toBe(404);
      });

      it('PUT accepts a manifest upload under 4 tags, each with 201 and a Location', async () => {
        for (let i = 0; i < 4; i++) {
          const res = await putManifest(`test${i}`, manifests[1]);
          expect(res.header('location')).toBeTruthy();
          expect(res.status).toBe(201);
        }
      });

      it('the registry accepts a manifest upload with no layers (201 with a Location)', async () => {
        const res = await putManifest('emptylayer', emptyLayerManifest);
        expect(res.status).toBe(201);
        emptyLayerManifestRef = res.header('location') ?? '';
        expect(emptyLayerManifestRef).toBeTruthy();
      });

      it('GET on the manifest by digest answers 200', async () => {
        const res = await client.get(manifestUrl(manifests[1].digest), ACCEPT_OCI);
        expect(res.status).toBe(200);
        expect(res.body.equals(manifests[1].content)).toBe(true);
      });
    });

    describe('Teardown', () => {
      it('deletes the manifest and the empty-layer manifest (202)', async () => {
        expect((await client.delete(manifestUrl(manifests[1].digest))).status).toBe(202);
        expect(emptyLayerManifestRef).toBeTruthy();
        expect((await client.delete(manifestUrl(emptyLayerManifest.digest))).status).toBe(202);
      });

      it('deletes the config blob and the layer (202)', async () => {
        expect((await client.delete(blobUrl(configs[1].digest))).status).toBe(202);
        expect((await client.delete(blobUrl(layer.digest))).status).toBe(202);
      });
    });
  });

  describe('Content Discovery', () => {
    const numTagsPushed = 4;
    let numTags = 0;

    describe('Setup', () => {
      it('populates the registry with a config blob and a layer', async () => {
        expect((await populateBlob(configs[2])).status).toBe(201);
        expect((await populateBlob(layer)).status).toBe(201);
      });

      it('populates the registry with 4 test tags', async () => {
        for (let i = 0; i < numTagsPushed; i++)
          expect((await putManifest(`test${i}`, manifests[2])).status).toBe(201);
        const res = await client.get(`/v2/${NAME}/tags/list`);
        expect(res.json().tags).toEqual(['test0', 'test1', 'test2', 'test3']);
      });

      it('sets up references, each PUT answering OCI-Subject, some before their subject exists', async () => {
        expect(emptyJSON.digest).toBe(EMPTY_JSON_DIGEST);
        expect((await populateBlob(emptyJSON)).status).toBe(201);
        // Referrers pushed before the subject image manifest.
        expect((await populateBlob(refBlobA)).status).toBe(201);
        for (const [m, mediaType] of [
          [refsManifestAConfigArtifact, MT.ociManifest],
          [refsManifestALayerArtifact, MT.ociManifest],
          [refsIndexArtifact, MT.ociIndex],
        ] as const) {
          const res = await putManifest(m.digest, m, mediaType);
          expect(res.status).toBe(201);
          expect(res.header('oci-subject')).toBe(manifests[4].digest);
        }
        // The subject itself.
        expect((await populateBlob(configs[4])).status).toBe(201);
        expect((await populateBlob(layer)).status).toBe(201);
        expect((await putManifest('tagtest0', manifests[4])).status).toBe(201);
        // Referrers pushed after it.
        expect((await populateBlob(refBlobB)).status).toBe(201);
        for (const m of [refsManifestBConfigArtifact, refsManifestBLayerArtifact]) {
          const res = await putManifest(m.digest, m);
          expect(res.status).toBe(201);
          expect(res.header('oci-subject')).toBe(manifests[4].digest);
        }
        // A referrer to a subject that never exists.
        const res = await putManifest(refsManifestCLayerArtifact.digest, refsManifestCLayerArtifact);
        expect(res.status).toBe(201);
        expect(res.header('oci-subject')).toBe(manifests[3].digest);
      });
    });

    describe('listing tags', () => {
      it('GET on the tags list answers 200', async () => {
        const res = await client.get(`/v2/${NAME}/tags/list`);
        expect(res.status).toBe(200);
        const tags = res.json().tags as string[];
        expect(tags).toEqual(['tagtest0', 'test0', 'test1', 'test2', 'test3']);
        numTags = tags.length;
      });

      it('the number of tags is limited by n', async () => {
        const n = Math.floor(numTags / 2);
        const res = await client.get(`/v2/${NAME}/tags/list?n=${n}`);
        expect(res.status).toBe(200);
        expect(res.json().tags).toHaveLength(n);
      });

      it('last sets where the list starts', async () => {
        const n = Math.floor(numTags / 2);
        const first = (await client.get(`/v2/${NAME}/tags/list?n=${n}`)).json().tags as string[];
        const res = await client.get(`/v2/${NAME}/tags/list?n=${n}&last=${first[n - 1]}`);
        expect(res.status).toBe(200);
        const next = res.json().tags as string[];
        expect(next.length).toBeLessThanOrEqual(n);
        expect(next).toEqual(['test1', 'test2']);
        expect(next).not.toContain(first[n - 1]);
      });
    });

    describe('listing references', () => {
      it('GET on the referrers of a nonexistent digest answers 200 with an empty index', async () => {
        const res = await client.get(`/v2/${NAME}/referrers/${dummyDigest}`);
        expect(res.status).toBe(200);
        expect(res.header('content-type')).toBe(MT.ociIndex);
        expect(res.json().manifests).toHaveLength(0);
      });

      it('GET on the referrers of manifest[4] answers 200 with 5 descriptors and their annotation', async () => {
        const res = await client.get(`/v2/${NAME}/referrers/${manifests[4].digest}`);
        expect(res.status).toBe(200);
        expect(res.header('content-type')).toBe(MT.ociIndex);
        const list = res.json().manifests as (Descriptor & { annotations: Record<string, string> })[];
        expect(list).toHaveLength(5);
        expect(list[0].digest).not.toBe(list[1].digest);
        for (const m of list) {
          expect(Object.keys(m.annotations)).toHaveLength(1);
          expect(m.annotations[ANNOTATION_KEY]).toBe(annotationValues.get(m.digest));
        }
      });

      it('the artifactType filter answers the 2 matching referrers and OCI-Filters-Applied', async () => {
        const res = await client.get(
          `/v2/${NAME}/referrers/${manifests[4].digest}?artifactType=${encodeURIComponent(ARTIFACT_TYPE_A)}`,
        );
        expect(res.status).toBe(200);
        expect(res.header('content-type')).toBe(MT.ociIndex);
        expect(res.header('oci-filters-applied')).toBe('artifactType');
        const list = res.json().manifests as (Descriptor & { annotations: Record<string, string> })[];
        expect(list).toHaveLength(2);
        for (const m of list) {
          expect(Object.keys(m.annotations)).toHaveLength(1);
          expect(m.annotations[ANNOTATION_KEY]).toBe(annotationValues.get(m.digest));
        }
      });

      it('GET on the referrers of the missing manifest[3] answers 200 with its one referrer', async () => {
        const res = await client.get(`/v2/${NAME}/referrers/${manifests[3].digest}`);
        expect(res.status).toBe(200);
        expect(res.header('content-type')).toBe(MT.ociIndex);
        const list = res.json().manifests as Descriptor[];
        expect(list).toHaveLength(1);
        expect(list[0].digest).toBe(refsManifestCLayerArtifact.digest);
      });
    });

    describe('Teardown', () => {
      it('deletes the created manifests and their tags (202 each)', async () => {
        for (const m of [
          refsIndexArtifact,
          manifests[2],
          manifests[4],
          refsManifestAConfigArtifact,
          refsManifestALayerArtifact,
          refsManifestBConfigArtifact,
          refsManifestBLayerArtifact,
          refsManifestCLayerArtifact,
        ]) {
          expect((await client.delete(manifestUrl(m.digest))).status).toBe(202);
        }
      });

      it('deletes the config blob and the layer (202)', async () => {
        expect((await client.delete(blobUrl(configs[2].digest))).status).toBe(202);
        expect((await client.delete(blobUrl(layer.digest))).status).toBe(202);
      });

      it('references teardown: manifests already gone answer 404, the blobs delete with 202', async () => {
        for (const m of [
          refsIndexArtifact,
          refsManifestAConfigArtifact,
          refsManifestALayerArtifact,
          manifests[4],
        ]) {
          expectError(await client.delete(manifestUrl(m.digest)), 404, 'MANIFEST_UNKNOWN');
        }
        for (const blob of [configs[4], refBlobA, refBlobB, emptyJSON]) {
          expect((await client.delete(blobUrl(blob.digest))).status).toBe(202);
        }
      });
    });
  });

  describe('Content Management', () => {
    const tagToDelete = 'tagtest0';
    let numTags = 0;

    describe('Setup', () => {
      it('populates the registry with a config blob, a layer and a tag', async () => {
        expect((await populateBlob(configs[3])).status).toBe(201);
        expect((await populateBlob(layer)).status).toBe(201);
        expect((await putManifest(tagToDelete, manifests[3])).status).toBe(201);
      });

      it('counts the tags before anything is deleted', async () => {
        const res = await client.get(`/v2/${NAME}/tags/list`);
        expect(res.status).toBe(200);
        numTags = (res.json().tags as string[]).length;
        expect(numTags).toBe(1);
      });
    });

    describe('Manifest delete', () => {
      it('DELETE on the manifest tag answers 202 (the suite also accepts 400/405)', async () => {
        expect((await client.delete(manifestUrl(tagToDelete))).status).toBe(202);
      });

      it('DELETE on the manifest by digest answers 202, the tag delete having left it in place', async () => {
        expect((await client.delete(manifestUrl(manifests[3].digest))).status).toBe(202);
      });

      it('GET on the deleted manifest answers 404', async () => {
        expectError(await client.get(manifestUrl(manifests[3].digest)), 404, 'MANIFEST_UNKNOWN');
      });

      it('the tags list reflects the deletion: no tags left, so the repository is unknown (404)', async () => {
        const res = await client.get(`/v2/${NAME}/tags/list`);
        expect(numTags - 1).toBe(0);
        expectError(res, 404, 'NAME_UNKNOWN');
      });
    });

    describe('Blob delete', () => {
      it('DELETE on the config and layer blob URLs answers 202', async () => {
        expect((await client.delete(blobUrl(configs[3].digest))).status).toBe(202);
        expect((await client.delete(blobUrl(layer.digest))).status).toBe(202);
      });

      it('GET on the deleted blob answers 404', async () => {
        expectError(await client.get(blobUrl(configs[3].digest)), 404, 'BLOB_UNKNOWN');
      });
    });
  });
});
