import {
  blobStatToWire,
  uploadStatusToWire,
  type BlobApi,
  type BlobOps,
  type OpHandlers,
} from '@wharf/contracts';
import { RegistryError } from '@wharf/oci';

/** The blob service's control operations on the wire; bytes take the data routes (blob-data.controller.ts). */
export function blobRpcHandlers(api: BlobApi, ping: () => Promise<void>): OpHandlers<BlobOps> {
  return {
    ping: async () => {
      await ping();
      return { service: 'blob' };
    },
    startUpload: async (req) => uploadStatusToWire(await api.startUpload(req.repository)),
    getUpload: async (req) => uploadStatusToWire(await api.getUpload(req.repository, req.id)),
    completeUpload: async (req) =>
      blobStatToWire(await api.completeUpload(req.repository, req.id, req.digest)),
    cancelUpload: async (req) => {
      await api.cancelUpload(req.repository, req.id);
      return {};
    },
    statBlob: async (req) => {
      const stat = await api.statBlob(req.digest);
      return { stat: stat && blobStatToWire(stat) };
    },
    blobUrl: async (req) => ({ url: await api.blobUrl(req.digest) }),
    putBlob: async (req) => blobStatToWire(await api.putBlob(req.digest, req.content)),
    deleteBlob: async (req) => {
      const when = new Date(req.notCommittedAfter);
      if (Number.isNaN(when.getTime())) throw new RegistryError('UNKNOWN', 'notCommittedAfter is not a time');
      return api.deleteBlob(req.digest, when);
    },
    listCommitted: async (req) => {
      const before = new Date(req.before);
      if (Number.isNaN(before.getTime())) throw new RegistryError('UNKNOWN', 'before is not a time');
      return api.listCommitted(before, req.after, req.limit);
    },
  };
}
