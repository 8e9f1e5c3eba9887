import { WireFormatError } from './check';
import { encodeWire } from './envelope';
import { METADATA_OPS, type MetadataOps } from './metadata-wire';
import type { OpRequest, OpResponse } from './ops';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const MT = 'application/vnd.oci.image.manifest.v1+json';
const BODY = Buffer.from('{"schemaVersion":2}');
const LINK = { digest: DIGEST, size: 5 };
const EVENT = {
  baseUrl: 'https://registry.example',
  request: { id: 'r1', addr: '10.0.0.1:5123', host: 'registry.example', method: 'GET', useragent: 'docker' },
  actor: 'alice',
};
const ANONYMOUS = { baseUrl: EVENT.baseUrl, request: EVENT.request };

/** What JSON carries for a value: the bytes a peer receives, parsed. */
const onWire = (value: unknown): unknown => JSON.parse(encodeWire(value));

type Case<K extends keyof MetadataOps> = {
  requests: [OpRequest<MetadataOps[K]>, unknown][];
  replies: [OpResponse<MetadataOps[K]>, unknown][];
};

// The wire as releases before the op table spoke it: each API value beside its JSON.
const CASES: { [K in keyof MetadataOps]: Case<K> } = {
  ping: { requests: [[{}, {}]], replies: [[{ service: 'metadata' }, { service: 'metadata' }]] },
  renewLease: {
    requests: [
      [
        { holder: 'gw-1', leaseMs: 3000 },
        { holder: 'gw-1', leaseMs: 3000 },
      ],
    ],
    replies: [
      [
        { lost: true, pullEvents: false },
        { lost: true, pullEvents: false },
      ],
      [{ lost: false }, { lost: false }],
    ],
  },
  releaseLease: { requests: [[{ holder: 'gw-1' }, { holder: 'gw-1' }]], replies: [[undefined, {}]] },
  recordPulls: {
    requests: [
      [
        {
          pulls: [
            { repository: 'team/app', digest: DIGEST, size: 5, mediaType: MT, tag: 'v1', event: EVENT },
            { repository: 'team/app', digest: DIGEST, size: 5, event: ANONYMOUS },
          ],
        },
        {
          pulls: [
            { repository: 'team/app', digest: DIGEST, size: 5, mediaType: MT, tag: 'v1', event: EVENT },
            { repository: 'team/app', digest: DIGEST, size: 5, event: ANONYMOUS },
          ],
        },
      ],
    ],
    replies: [[undefined, {}]],
  },
  getManifest: {
    requests: [
      [
        { repository: 'team/app', reference: 'v1', accept: [MT, '*/*'], head: false, event: EVENT },
        { repository: 'team/app', reference: 'v1', accept: [MT, '*/*'], head: false, event: EVENT },
      ],
      [
        { repository: 'team/app', reference: DIGEST, accept: [], head: true },
        { repository: 'team/app', reference: DIGEST, accept: [], head: true },
      ],
    ],
    replies: [
      [
        { digest: DIGEST, mediaType: MT, size: BODY.length, body: BODY },
        { digest: DIGEST, mediaType: MT, size: BODY.length, body: BODY.toString('base64') },
      ],
      [
        { digest: DIGEST, mediaType: MT, size: BODY.length },
        { digest: DIGEST, mediaType: MT, size: BODY.length },
      ],
    ],
  },
  putManifest: {
    requests: [
      [
        { repository: 'team/app', reference: 'v1', contentType: MT, body: BODY, event: ANONYMOUS },
        {
          repository: 'team/app',
          reference: 'v1',
          contentType: MT,
          body: BODY.toString('base64'),
          event: ANONYMOUS,
        },
      ],
      // A pull-through cache's copy of an upstream manifest.
      [
        { repository: 'hub/library/nginx', reference: DIGEST, contentType: MT, body: BODY, proxied: true },
        {
          repository: 'hub/library/nginx',
          reference: DIGEST,
          contentType: MT,
          body: BODY.toString('base64'),
          proxied: true,
        },
      ],
    ],
    replies: [
      [{ digest: DIGEST }, { digest: DIGEST }],
      [
        { digest: DIGEST, subject: DIGEST },
        { digest: DIGEST, subject: DIGEST },
      ],
    ],
  },
  deleteManifest: {
    requests: [
      [
        { repository: 'team/app', reference: 'v1', event: EVENT },
        { repository: 'team/app', reference: 'v1', event: EVENT },
      ],
    ],
    replies: [[undefined, {}]],
  },
  listTags: {
    requests: [
      [{ repository: 'team/app' }, { repository: 'team/app' }],
      [
        { repository: 'team/app', n: 10, last: 'v1' },
        { repository: 'team/app', n: 10, last: 'v1' },
      ],
    ],
    replies: [
      [
        { items: ['v1', 'v2'], more: true },
        { items: ['v1', 'v2'], more: true },
      ],
    ],
  },
  listRepositories: {
    requests: [
      [{}, {}],
      [
        { n: 0, last: 'a' },
        { n: 0, last: 'a' },
      ],
    ],
    replies: [
      [
        { items: [], more: false },
        { items: [], more: false },
      ],
    ],
  },
  listReferrers: {
    requests: [
      [
        { repository: 'team/app', digest: DIGEST },
        { repository: 'team/app', digest: DIGEST },
      ],
      [
        { repository: 'team/app', digest: DIGEST, artifactType: 'application/x.sbom' },
        { repository: 'team/app', digest: DIGEST, artifactType: 'application/x.sbom' },
      ],
    ],
    replies: [
      [[], { manifests: [] }],
      [
        [
          { mediaType: MT, digest: DIGEST, size: 5 },
          {
            mediaType: MT,
            digest: DIGEST,
            size: 5,
            artifactType: 'application/x.sbom',
            annotations: { a: 'b' },
          },
        ],
        {
          manifests: [
            { mediaType: MT, digest: DIGEST, size: 5 },
            {
              mediaType: MT,
              digest: DIGEST,
              size: 5,
              artifactType: 'application/x.sbom',
              annotations: { a: 'b' },
            },
          ],
        },
      ],
    ],
  },
  statBlob: {
    requests: [
      [
        { repository: 'team/app', digest: DIGEST, event: EVENT },
        { repository: 'team/app', digest: DIGEST, event: EVENT },
      ],
      [
        { repository: 'team/app', digest: DIGEST, event: EVENT, head: true },
        { repository: 'team/app', digest: DIGEST, event: EVENT, head: true },
      ],
      [
        { repository: 'team/app', digest: DIGEST },
        { repository: 'team/app', digest: DIGEST },
      ],
    ],
    replies: [
      [LINK, { link: LINK }],
      [null, { link: null }],
    ],
  },
  linkBlob: {
    requests: [
      [
        { repository: 'team/app', digest: DIGEST, size: 5, event: EVENT },
        { repository: 'team/app', digest: DIGEST, size: 5, event: EVENT },
      ],
      [
        { repository: 'hub/library/nginx', digest: DIGEST, size: 5, proxied: true },
        { repository: 'hub/library/nginx', digest: DIGEST, size: 5, proxied: true },
      ],
    ],
    replies: [[undefined, {}]],
  },
  unlinkBlob: {
    requests: [
      [
        { repository: 'team/app', digest: DIGEST, event: EVENT },
        { repository: 'team/app', digest: DIGEST, event: EVENT },
      ],
    ],
    replies: [[undefined, {}]],
  },
  mountBlob: {
    requests: [
      [
        { repository: 'team/app', digest: DIGEST, from: 'team/base', event: EVENT },
        { repository: 'team/app', digest: DIGEST, from: 'team/base', event: EVENT },
      ],
      [
        { repository: 'team/app', digest: DIGEST },
        { repository: 'team/app', digest: DIGEST },
      ],
    ],
    replies: [
      [LINK, { link: LINK }],
      [null, { link: null }],
    ],
  },
  admitUpload: {
    requests: [[{ repository: 'team/app' }, { repository: 'team/app' }]],
    replies: [[undefined, {}]],
  },
  claimFill: {
    requests: [
      [
        { key: `hub/library/nginx@${DIGEST}`, holder: 'gw-1', ttlMs: 30_000 },
        { key: `hub/library/nginx@${DIGEST}`, holder: 'gw-1', ttlMs: 30_000 },
      ],
    ],
    replies: [
      [{ claimed: true }, { claimed: true }],
      [{ claimed: false }, { claimed: false }],
    ],
  },
  releaseFill: {
    requests: [
      [
        { key: `hub/library/nginx@${DIGEST}`, holder: 'gw-1' },
        { key: `hub/library/nginx@${DIGEST}`, holder: 'gw-1' },
      ],
    ],
    replies: [[undefined, {}]],
  },
};

