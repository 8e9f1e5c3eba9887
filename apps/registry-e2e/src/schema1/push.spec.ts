import { createPublicKey, randomBytes, type JsonWebKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSigningKey, goJsonIndent, signSchema1 } from '@wharf/schema1';
import {
  MT,
  getManifest,
  keyIdOf,
  pushBlob,
  pushImage,
  pushList,
  putManifest,
  sha256,
  startWharf,
  verifyJwsIndependently,
  type HttpResponse,
  type WharfInstance,
} from './support';

// Schema1 push (WHARF_SCHEMA1_PUSH=true): what old clients and old mirrors push, verified, stored as
// its payload, and served re-signed by the registry.

/** A schema1 payload as Go's MarshalIndent writes it. */
function schema1Payload(fields: Record<string, unknown>): Buffer {
  return goJsonIndent(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 1,
        name: 'x',
        tag: 'x',
        architecture: 'amd64',
        fsLayers: [],
        history: [],
        ...fields,
      }),
    ),
    '',
    '   ',
  );
}

const errorCodes = (res: HttpResponse): string[] =>
  JSON.parse(res.body.toString()).errors.map((e: { code: string }) => e.code);

describe('schema1 push when enabled', () => {
  let wharf: WharfInstance;
  const repo = 'legacy/app';
  const pusher = generateSigningKey();
  let layers: string[];
  let payload: Buffer;
  let registryKid: string;

  beforeAll(async () => {
    wharf = await startWharf({ WHARF_SCHEMA1_PUSH: 'true' });
    layers = [
      await pushBlob(wharf.url, repo, randomBytes(100)),
      await pushBlob(wharf.url, repo, randomBytes(100)),
    ];
    payload = schema1Payload({
      name: repo,
      tag: 'old',
      fsLayers: [{ blobSum: layers[1] }, { blobSum: layers[0] }],
      history: [
        { v1Compatibility: '{"id":"bb","parent":"aa","created":"2015-01-01T00:00:00Z"}' },
        { v1Compatibility: '{"id":"aa","created":"2015-01-01T00:00:00Z"}' },
      ],
    });
    const pem = readFileSync(join(wharf.dataDir, 'keys', 'schema1-signing.pem'), 'utf8');
    registryKid = keyIdOf(createPublicKey(pem).export({ format: 'jwk' }) as JsonWebKey);
  });
  afterAll(() => wharf?.stop());

  it('stores a verified push under its payload digest and serves it re-signed by the registry key', async () => {
    const res = await putManifest(wharf.url, repo, 'old', MT.schema1Signed, signSchema1(payload, pusher));
    expect(res.status).toBe(201);
    expect(res.headers['docker-content-digest']).toBe(sha256(payload));
    expect(String(res.headers.location)).toMatch(new RegExp(`/v2/${repo}/manifests/${sha256(payload)}$`));

    for (const reference of ['old', sha256(payload)]) {
      for (const accept of [undefined, MT.docker]) {
        const get = await getManifest(wharf.url, repo, reference, accept);
        expect(get.status).toBe(200);
        expect(get.headers['content-type']).toBe(MT.schema1Signed);
        expect(get.headers['docker-content-digest']).toBe(sha256(payload));
        const jws = verifyJwsIndependently(get.body);
        expect(jws.payload.equals(payload)).toBe(true);
        expect(jws.kids).toEqual([registryKid]);
        expect(registryKid).not.toBe(pusher.keyId);
      }
    }
  });

  it('answers HEAD with the digest and length of a GET', async () => {
    await putManifest(wharf.url, repo, 'head', MT.schema1Signed, signSchema1(payload, pusher));
    const get = await getManifest(wharf.url, repo, 'head');
    const head = await getManifest(wharf.url, repo, 'head', undefined, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['docker-content-digest']).toBe(get.headers['docker-content-digest']);
    expect(head.headers['content-length']).toBe(get.headers['content-length']);
  });

  it('accepts the +json type, and a PUT by the payload digest (not the document digest)', async () => {
    const doc = signSchema1(payload, pusher);
    expect((await putManifest(wharf.url, repo, 'json', MT.schema1, doc)).status).toBe(201);
    expect((await putManifest(wharf.url, repo, sha256(payload), MT.schema1Signed, doc)).status).toBe(201);
    const byDocDigest = await putManifest(wharf.url, repo, sha256(doc), MT.schema1Signed, doc);
    expect(byDocDigest.status).toBe(400);
    expect(errorCodes(byDocDigest)).toEqual(['DIGEST_INVALID']);
  });

  it('answers 400 MANIFEST_UNVERIFIED when a signature does not cover the payload', async () => {
    const forged = Buffer.from(
      signSchema1(payload, pusher).toString('utf8').replace('"tag": "old"', '"tag": "new"'),
    );
    const res = await putManifest(wharf.url, repo, 'forged', MT.schema1Signed, forged);
    expect(res.status).toBe(400);
    expect(errorCodes(res)).toContain('MANIFEST_UNVERIFIED');
    expect((await getManifest(wharf.url, repo, 'forged')).status).toBe(404);
  });

  it('answers 400 MANIFEST_INVALID for a document without signatures', async () => {
    const res = await putManifest(wharf.url, repo, 'unsigned', MT.schema1, payload);
    expect(res.status).toBe(400);
    expect(errorCodes(res)).toEqual(['MANIFEST_INVALID']);
  });

  it('answers 400 MANIFEST_BLOB_UNKNOWN for each fsLayer not linked in the repository', async () => {
    const missing = sha256(randomBytes(10));
    const doc = signSchema1(
      schema1Payload({
        name: repo,
        tag: 'missing',
        fsLayers: [{ blobSum: missing }, { blobSum: layers[0] }],
        history: [{ v1Compatibility: '{"id":"b"}' }, { v1Compatibility: '{"id":"a"}' }],
      }),
      pusher,
    );
    const res = await putManifest(wharf.url, repo, 'missing', MT.schema1Signed, doc);
    expect(res.status).toBe(400);
    const errors = JSON.parse(res.body.toString()).errors;
    expect(errors).toEqual([
      expect.objectContaining({ code: 'MANIFEST_BLOB_UNKNOWN', detail: { digest: missing } }),
    ]);
    // Linked in another repository does not count.
    const other = await putManifest(
      wharf.url,
      'other/repo',
      'x',
      MT.schema1Signed,
      signSchema1(payload, pusher),
    );
    expect(errorCodes(other)).toEqual(['MANIFEST_BLOB_UNKNOWN', 'MANIFEST_BLOB_UNKNOWN']);
  });

  it('answers 400 NAME_INVALID for an invalid name inside the manifest', async () => {
    const doc = signSchema1(
      schema1Payload({
        name: 'Bad_Name',
        tag: 'x',
        fsLayers: [{ blobSum: layers[0] }],
        history: [{ v1Compatibility: '{"id":"a"}' }],
      }),
      pusher,
    );
    const res = await putManifest(wharf.url, repo, 'bad-name', MT.schema1Signed, doc);
    expect(res.status).toBe(400);
    expect(errorCodes(res)).toContain('NAME_INVALID');
  });

  it('answers 400 MANIFEST_INVALID when fsLayers and history differ in length', async () => {
    const doc = signSchema1(
      schema1Payload({
        name: repo,
        tag: 'x',
        fsLayers: [{ blobSum: layers[0] }, { blobSum: layers[1] }],
        history: [{ v1Compatibility: '{"id":"a"}' }],
      }),
      pusher,
    );
    const res = await putManifest(wharf.url, repo, 'mismatch', MT.schema1Signed, doc);
    expect(res.status).toBe(400);
    expect(errorCodes(res)).toContain('MANIFEST_INVALID');
  });
});

