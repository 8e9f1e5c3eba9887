import type { Logger } from '@nestjs/common';
import {
  METADATA_API_OPS,
  METADATA_OPS,
  encodeWire,
  type BlobStatRequest,
  type EventContext,
  type MetadataApi,
  type MetadataOps,
} from '@wharf/contracts';
import { RegistryError } from '@wharf/oci';
import { dispatchRpc, remoteMetadataApi, type RpcClient } from '@wharf/transport';
import { metadataRpcHandlers } from './metadata-rpc';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const log = { debug: () => undefined, warn: () => undefined, error: () => undefined } as unknown as Logger;

const event = (method: string): EventContext => ({
  baseUrl: 'http://registry',
  request: { id: 'r1', addr: '127.0.0.1:1', host: 'registry', method, useragent: 'test' },
});

/** A MetadataApi that records each request and answers `answers[name]`. */
function recordingApi(answers: Partial<Record<keyof MetadataApi, unknown>>) {
  const calls: [string, unknown][] = [];
  const api = Object.fromEntries(
    Object.keys(METADATA_API_OPS).map((name) => [
      name,
      async (req: unknown) => {
        calls.push([name, req]);
        const answer = answers[name as keyof MetadataApi];
        if (answer instanceof Error) throw answer;
        return answer;
      },
    ]),
  ) as unknown as MetadataApi;
  return { api, calls };
}

/**
 * The gateway's adapter and the metadata service's handlers joined through the wire's own checks
 * (JSON in between, as on NATS): what the gateway asks for is what MetadataApi is called with.
 */
function overTheWire(api: MetadataApi) {
  const holders = {
    renewLease: async () => ({ lost: false, pullEvents: true }),
    releaseLease: async () => undefined,
    recordPulls: async () => undefined,
  };
  const handlers = metadataRpcHandlers(api, holders, async () => undefined);
  const sent: [string, unknown][] = [];
  const send = async (name: keyof MetadataOps, req: unknown) => {
    const data = JSON.parse(encodeWire(METADATA_OPS[name].writeRequest(req as never))) as unknown;
    sent.push([name, data]);
    const reply = await dispatchRpc(METADATA_OPS, handlers, name, data, log);
    if (!reply.ok) throw 'error' in reply ? RegistryError.fromJSON(reply.error) : new Error('oversized');
    return METADATA_OPS[name].response(JSON.parse(encodeWire(reply.value)));
  };
  const rpc = { methods: () => methodsOf(send) } as unknown as RpcClient<MetadataOps>;
  return { remote: remoteMetadataApi(rpc), send, sent };
}

function methodsOf(send: (name: keyof MetadataOps, req: unknown) => Promise<unknown>) {
  return Object.fromEntries(
    (Object.keys(METADATA_OPS) as (keyof MetadataOps)[]).map((name) => [
      name,
      (req: unknown) => send(name, req),
    ]),
  );
}

describe('metadata over the wire', () => {
  it("every operation reaches the service's MetadataApi with the caller's request and answers its value", async () => {
    const manifest = { digest: DIGEST, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 2 };
    const referrer = { ...manifest, artifactType: 'application/x.sbom', annotations: { a: 'b' } };
    const answers = {
      getManifest: { ...manifest, body: Buffer.from('{}') },
      putManifest: { digest: DIGEST, subject: DIGEST },
      deleteManifest: undefined,
      listTags: { items: ['v1'], more: true },
      listRepositories: { items: ['team/app'], more: false },
      listReferrers: [referrer],
      statBlob: { digest: DIGEST, size: 3 },
      linkBlob: undefined,
      unlinkBlob: undefined,
      mountBlob: null,
      admitUpload: undefined,
      claimFill: { claimed: true },
      releaseFill: undefined,
    };
    const { api, calls } = recordingApi(answers);
    const { remote } = overTheWire(api);
    const repository = 'team/app';
    const requests: [keyof typeof answers, object][] = [
      ['getManifest', { repository, reference: 'v1', accept: ['*/*'], head: false, event: event('GET') }],
      ['putManifest', { repository, reference: 'v1', contentType: 'x', body: Buffer.from('{}') }],
      [
        'putManifest',
        { repository, reference: 'v1', contentType: 'x', body: Buffer.from('{}'), proxied: true },
      ],
      ['deleteManifest', { repository, reference: DIGEST, event: event('DELETE') }],
      ['listTags', { repository, n: 1 }],
      ['listRepositories', { last: 'a' }],
      ['listReferrers', { repository, digest: DIGEST, artifactType: 'application/x.sbom' }],
      ['statBlob', { repository, digest: DIGEST, head: true }],
      ['linkBlob', { repository, digest: DIGEST, size: 3, event: event('PUT') }],
      ['unlinkBlob', { repository, digest: DIGEST }],
      ['mountBlob', { repository, digest: DIGEST, from: 'team/base' }],
      ['mountBlob', { repository, digest: DIGEST, proxied: true }],
      ['admitUpload', { repository }],
      ['claimFill', { key: `hub/library/nginx@${DIGEST}`, holder: 'gw-1', ttlMs: 30_000 }],
      ['releaseFill', { key: `hub/library/nginx@${DIGEST}`, holder: 'gw-1' }],
    ];
    for (const [name, req] of requests) {
      const answer = await (remote[name] as (r: object) => Promise<unknown>)(req);
      expect(answer).toEqual(answers[name]);
      expect(calls.pop()).toEqual([name, req]);
    }
    expect(await remote.ping({})).toEqual({ service: 'metadata' });
  });

  it('a RegistryError the service raises reaches the caller with its code and status', async () => {
    const { api } = recordingApi({
      unlinkBlob: new RegistryError('BLOB_UNKNOWN', undefined, { digest: DIGEST }),
    });
    const err = await overTheWire(api)
      .remote.unlinkBlob({ repository: 'team/app', digest: DIGEST })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BLOB_UNKNOWN', status: 404 });
  });

  it('a blob HEAD reaches the metadata service as a HEAD, so the collector is held off', async () => {
    const { api, calls } = recordingApi({ statBlob: null });
    const { remote } = overTheWire(api);
    await remote.statBlob({ repository: 'team/app', digest: DIGEST, event: event('HEAD'), head: true });
    await remote.statBlob({ repository: 'team/app', digest: DIGEST, event: event('GET') });
    await remote.statBlob({ repository: 'team/app', digest: DIGEST });
    expect(calls.map(([, req]) => (req as BlobStatRequest).head)).toEqual([true, false, false]);
  });

  it('a gateway older than the head field is still understood from its event context', async () => {
    const { api, calls } = recordingApi({ statBlob: null });
    const { send } = overTheWire(api);
    // What such a gateway sent: the event context, no `head`.
    await send('statBlob', { repository: 'team/app', digest: DIGEST, event: event('HEAD') });
    await send('statBlob', { repository: 'team/app', digest: DIGEST, event: event('GET') });
    expect(calls.map(([, req]) => (req as BlobStatRequest).head)).toEqual([true, false]);
  });
});
