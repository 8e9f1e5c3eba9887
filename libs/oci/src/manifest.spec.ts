import { sha256 } from './digest';
import { RegistryError } from './errors';
import {
  blobReferences,
  childManifests,
  effectiveArtifactType,
  manifestMediaTypeOf,
  ParsedManifest,
  parseManifest,
} from './manifest';
import {
  MT_DOCKER_CONFIG,
  MT_DOCKER_FOREIGN_LAYER,
  MT_DOCKER_LAYER,
  MT_DOCKER_LIST,
  MT_DOCKER_MANIFEST,
  MT_OCI_CONFIG,
  MT_OCI_EMPTY,
  MT_OCI_INDEX,
  MT_OCI_LAYER_GZIP,
  MT_OCI_LAYER_NONDISTRIBUTABLE_GZIP,
  MT_OCI_MANIFEST,
  MT_SCHEMA1,
  MT_SCHEMA1_SIGNED,
} from './media-types';

const digest = (seed: string) => sha256(seed);
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

const OCI_CONFIG = { mediaType: MT_OCI_CONFIG, digest: digest('config'), size: 100 };
const ociLayer = (n: number) => ({
  mediaType: MT_OCI_LAYER_GZIP,
  digest: digest(`layer${n}`),
  size: 1000 + n,
});
const dockerLayer = (n: number) => ({
  mediaType: MT_DOCKER_LAYER,
  digest: digest(`layer${n}`),
  size: 1000 + n,
});

const ociManifest = (extra: Record<string, unknown> = {}) => ({
  schemaVersion: 2,
  mediaType: MT_OCI_MANIFEST,
  config: OCI_CONFIG,
  layers: [ociLayer(1), ociLayer(2)],
  ...extra,
});
const dockerManifest = (extra: Record<string, unknown> = {}) => ({
  schemaVersion: 2,
  mediaType: MT_DOCKER_MANIFEST,
  config: { mediaType: MT_DOCKER_CONFIG, digest: digest('config'), size: 100 },
  layers: [dockerLayer(1)],
  ...extra,
});
const child = (n: number, os = 'linux', architecture = 'amd64', mediaType = MT_OCI_MANIFEST) => ({
  mediaType,
  digest: digest(`child${n}`),
  size: 500 + n,
  platform: { os, architecture },
});
const ociIndex = (extra: Record<string, unknown> = {}) => ({
  schemaVersion: 2,
  mediaType: MT_OCI_INDEX,
  manifests: [child(1), child(2, 'linux', 'arm64')],
  ...extra,
});
const dockerList = (extra: Record<string, unknown> = {}) => ({
  schemaVersion: 2,
  mediaType: MT_DOCKER_LIST,
  manifests: [child(1, 'linux', 'amd64', MT_DOCKER_MANIFEST)],
  ...extra,
});

function parseError(contentType: string | undefined, body: Buffer): RegistryError {
  try {
    parseManifest(contentType, body);
  } catch (e) {
    if (e instanceof RegistryError) return e;
    throw e;
  }
  throw new Error('expected parseManifest to throw');
}

function expectManifestInvalid(contentType: string | undefined, body: Buffer): RegistryError {
  const error = parseError(contentType, body);
  expect(error.code).toBe('MANIFEST_INVALID');
  expect(error.status).toBe(400);
  return error;
}

