import type { BlobStat, UploadStatus } from '../blob-api';
import { arr, bool, bytes, count, nullable, obj, opt, str, type Infer } from './check';
import { wireOp } from './ops';

/**
 * Blob operations on the wire (`<prefix>.blob.<name>`). Only control messages: appending, a final
 * chunk and reads stream over the blob service's internal HTTP port (internal-http.ts).
 */
const uploadStatus = obj({ id: str, repository: str, size: count, minChunkLength: count });
const blobStat = obj({ digest: str, size: count });
const empty = obj({});

export const BLOB_OPS = {
  ping: wireOp('ping', empty, obj({ service: str })),
  startUpload: wireOp('startUpload', obj({ repository: str }), uploadStatus),
  getUpload: wireOp('getUpload', obj({ repository: str, id: str }), uploadStatus),
  /** Without a final chunk; with one, the HTTP route. */
  completeUpload: wireOp('completeUpload', obj({ repository: str, id: str, digest: str }), blobStat),
  cancelUpload: wireOp('cancelUpload', obj({ repository: str, id: str }), empty),
  statBlob: wireOp('statBlob', obj({ digest: str }), obj({ stat: nullable(blobStat) })),
  /** A presigned URL is a few hundred bytes: a control message, the bytes never pass. */
  blobUrl: wireOp('blobUrl', obj({ digest: str }), obj({ url: nullable(str) })),
  /** Small content only (the schema1 empty layer); a large one goes over HTTP RPC. */
  putBlob: wireOp('putBlob', obj({ digest: str, content: bytes }), blobStat),
  /** GC: `notCommittedAfter` is an ISO timestamp (see BlobApi.deleteBlob). */
  deleteBlob: wireOp(
    'deleteBlob',
    obj({ digest: str, notCommittedAfter: str }),
    obj({ deleted: bool, size: count, recorded: opt(bool) }),
  ),
  /** GC: `before` is an ISO timestamp, `after` an opaque cursor (see BlobApi.listCommitted). */
  listCommitted: wireOp(
    'listCommitted',
    obj({ before: str, after: nullable(str), limit: count }),
    obj({ digests: arr(str), next: nullable(str) }),
  ),
};

export type BlobOps = typeof BLOB_OPS;
export type UploadStatusWire = Infer<typeof uploadStatus>;

export const uploadStatusCheck = uploadStatus;
export const blobStatCheck = blobStat;

export function uploadStatusToWire(s: UploadStatus): UploadStatusWire {
  return { id: s.id, repository: s.repository, size: s.size, minChunkLength: s.minChunkLength };
}

export function blobStatToWire(s: BlobStat): BlobStat {
  return { digest: s.digest, size: s.size };
}
