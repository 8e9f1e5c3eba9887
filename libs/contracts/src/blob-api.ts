import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { OpRequest } from './wire/ops';
import type {
  BlobDeletion,
  BlobOps,
  BlobRef,
  BlobStat,
  CommittedPage,
  DeleteBlobRequest,
  ListCommittedRequest,
  PutBlobRequest,
  StartUploadRequest,
  UploadRef,
  UploadStatus,
} from './wire/blob-wire';

/**
 * What the gateway and the metadata service may ask of the blob service. Bytes travel as streams:
 * in-process in the all-in-one shape, over the blob service's internal HTTP port when distributed.
 */
export const BLOB_API = Symbol('BLOB_API');

/** An inclusive byte range, as in `Content-Range: <start>-<end>`. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface ChunkRequest {
  body: Readable;
  /** From `Content-Range`, when the client sent one; must start at the current size. */
  range?: ByteRange;
  /** From `Content-Length`, when the client sent one. */
  length?: number;
}

/**
 * An optional fast path on a stream that openBlob answers: copies the rest of the bytes into `dest`
 * through a few buffers reused for the whole stream, then ends `dest`. Streaming a GiB through
 * fresh buffers costs Node a full garbage collection every few dozen MiB (external memory); this
 * costs none. The stream is consumed (and released) either way; rejects when `dest` fails.
 */
export const WRITE_TO = Symbol.for('wharf.blob.writeTo');
export interface WritesTo {
  [WRITE_TO](dest: Writable): Promise<void>;
}

/**
 * Copies a stream openBlob answered into `dest`, then ends it: through WRITE_TO where the stream
 * has it, piped otherwise. Rejects when either side fails; the caller destroys what is left.
 */
export function copyBlob(stream: Readable, dest: Writable): Promise<void> {
  const direct = (stream as Readable & Partial<WritesTo>)[WRITE_TO];
  return direct ? direct.call(stream, dest) : pipeline(stream, dest);
}

export interface AppendUploadRequest extends UploadRef {
  chunk: ChunkRequest;
}

export type CompleteUploadRequest = OpRequest<BlobOps['completeUpload']> & {
  /** The final chunk, streamed over the data port; without one, a control message. */
  chunk?: ChunkRequest;
};

export interface OpenBlobRequest extends BlobRef {
  /**
   * The inclusive range to read, already clamped to the blob's size by the caller (who knows the
   * size from the repository link); the whole blob without one.
   */
  range?: ByteRange;
}

/**
 * One method per operation, each taking its request as one object: the request of its operation
 * in BLOB_OPS (blob-wire.ts), plus the stream where bytes travel over the data port.
 */
export interface BlobApi {
  startUpload(req: StartUploadRequest): Promise<UploadStatus>;
  /** Raises BLOB_UPLOAD_UNKNOWN for an unknown, finished, cancelled or expired session. */
  getUpload(req: UploadRef): Promise<UploadStatus>;
  /** Raises RANGE_INVALID when the chunk does not continue the upload. */
  appendUpload(req: AppendUploadRequest): Promise<UploadStatus>;
  /**
   * Appends the optional final chunk, verifies `digest` and makes the blob visible atomically.
   * DIGEST_INVALID on a mismatch (the session is then gone and nothing is stored).
   */
  completeUpload(req: CompleteUploadRequest): Promise<BlobStat>;
  cancelUpload(req: UploadRef): Promise<void>;
  statBlob(req: BlobRef): Promise<BlobStat | null>;
  /** Streams a blob, or a range of it. BLOB_UNKNOWN when the bytes are absent. */
  openBlob(req: OpenBlobRequest): Promise<Readable>;
  /**
   * Where a client may fetch the blob straight from storage (a presigned S3 URL) instead of through
   * the registry; null when the blob service serves reads itself (redirects off, or a store clients
   * cannot reach). The caller checks access first: the URL grants the bytes to whoever holds it.
   */
  blobUrl(req: BlobRef): Promise<string | null>;
  /** Stores small, known content directly (e.g. the schema1 empty layer). */
  putBlob(req: PutBlobRequest): Promise<BlobStat>;
  /**
   * GC: deletes a blob's record and bytes, unless its bytes were (re-)committed after
   * `notCommittedAfter` (an upload that raced the collector keeps them). Idempotent.
   */
  deleteBlob(req: DeleteBlobRequest): Promise<BlobDeletion>;
  /**
   * GC: the blobs whose bytes were last committed before `before`, in commit order, `limit` at a
   * time, from where the page before ended (`after`, its opaque `next`). The collector checks each
   * for links, so bytes whose link never came (a gateway gone between commit and link) are
   * reviewed like any other unreferenced blob instead of staying forever.
   */
  listCommitted(req: ListCommittedRequest): Promise<CommittedPage>;
}