describe('parseManifest: each format', () => {
  it('parses an OCI image manifest', () => {
    const parsed = parseManifest(MT_OCI_MANIFEST, json(ociManifest()));
    expect(parsed).toEqual<ParsedManifest>({
      mediaType: MT_OCI_MANIFEST,
      kind: 'image',
      config: OCI_CONFIG,
      layers: [ociLayer(1), ociLayer(2)],
      manifests: [],
    });
  });

  it('parses a Docker schema2 manifest', () => {
    const parsed = parseManifest(MT_DOCKER_MANIFEST, json(dockerManifest()));
    expect(parsed.mediaType).toBe(MT_DOCKER_MANIFEST);
    expect(parsed.kind).toBe('image');
    expect(parsed.config?.mediaType).toBe(MT_DOCKER_CONFIG);
    expect(parsed.layers).toEqual([dockerLayer(1)]);
  });

  it('parses an OCI index with platforms', () => {
    const parsed = parseManifest(MT_OCI_INDEX, json(ociIndex()));
    expect(parsed).toEqual<ParsedManifest>({
      mediaType: MT_OCI_INDEX,
      kind: 'index',
      layers: [],
      manifests: [child(1), child(2, 'linux', 'arm64')],
    });
    expect(parsed.config).toBeUndefined();
  });

  it('parses a Docker manifest list', () => {
    const parsed = parseManifest(MT_DOCKER_LIST, json(dockerList()));
    expect(parsed.mediaType).toBe(MT_DOCKER_LIST);
    expect(parsed.kind).toBe('index');
    expect(parsed.manifests).toEqual([child(1, 'linux', 'amd64', MT_DOCKER_MANIFEST)]);
  });

  it('ignores Content-Type parameters and case', () => {
    const parsed = parseManifest(
      'Application/VND.OCI.Image.Manifest.v1+json; charset=utf-8',
      json(ociManifest()),
    );
    expect(parsed.mediaType).toBe(MT_OCI_MANIFEST);
  });

  it('accepts OCI bodies without mediaType and serves them as the Content-Type', () => {
    const { mediaType: _m, ...manifestBody } = ociManifest();
    expect(parseManifest(MT_OCI_MANIFEST, json(manifestBody)).mediaType).toBe(MT_OCI_MANIFEST);
    expect(parseManifest(MT_OCI_MANIFEST, json({ ...manifestBody, mediaType: '' })).mediaType).toBe(
      MT_OCI_MANIFEST,
    );
    const { mediaType: _i, ...indexBody } = ociIndex();
    expect(parseManifest(MT_OCI_INDEX, json(indexBody)).mediaType).toBe(MT_OCI_INDEX);
  });

  it('accepts an image manifest with no layers', () => {
    expect(parseManifest(MT_OCI_MANIFEST, json(ociManifest({ layers: [] }))).layers).toEqual([]);
    const { layers: _l, ...noLayers } = ociManifest();
    expect(parseManifest(MT_OCI_MANIFEST, json(noLayers)).layers).toEqual([]);
  });
});

describe('parseManifest: Content-Type and body mediaType must agree', () => {
  it.each([
    ['Docker manifest without mediaType', MT_DOCKER_MANIFEST, { ...dockerManifest(), mediaType: undefined }],
    ['Docker manifest with the OCI type', MT_DOCKER_MANIFEST, dockerManifest({ mediaType: MT_OCI_MANIFEST })],
    ['Docker list without mediaType', MT_DOCKER_LIST, { ...dockerList(), mediaType: undefined }],
    ['Docker list with the OCI index type', MT_DOCKER_LIST, dockerList({ mediaType: MT_OCI_INDEX })],
    ['OCI manifest with the Docker type', MT_OCI_MANIFEST, ociManifest({ mediaType: MT_DOCKER_MANIFEST })],
    ['OCI manifest with the index type', MT_OCI_MANIFEST, ociManifest({ mediaType: MT_OCI_INDEX })],
    ['OCI index with the manifest type', MT_OCI_INDEX, ociIndex({ mediaType: MT_OCI_MANIFEST })],
    [
      'OCI manifest with a mediaType in other case',
      MT_OCI_MANIFEST,
      ociManifest({ mediaType: MT_OCI_MANIFEST.toUpperCase() }),
    ],
  ])('rejects %s', (_label, contentType, body) => {
    const error = expectManifestInvalid(contentType, json(body));
    expect(error.errors[0].detail).toMatchObject({ field: 'mediaType' });
  });

  it('rejects an OCI manifest that carries manifests (it reads as an index)', () => {
    const error = expectManifestInvalid(MT_OCI_MANIFEST, json(ociManifest({ manifests: [] })));
    expect(error.message).toBe('expected manifest but found index');
  });

  it.each([
    ['config', { config: OCI_CONFIG }],
    ['layers', { layers: [] }],
  ])('rejects an OCI index that carries %s', (field, extra) => {
    const error = expectManifestInvalid(MT_OCI_INDEX, json(ociIndex(extra)));
    expect(error.message).toBe('expected index but found manifest');
    expect(error.errors[0].detail).toEqual({ field });
  });

  it.each([
    MT_OCI_EMPTY,
    'application/vnd.oci.artifact.manifest.v1+json',
    'text/plain',
    'application/x-www-form-urlencoded',
    'constructor',
    '__proto__',
  ])('rejects the unknown Content-Type %p', (contentType) => {
    const error = expectManifestInvalid(contentType, json(ociManifest()));
    expect(error.message).toBe('unsupported manifest media type');
  });

  it.each([MT_SCHEMA1, MT_SCHEMA1_SIGNED, `${MT_SCHEMA1_SIGNED}; charset=utf-8`])(
    'refuses the schema1 Content-Type %p before reading the body',
    (contentType) => {
      const error = expectManifestInvalid(contentType, Buffer.from('not even json'));
      expect(error.message).toBe('schema1 manifests are not accepted');
    },
  );
});

