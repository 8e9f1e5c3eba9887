import type { Readable } from 'node:stream';

/**
 * Driver-specific, JSON-serialisable state of an upload in progress (file path, multipart upload
 * id and parts, ...). The blob service persists it in Postgres so that any replica can continue.
 */
export type UploadHandle = { readonly driver: string } & Record<string, unknown>;

export interface StoredBlob {
  size: number;
}

/**
 * The storage port. Blobs are content addressed (`sha256:<hex>`), written once through an upload
 * and then immutable. Every driver must pass `runBlobDriverSuite` (libs/storage/src/testing).
 *
 * Drivers do not verify digests: the blob service does, before it commits. They do validate every
 * digest, id and handle before it reaches a path or key, rejecting with `InvalidStorageKeyError`.
 * Every stream in or out is consumed with backpressure; no method holds a whole blob in memory.
 */
export interface BlobDriver {
  readonly name: string;
  /**
   * Bytes of a request body the caller should hold ahead of `appendUpload` (in its hashing step),
   * beyond what the driver buffers itself: enough to keep the socket reading while the driver is
   * busy. Every byte held counts against V8's external-memory step once many uploads are in
   * flight, so a driver that buffers its own writes asks for little. Unset: 1 MiB.
   */
  readonly readAhead?: number;

  /** Opens a new, empty upload. `id` is unique (a UUID). */
  createUpload(id: string): Promise<UploadHandle>;
  /**
   * Writes `data` at `offset`, which is the number of bytes accepted so far. Bytes a crashed
   * earlier append may have left past `offset` must be overwritten/ignored, never kept. Resolves
   * with the (possibly updated) handle and the number of bytes written once a process crash can no
   * longer lose them; a machine crash may (ADR 13), which later calls must detect and refuse with a
   * RangeError rather than append past or commit a hole. Rejects (and nothing past `offset` counts
   * as accepted) when `data` errors.
   */
  appendUpload(
    handle: UploadHandle,
    offset: number,
    data: Readable,
  ): Promise<{ handle: UploadHandle; written: number }>;
  /**
   * Reads the first `size` bytes of an upload (used to re-hash when no hash state survived).
   * Fails when the upload is gone (committed or aborted).
   */
  readUpload(handle: UploadHandle, size: number): Promise<Readable>;
  /**
   * Makes the first `size` bytes of the upload the content of `digest`, atomically: a reader sees
   * either no blob or the whole blob. If the blob already exists, the upload is discarded and the
   * existing blob kept. The handle is unusable afterwards. Concurrent commits of the same digest
   * all succeed and leave one blob.
   */
  commitUpload(handle: UploadHandle, size: number, digest: string): Promise<void>;
  /** Discards an upload and its bytes. Idempotent. */
  abortUpload(handle: UploadHandle): Promise<void>;

  /** Stores known, small content directly (idempotent). */
  putBlob(digest: string, content: Buffer): Promise<void>;
  stat(digest: string): Promise<StoredBlob | null>;
  /**
   * Reads a blob, or the inclusive range [start, end] of it (0 <= start <= end < size; the caller
   * checks a client's Range against `stat` first). Rejects with `code === 'ENOENT'` when the blob
   * is absent, and rejects a range outside the blob.
   */
  read(digest: string, range?: { start: number; end: number }): Promise<Readable>;
  /** Removes a blob. Idempotent; readers that already hold a stream may finish it. */
  delete(digest: string): Promise<void>;
  /**
   * Only drivers whose store clients can reach themselves (S3): a URL that fetches the blob without
   * credentials for `expirySeconds`, Range requests included. Local computation, no round trip.
   */
  presignedGetUrl?(digest: string, expirySeconds: number): Promise<string>;
  /**
   * Only drivers whose store other processes may fetch from (S3): like presignedGetUrl, but signed
   * for the endpoint the driver itself uses, for the registry's own processes (ADR 23).
   */
  internalGetUrl?(digest: string, expirySeconds: number): Promise<string>;
  /**
   * Only drivers whose store other processes may mount (filesystem): the store's identity, created
   * on the first call, so that a reader can tell it mounts this very store (ADR 23).
   */
  storeId?(): Promise<string>;
}
