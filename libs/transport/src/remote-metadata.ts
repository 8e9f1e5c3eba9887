import type { CacheOps, MetadataApi, MetadataOps, OpHandlers } from '@wharf/contracts';
import type { RpcClient } from './rpc-client';

/** MetadataApi over the wire, the readiness ping, and the cache holders' operations (ADR 24). */
export type RemoteMetadataApi = MetadataApi & Pick<OpHandlers<MetadataOps>, 'ping' | keyof CacheOps>;

/**
 * MetadataApi for the gateway: each operation of METADATA_OPS over NATS (derived from the table),
 * or over the metadata service's HTTP RPC route when a message would not fit.
 */
export function remoteMetadataApi(rpc: RpcClient<MetadataOps>): RemoteMetadataApi {
  return rpc.methods();
}