describe('parseManifest: missing or generic Content-Type', () => {
  it.each([undefined, '', 'application/json', 'application/octet-stream', 'application/json; charset=utf-8'])(
    'infers the format from the body mediaType (Content-Type %p)',
    (contentType) => {
      expect(parseManifest(contentType, json(dockerManifest())).mediaType).toBe(MT_DOCKER_MANIFEST);
      expect(parseManifest(contentType, json(dockerList())).mediaType).toBe(MT_DOCKER_LIST);
      expect(parseManifest(contentType, json(ociIndex())).mediaType).toBe(MT_OCI_INDEX);
    },
  );

  it('infers an OCI index from a manifests array when the body has no mediaType', () => {
    const parsed = parseManifest(undefined, json({ ...ociIndex(), mediaType: undefined }));
    expect(parsed.mediaType).toBe(MT_OCI_INDEX);
    expect(parsed.kind).toBe('index');
  });

  it('infers an OCI manifest from config when the body has no mediaType', () => {
    const parsed = parseManifest('application/json', json({ ...ociManifest(), mediaType: undefined }));
    expect(parsed.mediaType).toBe(MT_OCI_MANIFEST);
    expect(parsed.kind).toBe('image');
  });

  it('rejects a body that names no type and has neither manifests nor config', () => {
    expectManifestInvalid(undefined, json({ schemaVersion: 2, layers: [] }));
  });

  it('rejects a body whose mediaType is not a manifest type', () => {
    const error = expectManifestInvalid(
      undefined,
      json(ociManifest({ mediaType: 'application/vnd.example+json' })),
    );
    expect(error.errors[0].detail).toEqual({ mediaType: 'application/vnd.example+json' });
  });

  it('rejects a body whose mediaType names an Object.prototype property', () => {
    expectManifestInvalid(undefined, json(ociManifest({ mediaType: 'toString' })));
  });

  it('rejects a body whose mediaType is not a string', () => {
    expectManifestInvalid(undefined, json(ociManifest({ mediaType: 42 })));
  });
});

describe('parseManifest: the body must be a schemaVersion 2 JSON object', () => {
  it.each([
    ['invalid JSON', Buffer.from('{"schemaVersion": 2,')],
    ['an empty body', Buffer.alloc(0)],
    ['a JSON array', json([ociManifest()])],
    ['a JSON string', json('manifest')],
    ['JSON null', Buffer.from('null')],
    ['a JSON number', Buffer.from('2')],
    [
      'invalid UTF-8',
      Buffer.concat([Buffer.from('{"schemaVersion":2,"x":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
    ],
    ['a byte order mark', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), json(ociManifest())])],
  ])('rejects %s', (_label, body) => {
    expectManifestInvalid(MT_OCI_MANIFEST, body);
  });

  it('rejects a schemaVersion 1 body as schema1, with any Content-Type', () => {
    const body = json({ schemaVersion: 1, name: 'a', tag: 'b', fsLayers: [], history: [] });
    expect(expectManifestInvalid(undefined, body).message).toBe('schema1 manifests are not accepted');
    expect(expectManifestInvalid(MT_DOCKER_MANIFEST, body).message).toBe(
      'schema1 manifests are not accepted',
    );
  });

  it.each([
    ['missing', undefined],
    ['a string', '2'],
    ['3', 3],
    ['2.5', 2.5],
    ['null', null],
  ])('rejects schemaVersion %s with a 400, not a 500', (_label, schemaVersion) => {
    const error = expectManifestInvalid(MT_OCI_MANIFEST, json(ociManifest({ schemaVersion })));
    expect(error.errors[0].detail).toEqual({ field: 'schemaVersion' });
  });
});

