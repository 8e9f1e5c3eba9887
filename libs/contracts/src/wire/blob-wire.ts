import { z } from 'zod';
import { boxed, noReply, op, reply, type OpRequest } from './ops';
import { bool, bytes, count, empty, str, time } from './schema';

/**
 * The blob service's operations (ADR 21). BLOB_OPS travel as control messages on
 * `<prefix>.blob.<name>`; appending, a final chunk and reads stream over the blob service's data
 * port (internal-http.ts), whose JSON replies are BLOB_DATA_REPLIES. Every BlobApi method takes the
 * request its operation declares here, as it is on the wire.
 */
const uploadStatus = z.object({
  id: str,
  repository: str,
  /** Bytes received so far. */
  size: count,
  /** Smallest chunk the service would like (OCI-Chunk-Min-Length); 0 when there is none. */
  minChunkLength: count,
});

const blobStat = z.object({ digest: str, size: count });

const blobDeletion = z.object({
  /** False when a recent commit kept the blob; the caller reviews it again later. */
  deleted: bool,
  /** Bytes freed (0 when there was no record). */
  size: count,
  /**
   * False when there was no record (stray bytes, if any, were still removed): the blob was deleted
   * before, e.g. by a pass that raced the walk for unlinked bytes. Absent from older releases.
   */
  recorded: bool.optional(),
});

/** A page of listCommitted: digests, and where the next page starts (`after` again when empty). */
const committedPage = z.object({ digests: z.array(str).max(100_000), next: str.nullable() });

const uploadRef = z.object({ repository: str, id: str });
const blobRef = z.object({ digest: str });

export const BLOB_API_OPS = {
  startUpload: op(z.object({ repository: str }), reply(uploadStatus)),
  getUpload: op(uploadRef, reply(uploadStatus)),
  /** Without a final chunk; with one, the data port. */
  completeUpload: op(uploadRef.extend({ digest: str }), reply(blobStat)),
  cancelUpload: op(uploadRef, noReply),
  statBlob: op(blobRef, boxed('stat', blobStat.nullable())),
  /** A presigned URL is a few hundred bytes: a control message, the bytes never pass. */
  blobUrl: op(blobRef, boxed('url', str.nullable())),
  /** Small content only (the schema1 empty layer); a large one goes over HTTP RPC. */
  putBlob: op(z.object({ digest: str, content: bytes }), reply(blobStat)),
  deleteBlob: op(z.object({ digest: str, notCommittedAfter: time }), reply(blobDeletion)),
  /** `after` is the `next` of the page before (an opaque cursor), null for the first page. */
  listCommitted: op(z.object({ before: time, after: str.nullable(), limit: count }), reply(committedPage)),
};

/**
 * How a gateway may read committed blobs without the data port (ADR 23). `storeId` is the
 * identity of the filesystem store the service writes (the id in its root); a gateway whose
 * WHARF_STORAGE_ROOT holds the same id reads the files itself. `urls`: readUrl hands out URLs.
 */
const directReads = z.object({ storeId: str.nullable(), urls: bool });

export const BLOB_OPS = {
  /** Readiness: the service answers once its database does. */
  ping: op(empty, reply(z.object({ service: str }))),
  ...BLOB_API_OPS,
  directReads: op(empty, reply(directReads)),
  /**
   * A short-lived URL of the blob on the store's internal endpoint (S3), which the gateway fetches
   * itself after its access and link checks; null when the store has none. Never given to clients.
   */
  readUrl: op(blobRef, boxed('url', str.nullable())),
};

/** The JSON replies of the data port's upload routes (PATCH appends, PUT appends and commits). */
export const BLOB_DATA_REPLIES = {
  appendUpload: reply(uploadStatus),
  completeUpload: reply(blobStat),
};

export type BlobApiOps = typeof BLOB_API_OPS;
export type BlobOps = typeof BLOB_OPS;

export type UploadStatus = z.output<typeof uploadStatus>;
export type BlobStat = z.output<typeof blobStat>;
export type BlobDeletion = z.output<typeof blobDeletion>;
export type CommittedPage = z.output<typeof committedPage>;
export type DirectReads = z.output<typeof directReads>;

export type StartUploadRequest = OpRequest<BlobOps['startUpload']>;
/** An upload session of a repository. */
export type UploadRef = OpRequest<BlobOps['getUpload']>;
export type BlobRef = OpRequest<BlobOps['statBlob']>;
export type PutBlobRequest = OpRequest<BlobOps['putBlob']>;
export type DeleteBlobRequest = OpRequest<BlobOps['deleteBlob']>;
export type ListCommittedRequest = OpRequest<BlobOps['listCommitted']>;

/** The data port's replies, written as the RPC ones are (the data controller's answers). */
export const uploadStatusToWire = (s: UploadStatus): unknown => BLOB_DATA_REPLIES.appendUpload.write(s);
export const blobStatToWire = (s: BlobStat): unknown => BLOB_DATA_REPLIES.completeUpload.write(s);
