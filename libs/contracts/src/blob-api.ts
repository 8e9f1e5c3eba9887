import type { Readable, Writable } from 'node:stream';

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

export interface UploadStatus {
  id: string;
  repository: string;
  /** Bytes received so far. */
  size: number;
  /** Smallest chunk the service would like (OCI-Chunk-Min-Length); 0 when there is none. */
  minChunkLength: number;
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

export interface BlobStat {
  digest: string;
  size: number;
}

export interface BlobApi {
  startUpload(repository: string): Promise<UploadStatus>;
  /** Raises BLOB_UPLOAD_UNKNOWN for an unknown, finished, cancelled or expired session. */
  getUpload(repository: string, id: string): Promise<UploadStatus>;
  /** Raises RANGE_INVALID when the chunk does not continue the upload. */
  appendUpload(repository: string, id: string, chunk: ChunkRequest): Promise<UploadStatus>;
  /**
   * Appends the optional final chunk, verifies `digest` and makes the blob visible atomically.
   * DIGEST_INVALID on a mismatch (the session is then gone and nothing is stored).
   */
  completeUpload(repository: string, id: string, digest: string, chunk?: ChunkRequest): Promise<BlobStat>;
  cancelUpload(repository: string, id: string): Promise<void>;
  statBlob(digest: string): Promise<BlobStat | null>;
  /**
   * Streams a blob, or the inclusive `range` of it (already clamped to the blob's size by the
   * caller, who knows the size from the repository link). BLOB_UNKNOWN when the bytes are absent.
   */
  openBlob(digest: string, range?: ByteRange): Promise<Readable>;
  /**
   * Where a client may fetch the blob straight from storage (a presigned S3 URL) instead of through
   * the registry; null when the blob service serves reads itself (redirects off, or a store clients
   * cannot reach). The caller checks access first: the URL grants the bytes to whoever holds it.
   */
  blobUrl(digest: string): Promise<string | null>;
  /** Stores small, known content directly (e.g. the schema1 empty layer). */
  putBlob(digest: string, content: Buffer): Promise<BlobStat>;
  /**
   * GC: deletes a blob's record and bytes, unless its bytes were (re-)committed after
   * `notCommittedAfter` (an upload that raced the collector keeps them). Idempotent.
   */
  deleteBlob(digest: string, notCommittedAfter: Date): Promise<BlobDeletion>;
  /**
   * GC: the blobs whose bytes were last committed before `before`, in commit order, `limit` at a
   * time, from where the page before ended (`after`, its opaque `next`). The collector checks each
   * for links, so bytes whose link never came (a gateway gone between commit and link) are
   * reviewed like any other unreferenced blob instead of staying forever.
   */
  listCommitted(before: Date, after: string | null, limit: number): Promise<CommittedPage>;
}

/** A page of listCommitted: digests, and where the next page starts (`after` again when empty). */
export interface CommittedPage {
  digests: string[];
  next: string | null;
}

export interface BlobDeletion {
  /** False when a recent commit kept the blob; the caller reviews it again later. */
  deleted: boolean;
  /**
   * False when there was no record (stray bytes, if any, were still removed): the blob was deleted
   * before, e.g. by a pass that raced the walk for unlinked bytes. Absent from older releases.
   */
  recorded?: boolean;
  /** Bytes freed (0 when there was no record). */
  size: number;
}