describe('parseManifest: descriptors', () => {
  it.each([undefined, null])('requires config in an image manifest (config %p)', (config) => {
    const error = expectManifestInvalid(MT_OCI_MANIFEST, json(ociManifest({ config })));
    expect(error.errors[0].detail).toEqual({ field: 'config' });
    expect(error.message).toBe('config is required');
    expectManifestInvalid(MT_DOCKER_MANIFEST, json(dockerManifest({ config })));
  });

  it('requires manifests in an index', () => {
    const error = expectManifestInvalid(MT_OCI_INDEX, json({ schemaVersion: 2, mediaType: MT_OCI_INDEX }));
    expect(error.errors[0].detail).toEqual({ field: 'manifests' });
    expect(error.message).toBe('manifests is required');
  });

  const HUGE = 2 ** 53;
  it.each([
    ['config', 'a string config', { config: 'sha256:abc' }],
    ['config.mediaType', 'a missing media type', { config: { ...OCI_CONFIG, mediaType: undefined } }],
    ['config.mediaType', 'a numeric media type', { config: { ...OCI_CONFIG, mediaType: 1 } }],
    [
      'config.mediaType',
      'a media type with parameters',
      { config: { ...OCI_CONFIG, mediaType: 'a/b; x=y' } },
    ],
    ['config.digest', 'a missing digest', { config: { ...OCI_CONFIG, digest: undefined } }],
    [
      'config.digest',
      'an upper-case digest',
      { config: { ...OCI_CONFIG, digest: `sha256:${'A'.repeat(64)}` } },
    ],
    ['config.digest', 'a short digest', { config: { ...OCI_CONFIG, digest: 'sha256:abc' } }],
    ['config.size', 'a missing size', { config: { ...OCI_CONFIG, size: undefined } }],
    ['layers[1].size', 'a negative size', { layers: [ociLayer(1), { ...ociLayer(2), size: -1 }] }],
    ['layers[0].size', 'a fractional size', { layers: [{ ...ociLayer(1), size: 1.5 }] }],
    ['layers[0].size', 'a string size', { layers: [{ ...ociLayer(1), size: '10' }] }],
    ['layers[0].size', 'a size beyond 2^53', { layers: [{ ...ociLayer(1), size: HUGE }] }],
    ['layers', 'layers that are not an array', { layers: { 0: ociLayer(1) } }],
    ['layers[0]', 'a layer that is not an object', { layers: [ociLayer(1).digest] }],
    ['layers[0].urls', 'urls that are not strings', { layers: [{ ...ociLayer(1), urls: [1] }] }],
    ['layers[0].urls', 'urls that are a string', { layers: [{ ...ociLayer(1), urls: 'http://x' }] }],
    [
      'layers[0].annotations.k',
      'a non-string annotation',
      { layers: [{ ...ociLayer(1), annotations: { k: 1 } }] },
    ],
    ['subject.digest', 'a subject with a bad digest', { subject: { ...OCI_CONFIG, digest: 'nope' } }],
    ['artifactType', 'an artifactType that is not a media type', { artifactType: 'not a type' }],
    ['annotations', 'annotations that are an array', { annotations: ['a'] }],
  ])('rejects %s: %s', (field, _label, extra) => {
    const error = expectManifestInvalid(MT_OCI_MANIFEST, json(ociManifest(extra)));
    expect(error.errors[0].detail).toEqual({ field });
    expect(error.message).toContain(field);
  });

  it.each([
    ['manifests[0].platform.os', { ...child(1), platform: { architecture: 'amd64' } }],
    [
      'manifests[0].platform.variant',
      { ...child(1), platform: { os: 'linux', architecture: 'arm', variant: 7 } },
    ],
    [
      'manifests[0].platform.os.features',
      { ...child(1), platform: { os: 'linux', architecture: 'amd64', 'os.features': 'x' } },
    ],
    ['manifests[0].digest', { ...child(1), digest: 'sha256:zz' }],
  ])('rejects an index child with a bad %s', (field, bad) => {
    const error = expectManifestInvalid(MT_OCI_INDEX, json(ociIndex({ manifests: [bad] })));
    expect(error.errors[0].detail).toEqual({ field });
  });

  it('keeps the descriptor fields a registry acts on and drops the rest', () => {
    const layer = {
      ...ociLayer(1),
      urls: ['https://example.com/layer'],
      annotations: { 'org.example': 'x' },
      artifactType: 'application/vnd.example',
      data: 'e30=',
      'vnd.example.extra': { anything: true },
    };
    const parsed = parseManifest(MT_OCI_MANIFEST, json(ociManifest({ layers: [layer] })));
    expect(parsed.layers).toEqual([
      {
        ...ociLayer(1),
        urls: ['https://example.com/layer'],
        annotations: { 'org.example': 'x' },
        artifactType: 'application/vnd.example',
      },
    ]);
  });

  it('keeps every platform field', () => {
    const platform = {
      architecture: 'amd64',
      os: 'windows',
      variant: 'v3',
      'os.version': '10.0.17763.1',
      'os.features': ['win32k'],
    };
    const parsed = parseManifest(MT_OCI_INDEX, json(ociIndex({ manifests: [{ ...child(1), platform }] })));
    expect(parsed.manifests[0].platform).toEqual(platform);
  });

  it.each(['ftp://example.com/layer', 'https://example.com/layer#frag', '/relative/path', 'not a url'])(
    'rejects the layer URL %p',
    (url) => {
      const layer = { ...ociLayer(1), mediaType: MT_OCI_LAYER_NONDISTRIBUTABLE_GZIP, urls: [url] };
      const error = expectManifestInvalid(MT_OCI_MANIFEST, json(ociManifest({ layers: [layer] })));
      expect(error.errors[0].detail).toEqual({ field: 'layers[0].urls' });
    },
  );
});

