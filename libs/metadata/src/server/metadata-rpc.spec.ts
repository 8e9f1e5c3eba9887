import type { Logger } from '@nestjs/common';
import { METADATA_OPS, type EventContext, type MetadataApi, type MetadataOps } from '@wharf/contracts';
import { RemoteMetadataApi, dispatchRpc, type RpcClient } from '@wharf/transport';
import { metadataRpcHandlers } from './metadata-rpc';

/**
 * The gateway's adapter and the metadata service's handlers joined through the wire's own checks
 * (JSON in between, as on NATS): what the gateway asks for is what MetadataApi is called with.
 */
describe('metadata over the wire', () => {
  const calls: { event?: EventContext; options?: { head?: boolean } }[] = [];
  const api = {
    statBlob: async (_repo: string, digest: string, event?: EventContext, options?: { head?: boolean }) => {
      calls.push({ event, options });
      return { digest, size: 3 };
    },
  } as unknown as MetadataApi;
  const handlers = metadataRpcHandlers(api, async () => undefined);
  const log = { debug: () => undefined, warn: () => undefined, error: () => undefined } as unknown as Logger;
  const send = async (name: string, req: unknown) => {
    const reply = await dispatchRpc(METADATA_OPS, handlers, name, JSON.parse(JSON.stringify(req)), log);
    if (!reply.ok) throw new Error(`${name} failed: ${JSON.stringify(reply)}`);
    return reply.value;
  };
  const remote = new RemoteMetadataApi({ call: send } as unknown as RpcClient<MetadataOps>);
  const event = (method: string): EventContext => ({
    baseUrl: 'http://registry',
    request: { id: 'r1', addr: '127.0.0.1:1', host: 'registry', method, useragent: 'test' },
  });
  const digest = `sha256:${'a'.repeat(64)}`;

  beforeEach(() => (calls.length = 0));

  it('a blob HEAD reaches the metadata service as a HEAD, so the collector is held off', async () => {
    await remote.statBlob('team/app', digest, event('HEAD'), { head: true });
    await remote.statBlob('team/app', digest, event('GET'), { head: false });
    await remote.statBlob('team/app', digest);
    expect(calls.map((c) => c.options?.head)).toEqual([true, false, false]);
    expect(calls[0].event?.request.method).toBe('HEAD');
  });

  it('a gateway older than the head field is still understood from its event context', async () => {
    // What such a gateway sent: the event context, no `head`.
    await send('statBlob', { repository: 'team/app', digest, event: event('HEAD') });
    await send('statBlob', { repository: 'team/app', digest, event: event('GET') });
    expect(calls.map((c) => c.options?.head)).toEqual([true, false]);
  });
});
