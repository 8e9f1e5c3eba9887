import { BLOB_API_OPS, bindOps, type BlobApi, type BlobOps, type OpHandlers } from '@wharf/contracts';
import type { DirectReadGrants } from './direct-reads';

/**
 * The blob service's control operations on the wire: each BLOB_OPS operation answered by the
 * BlobApi method of the same name, `ping` once `ready` resolves, and what lets gateways read
 * without the data port (direct-reads.ts). Bytes take the data routes (blob-data.controller.ts).
 */
export function blobRpcHandlers(
  api: BlobApi,
  ready: () => Promise<void>,
  grants: Pick<DirectReadGrants, 'directReads' | 'readUrl'>,
): OpHandlers<BlobOps> {
  return {
    ...bindOps(BLOB_API_OPS, api),
    directReads: () => grants.directReads(),
    readUrl: (req) => grants.readUrl(req),
    ping: async () => {
      await ready();
      return { service: 'blob' };
    },
  };
}
