import {
  CACHE_OPS,
  METADATA_API_OPS,
  bindOps,
  type CacheOps,
  type MetadataApi,
  type MetadataOps,
  type OpHandlers,
} from '@wharf/contracts';

/**
 * The metadata service's side of the wire: each METADATA_OPS operation answered by the MetadataApi
 * method of the same name, the cache holders' by CacheHolders, and `ping` once `ready` resolves.
 */
export function metadataRpcHandlers(
  api: MetadataApi,
  holders: OpHandlers<CacheOps>,
  ready: () => Promise<void>,
): OpHandlers<MetadataOps> {
  const ops = bindOps(METADATA_API_OPS, api);
  return {
    ...ops,
    ...bindOps(CACHE_OPS, holders),
    // A gateway older than the `head` field says HEAD only in its event context (rolling upgrade).
    statBlob: (req) => ops.statBlob({ ...req, head: req.head ?? req.event?.request.method === 'HEAD' }),
    ping: async () => {
      await ready();
      return { service: 'metadata' };
    },
  };
}
