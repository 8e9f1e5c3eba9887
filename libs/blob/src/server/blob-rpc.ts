import { BLOB_API_OPS, bindOps, type BlobApi, type BlobOps, type OpHandlers } from '@wharf/contracts';

/**
 * The blob service's control operations on the wire: each BLOB_OPS operation answered by the
 * BlobApi method of the same name, and `ping` once `ready` resolves. Bytes take the data routes
 * (blob-data.controller.ts).
 */
export function blobRpcHandlers(api: BlobApi, ready: () => Promise<void>): OpHandlers<BlobOps> {
  return {
    ...bindOps(BLOB_API_OPS, api),
    ping: async () => {
      await ready();
      return { service: 'blob' };
    },
  };
}
