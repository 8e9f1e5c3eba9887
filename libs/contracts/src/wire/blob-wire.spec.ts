import { BLOB_DATA_REPLIES, BLOB_OPS, type BlobOps } from './blob-wire';
import { WireFormatError } from './check';
import { encodeWire } from './envelope';
import type { OpRequest, OpResponse } from './ops';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const ID = '00000000-0000-4000-8000-000000000000';
const STATUS = { id: ID, repository: 'team/app', size: 5, minChunkLength: 0 };
const STAT = { digest: DIGEST, size: 5 };
const AT = '2026-01-01T12:00:00.000Z';

/** What JSON carries for a value: the bytes a peer receives, parsed. */
const onWire = (value: unknown): unknown => JSON.parse(encodeWire(value));

type Case<K extends keyof BlobOps> = {
  request: [OpRequest<BlobOps[K]>, unknown];
  replies: [OpResponse<BlobOps[K]>, unknown][];
};

// The wire as releases before the op table spoke it: each API value beside its JSON.
const CASES: { [K in keyof BlobOps]: Case<K> } = {
  ping: { request: [{}, {}], replies: [[{ service: 'blob' }, { service: 'blob' }]] },
  startUpload: {
    request: [{ repository: 'team/app' }, { repository: 'team/app' }],
    replies: [[STATUS, STATUS]],
  },
  getUpload: {
    request: [
      { repository: 'team/app', id: ID },
      { repository: 'team/app', id: ID },
    ],
    replies: [[STATUS, STATUS]],
  },
  completeUpload: {
    request: [
      { repository: 'team/app', id: ID, digest: DIGEST },
      { repository: 'team/app', id: ID, digest: DIGEST },
    ],
    replies: [[STAT, STAT]],
  },
  cancelUpload: {
    request: [
      { repository: 'team/app', id: ID },
      { repository: 'team/app', id: ID },
    ],
    replies: [[undefined, {}]],
  },
  statBlob: {
    request: [{ digest: DIGEST }, { digest: DIGEST }],
    replies: [
      [STAT, { stat: STAT }],
      [null, { stat: null }],
    ],
  },
  blobUrl: {
    request: [{ digest: DIGEST }, { digest: DIGEST }],
    replies: [
      ['https://s3.example/blob?sig=x', { url: 'https://s3.example/blob?sig=x' }],
      [null, { url: null }],
    ],
  },
  putBlob: {
    request: [
      { digest: DIGEST, content: Buffer.from('{}') },
      { digest: DIGEST, content: Buffer.from('{}').toString('base64') },
    ],
    replies: [[STAT, STAT]],
  },
  deleteBlob: {
    request: [
      { digest: DIGEST, notCommittedAfter: new Date(AT) },
      { digest: DIGEST, notCommittedAfter: AT },
    ],
    replies: [
      [
        { deleted: true, size: 5, recorded: true },
        { deleted: true, size: 5, recorded: true },
      ],
      [
        { deleted: false, size: 0 },
        { deleted: false, size: 0 },
      ],
    ],
  },
  directReads: {
    request: [{}, {}],
    replies: [
      [
        { storeId: ID, urls: false },
        { storeId: ID, urls: false },
      ],
      [
        { storeId: null, urls: true },
        { storeId: null, urls: true },
      ],
    ],
  },
  readUrl: {
    request: [{ digest: DIGEST }, { digest: DIGEST }],
    replies: [
      ['http://minio:9000/b/k?X-Amz-Signature=x', { url: 'http://minio:9000/b/k?X-Amz-Signature=x' }],
      [null, { url: null }],
    ],
  },
  listCommitted: {
    request: [
      { before: new Date(AT), after: null, limit: 500 },
      { before: AT, after: null, limit: 500 },
    ],
    replies: [
      [
        { digests: [DIGEST], next: `${AT}|${DIGEST}` },
        { digests: [DIGEST], next: `${AT}|${DIGEST}` },
      ],
    ],
  },
};

describe('the blob operations on the wire', () => {
  it.each(Object.keys(CASES) as (keyof BlobOps)[])('%s keeps its request and reply format', (name) => {
    const op = BLOB_OPS[name] as unknown as {
      request: (v: unknown) => unknown;
      response: (v: unknown) => unknown;
      writeRequest(v: unknown): unknown;
      writeResponse(v: unknown): unknown;
    };
    const { request, replies } = CASES[name] as Case<keyof BlobOps>;
    expect(onWire(op.writeRequest(request[0]))).toEqual(request[1]);
    expect(op.request(request[1])).toEqual(request[0]);
    for (const [value, wire] of replies) {
      expect(onWire(op.writeResponse(value))).toEqual(wire);
      expect(op.response(wire)).toEqual(value);
    }
  });

  it('the data port answers an append with the upload status and a commit with the blob', () => {
    expect(onWire(BLOB_DATA_REPLIES.appendUpload.write(STATUS))).toEqual(STATUS);
    expect(BLOB_DATA_REPLIES.appendUpload.read(STATUS)).toEqual(STATUS);
    expect(onWire(BLOB_DATA_REPLIES.completeUpload.write(STAT))).toEqual(STAT);
    expect(() => BLOB_DATA_REPLIES.completeUpload.read(STATUS)).toThrow(/digest/);
  });

  it('fields an operation does not declare neither leave nor arrive', () => {
    const withChunk = { repository: 'team/app', id: ID, digest: DIGEST, chunk: { length: 1 } };
    expect(onWire(BLOB_OPS.completeUpload.writeRequest(withChunk))).toEqual({
      repository: 'team/app',
      id: ID,
      digest: DIGEST,
    });
    expect(onWire(BLOB_OPS.getUpload.writeResponse({ ...STATUS, handle: 'internal' } as never))).toEqual(
      STATUS,
    );
    expect(BLOB_OPS.statBlob.response({ stat: { ...STAT, extra: 1 }, more: true })).toEqual(STAT);
    expect(
      onWire(BLOB_OPS.deleteBlob.writeResponse({ deleted: true, size: 1, recorded: undefined })),
    ).toEqual({
      deleted: true,
      size: 1,
    });
  });

  it('a malformed value is refused naming the field', () => {
    const refused = (f: () => unknown, field: RegExp) => {
      expect(f).toThrow(WireFormatError);
      expect(f).toThrow(field);
    };
    refused(() => BLOB_OPS.getUpload.request({ repository: 'a', id: 7 }), /wire value id is not a string/);
    refused(
      () => BLOB_OPS.deleteBlob.request({ digest: DIGEST, notCommittedAfter: 'soon' }),
      /notCommittedAfter/,
    );
    refused(() => BLOB_OPS.putBlob.request({ digest: DIGEST, content: '%%' }), /content/);
    refused(() => BLOB_OPS.listCommitted.request({ before: AT, after: null, limit: -1 }), /limit/);
    refused(() => BLOB_OPS.listCommitted.request({ before: AT, after: null, limit: 2 ** 53 }), /limit/);
    refused(() => BLOB_OPS.statBlob.response({ stat: { digest: 1, size: 1 } }), /stat\.digest/);
    refused(() => BLOB_OPS.listCommitted.response({ digests: ['a', 2], next: null }), /digests\[1\]/);
    refused(() => BLOB_OPS.blobUrl.response({}), /url/);
    refused(() => BLOB_OPS.cancelUpload.response(5), /\(root\) is not an object/);
    refused(() => BLOB_OPS.startUpload.request(null), /\(root\) is not an object/);
  });
});
