import { Readable } from 'node:stream';
import type { Logger } from '@nestjs/common';
import type { NatsConnection } from 'nats';
import { BLOB_API_OPS, BLOB_OPS, bindOps, type BlobApi, type OpHandlers } from '@wharf/contracts';
import { RegistryError } from '@wharf/oci';
import { remoteBlobApi } from './remote-blob';
import { RpcClient } from './rpc-client';
import { dispatchRpc } from './rpc-dispatch';
import type { Upstreams } from './upstreams';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const ID = '00000000-0000-4000-8000-000000000000';
const STATUS = { id: ID, repository: 'team/app', size: 0, minChunkLength: 0 };
const STAT = { digest: DIGEST, size: 2 };
const log = { debug: () => undefined, warn: () => undefined, error: () => undefined } as unknown as Logger;

/** NATS as far as the client sees it: each packet served by the blob service's handlers. */
function natsServing(handlers: OpHandlers<typeof BLOB_OPS>) {
  const subjects: string[] = [];
  const nats = {
    request: async (subject: string, data: Uint8Array) => {
      subjects.push(subject);
      const packet = JSON.parse(Buffer.from(data).toString('utf8')) as { data: unknown };
      const op = subject.split('.').pop()!;
      const response = await dispatchRpc(BLOB_OPS, handlers, op, packet.data, log, 'blob');
      // The bytes a NATS message would carry, as Nest's transport wraps them.
      return { data: Buffer.from(JSON.stringify({ response })) };
    },
  } as unknown as NatsConnection;
  return { nats, subjects };
}

/** A BlobApi that records each request and answers `answers[name]`. */
function recordingApi(answers: Partial<Record<keyof BlobApi, unknown>>) {
  const calls: [string, unknown][] = [];
  const api = Object.fromEntries(
    Object.keys(BLOB_API_OPS).map((name) => [
      name,
      async (req: unknown) => {
        calls.push([name, req]);
        const answer = answers[name as keyof BlobApi];
        if (answer instanceof Error) throw answer;
        return answer;
      },
    ]),
  ) as unknown as BlobApi;
  return { api, calls };
}

function clientFor(api: BlobApi, http = {} as Upstreams) {
  const handlers = {
    ...bindOps(BLOB_API_OPS, api),
    ping: async () => ({ service: 'blob' }),
    directReads: async () => ({ storeId: null, urls: false }),
    readUrl: async () => null,
  };
  const { nats, subjects } = natsServing(handlers);
  const rpc = new RpcClient(nats, 'blob', 'spec', BLOB_OPS, http, 5000);
  return { remote: remoteBlobApi(rpc, http), subjects };
}

describe('the remote blob client and the blob service, both derived from BLOB_OPS', () => {
  it("every control operation reaches the service's BlobApi with the caller's request and answers its value", async () => {
    const answers = {
      startUpload: STATUS,
      getUpload: STATUS,
      completeUpload: STAT,
      cancelUpload: undefined,
      statBlob: null,
      blobUrl: 'https://s3.example/blob?sig=x',
      putBlob: STAT,
      deleteBlob: { deleted: true, size: 2, recorded: true },
      listCommitted: { digests: [DIGEST], next: 'cursor' },
    };
    const { api, calls } = recordingApi(answers);
    const { remote, subjects } = clientFor(api);
    const requests: [keyof typeof answers, object][] = [
      ['startUpload', { repository: 'team/app' }],
      ['getUpload', { repository: 'team/app', id: ID }],
      ['completeUpload', { repository: 'team/app', id: ID, digest: DIGEST }],
      ['cancelUpload', { repository: 'team/app', id: ID }],
      ['statBlob', { digest: DIGEST }],
      ['blobUrl', { digest: DIGEST }],
      ['putBlob', { digest: DIGEST, content: Buffer.from('{}') }],
      ['deleteBlob', { digest: DIGEST, notCommittedAfter: new Date('2026-01-01T12:00:00.123Z') }],
      ['listCommitted', { before: new Date('2026-01-01T12:00:00Z'), after: null, limit: 500 }],
    ];
    for (const [name, req] of requests) {
      const answer = await (remote[name] as (r: object) => Promise<unknown>)(req);
      expect(answer).toEqual(answers[name]);
      expect(calls.pop()).toEqual([name, req]);
    }
    expect(subjects).toEqual(requests.map(([name]) => `spec.blob.${name}`));
    expect(await remote.ping({})).toEqual({ service: 'blob' });
  });

  it('a RegistryError the service raises reaches the caller with its code and status', async () => {
    const { api } = recordingApi({
      getUpload: new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { id: ID }),
    });
    const err = await clientFor(api)
      .remote.getUpload({ repository: 'team/app', id: ID })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err).toMatchObject({ code: 'BLOB_UPLOAD_UNKNOWN', status: 404 });
  });

  it('a commit with a final chunk streams it over the data port, not NATS', async () => {
    const sent: { method: string; path: string; headers: Record<string, string> }[] = [];
    const http = {
      request: async (opts: { method: string; path: string; headers: Record<string, string> }) => {
        sent.push(opts);
        return { statusCode: 200, body: { text: async () => JSON.stringify({ ok: true, value: STAT }) } };
      },
    } as unknown as Upstreams;
    const { api, calls } = recordingApi({});
    const { remote, subjects } = clientFor(api, http);
    const chunk = { body: Readable.from([Buffer.from('{}')]), length: 2 };
    expect(await remote.completeUpload({ repository: 'team/app', id: ID, digest: DIGEST, chunk })).toEqual(
      STAT,
    );
    expect(subjects).toEqual([]);
    expect(calls).toEqual([]);
    expect(sent.map(({ method, path, headers }) => [method, path, headers['x-wharf-chunk-length']])).toEqual([
      ['PUT', `/internal/blob/uploads/${ID}?repository=team%2Fapp&digest=${encodeURIComponent(DIGEST)}`, '2'],
    ]);
  });
});