describe('WHARF_SCHEMA1_DEFAULT_PLATFORM', () => {
  let wharf: WharfInstance;
  afterAll(() => wharf?.stop());

  it('picks the configured platform from a manifest list for old clients', async () => {
    wharf = await startWharf({ WHARF_SCHEMA1_DEFAULT_PLATFORM: 'linux/arm64' });
    const repo = 'multi/platform';
    const image = (arch: string) => {
      const layer = randomBytes(32);
      return {
        config: Buffer.from(
          JSON.stringify({
            architecture: arch,
            os: 'linux',
            rootfs: { type: 'layers', diff_ids: [sha256(layer)] },
            history: [{ created_by: arch }],
          }),
        ),
        layers: [layer],
      };
    };
    const amd64 = await pushImage(wharf.url, repo, 'amd64', image('amd64'));
    const arm64 = await pushImage(wharf.url, repo, 'arm64', image('arm64'));
    await pushList(wharf.url, repo, 'multi', [
      { digest: amd64.digest, size: amd64.body.length, platform: { os: 'linux', architecture: 'amd64' } },
      { digest: arm64.digest, size: arm64.body.length, platform: { os: 'linux', architecture: 'arm64' } },
    ]);
    const old = verifyJwsIndependently((await getManifest(wharf.url, repo, 'multi')).body);
    expect(JSON.parse(old.payload.toString()).architecture).toBe('arm64');
    const v2 = await getManifest(wharf.url, repo, 'multi', MT.docker);
    expect(v2.headers['docker-content-digest']).toBe(arm64.digest);
  });
});