describe('parseManifest: OCI 1.1 artifacts and referrers fields', () => {
  it('accepts unknown config, layer and artifact types', () => {
    const artifact = ociManifest({
      artifactType: 'application/vnd.example.sbom',
      config: { mediaType: 'application/vnd.nhl.peanut.butter.bagel', digest: digest('cfg'), size: 2 },
      layers: [{ mediaType: 'application/vnd.example.layer+custom', digest: digest('l'), size: 3 }],
    });
    const parsed = parseManifest(MT_OCI_MANIFEST, json(artifact));
    expect(parsed.artifactType).toBe('application/vnd.example.sbom');
    expect(parsed.config?.mediaType).toBe('application/vnd.nhl.peanut.butter.bagel');
  });

  it('reads subject, artifactType and annotations of an image manifest', () => {
    const subject = { mediaType: MT_OCI_MANIFEST, digest: digest('subject'), size: 42 };
    const parsed = parseManifest(
      MT_OCI_MANIFEST,
      json(
        ociManifest({
          config: { mediaType: MT_OCI_EMPTY, digest: digest('{}'), size: 2 },
          artifactType: 'application/vnd.example.sig',
          subject,
          annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
        }),
      ),
    );
    expect(parsed.subject).toEqual(subject);
    expect(parsed.annotations).toEqual({ 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' });
  });

  it('reads the subject of an index', () => {
    const subject = { mediaType: MT_OCI_INDEX, digest: digest('subject'), size: 42 };
    expect(parseManifest(MT_OCI_INDEX, json(ociIndex({ subject }))).subject).toEqual(subject);
  });

  it('ignores OCI-only fields in a Docker manifest, as Docker clients do', () => {
    const subject = { mediaType: MT_OCI_MANIFEST, digest: digest('subject'), size: 42 };
    const parsed = parseManifest(
      MT_DOCKER_MANIFEST,
      json(dockerManifest({ subject, artifactType: 'bad type' })),
    );
    expect(parsed.subject).toBeUndefined();
    expect(parsed.artifactType).toBeUndefined();
  });

  it.each([
    [
      'the artifactType when set',
      { artifactType: 'application/vnd.example.sig' },
      'application/vnd.example.sig',
    ],
    ['the config media type otherwise', {}, MT_OCI_CONFIG],
  ])('effectiveArtifactType of an image is %s', (_label, extra, expected) => {
    expect(effectiveArtifactType(parseManifest(MT_OCI_MANIFEST, json(ociManifest(extra))))).toBe(expected);
  });

  it('effectiveArtifactType of an index without artifactType is undefined', () => {
    expect(effectiveArtifactType(parseManifest(MT_OCI_INDEX, json(ociIndex())))).toBeUndefined();
  });
});

describe('blobReferences', () => {
  it('lists config then layers, each digest once, in manifest order', () => {
    const body = ociManifest({ layers: [ociLayer(2), ociLayer(1), ociLayer(2)] });
    expect(blobReferences(parseManifest(MT_OCI_MANIFEST, json(body)))).toEqual([
      OCI_CONFIG.digest,
      ociLayer(2).digest,
      ociLayer(1).digest,
    ]);
  });

  it('skips foreign and non-distributable layers that carry urls, but not ones without', () => {
    const foreign = {
      mediaType: MT_DOCKER_FOREIGN_LAYER,
      digest: digest('win'),
      size: 1,
      urls: ['https://mcr/x'],
    };
    const foreignNoUrls = { mediaType: MT_DOCKER_FOREIGN_LAYER, digest: digest('win2'), size: 1 };
    const ordinaryWithUrls = { ...dockerLayer(3), urls: ['https://example.com/x'] };
    const parsed = parseManifest(
      MT_DOCKER_MANIFEST,
      json(dockerManifest({ layers: [foreign, dockerLayer(1), foreignNoUrls, ordinaryWithUrls] })),
    );
    expect(blobReferences(parsed)).toEqual([
      digest('config'),
      dockerLayer(1).digest,
      foreignNoUrls.digest,
      ordinaryWithUrls.digest,
    ]);
  });

  it('does not include the subject, which may legitimately be missing', () => {
    const subject = { mediaType: MT_OCI_MANIFEST, digest: digest('subject'), size: 42 };
    const parsed = parseManifest(MT_OCI_MANIFEST, json(ociManifest({ subject })));
    expect(blobReferences(parsed)).not.toContain(subject.digest);
  });

  it('is empty for an index, whose children are manifests', () => {
    expect(blobReferences(parseManifest(MT_OCI_INDEX, json(ociIndex())))).toEqual([]);
  });
});

describe('childManifests', () => {
  it('lists each child digest once, in order', () => {
    const parsed = parseManifest(MT_OCI_INDEX, json(ociIndex({ manifests: [child(2), child(1), child(2)] })));
    expect(childManifests(parsed)).toEqual([child(2).digest, child(1).digest]);
  });

  it('is empty for an image manifest', () => {
    expect(childManifests(parseManifest(MT_OCI_MANIFEST, json(ociManifest())))).toEqual([]);
  });
});

describe('manifestMediaTypeOf', () => {
  it.each([
    ['a Docker manifest', json(dockerManifest()), MT_DOCKER_MANIFEST],
    ['a Docker list', json(dockerList()), MT_DOCKER_LIST],
    ['an OCI manifest', json(ociManifest()), MT_OCI_MANIFEST],
    ['an OCI index', json(ociIndex()), MT_OCI_INDEX],
    ['an untyped body with manifests', json({ ...ociIndex(), mediaType: undefined }), MT_OCI_INDEX],
    ['an untyped body without manifests', json({ ...ociManifest(), mediaType: undefined }), MT_OCI_MANIFEST],
    ['a schema1 payload', json({ schemaVersion: 1, name: 'a' }), MT_SCHEMA1_SIGNED],
    ['an unknown mediaType', json(ociManifest({ mediaType: 'application/x' })), undefined],
    ['schemaVersion 3', json(ociManifest({ schemaVersion: 3 })), undefined],
    ['not JSON', Buffer.from('<html>'), undefined],
    ['a JSON array', json([]), undefined],
  ])('derives the served type of %s from its bytes', (_label, body, expected) => {
    expect(manifestMediaTypeOf(body)).toBe(expected);
  });
});