describe('the metadata operations on the wire', () => {
  it.each(Object.keys(CASES) as (keyof MetadataOps)[])('%s keeps its request and reply format', (name) => {
    const op = METADATA_OPS[name] as unknown as {
      request: (v: unknown) => unknown;
      response: (v: unknown) => unknown;
      writeRequest(v: unknown): unknown;
      writeResponse(v: unknown): unknown;
    };
    const { requests, replies } = CASES[name] as Case<keyof MetadataOps>;
    for (const [value, wire] of requests) {
      expect(onWire(op.writeRequest(value))).toEqual(wire);
      expect(op.request(wire)).toEqual(value);
    }
    for (const [value, wire] of replies) {
      expect(onWire(op.writeResponse(value))).toEqual(wire);
      expect(op.response(wire)).toEqual(value);
    }
  });

  it('a statBlob request from a gateway older than `head` reads without one', () => {
    // The service then takes HEAD from the event context (metadata-rpc.ts).
    const old = {
      repository: 'team/app',
      digest: DIGEST,
      event: { ...EVENT, request: { ...EVENT.request, method: 'HEAD' } },
    };
    const read = METADATA_OPS.statBlob.request(old);
    expect(read).toEqual(old);
    expect('head' in read).toBe(false);
  });

  it('a putManifest from a gateway older than `proxied` reads as an ordinary push', () => {
    const old = { repository: 'team/app', reference: 'v1', contentType: MT, body: BODY.toString('base64') };
    const read = METADATA_OPS.putManifest.request(old);
    expect('proxied' in read).toBe(false);
    expect(onWire(METADATA_OPS.putManifest.writeRequest({ ...read, proxied: undefined }))).toEqual(old);
  });

  it('fields an operation does not declare neither leave nor arrive', () => {
    const internal = { digest: DIGEST, mediaType: MT, size: 2, body: undefined, row: { id: 1 } };
    expect(onWire(METADATA_OPS.getManifest.writeResponse(internal as never))).toEqual({
      digest: DIGEST,
      mediaType: MT,
      size: 2,
    });
    expect(
      onWire(
        METADATA_OPS.listReferrers.writeResponse([{ ...LINK, mediaType: MT, repositoryId: 7 } as never]),
      ),
    ).toEqual({ manifests: [{ ...LINK, mediaType: MT }] });
    expect(onWire(METADATA_OPS.statBlob.writeResponse({ ...LINK, repository: 'x' } as never))).toEqual({
      link: LINK,
    });
    expect(METADATA_OPS.statBlob.request({ repository: 'a', digest: DIGEST, traceId: 'x' })).toEqual({
      repository: 'a',
      digest: DIGEST,
    });
    expect(METADATA_OPS.mountBlob.response({ link: { ...LINK, extra: 1 }, more: true })).toEqual(LINK);
    expect(
      METADATA_OPS.getManifest.request({
        repository: 'a',
        reference: 'v1',
        accept: [],
        head: true,
        event: { ...EVENT, extra: 1 },
      }),
    ).toEqual({
      repository: 'a',
      reference: 'v1',
      accept: [],
      head: true,
      event: EVENT,
    });
  });

  it('a malformed value is refused naming the field', () => {
    const refused = (f: () => unknown, field: RegExp) => {
      expect(f).toThrow(WireFormatError);
      expect(f).toThrow(field);
    };
    const accept = Array.from({ length: 1001 }, () => '*/*');
    refused(
      () => METADATA_OPS.getManifest.request({ repository: 'a', reference: 'v1', accept, head: false }),
      /accept/,
    );
    refused(
      () => METADATA_OPS.getManifest.request({ repository: 'a', reference: 'v1', accept: [], head: 'no' }),
      /wire value head is not a boolean/,
    );
    refused(() => METADATA_OPS.listTags.request({ repository: 'a', n: -1 }), /n/);
    refused(() => METADATA_OPS.linkBlob.request({ repository: 'a', digest: DIGEST, size: 1.5 }), /size/);
    refused(
      () => METADATA_OPS.unlinkBlob.request({ repository: 'a', digest: DIGEST, event: { baseUrl: 'x' } }),
      /event\.request/,
    );
    refused(
      () => METADATA_OPS.getManifest.response({ digest: DIGEST, mediaType: MT, size: 1, body: '%%' }),
      /body/,
    );
    refused(
      () =>
        METADATA_OPS.listReferrers.response({
          manifests: [{ mediaType: MT, digest: DIGEST, size: 1, annotations: { a: 1 } }],
        }),
      /manifests\[0\]\.annotations\.a/,
    );
    refused(() => METADATA_OPS.statBlob.response({}), /link/);
    refused(() => METADATA_OPS.claimFill.request({ key: 'k', holder: 'h', ttlMs: -1 }), /ttlMs/);
    refused(() => METADATA_OPS.claimFill.request({ key: 'k', ttlMs: 1 }), /holder/);
    refused(() => METADATA_OPS.claimFill.response({ claimed: 'yes' }), /claimed/);
    refused(
      () =>
        METADATA_OPS.putManifest.request({
          repository: 'a',
          reference: 'v1',
          contentType: MT,
          body: '',
          proxied: 1,
        }),
      /proxied/,
    );
    refused(() => METADATA_OPS.deleteManifest.response(5), /\(root\) is not an object/);
  });
});
