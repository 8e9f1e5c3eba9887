import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { Client } from 'minio';
import type { BlobDriver, StoredBlob, UploadHandle } from '../driver';
import { assertUploadId } from '../keys';
import { S3_MAX_PARTS, S3_MAX_PART_SIZE, S3_MIN_PART_SIZE } from './part-layout';
import { commitRecordName, isCommitRecordName, S3Layout, uploadObjectName } from './s3-layout';
import { errorCode, isNotFound, mapNotFound, S3Objects, type Source } from './s3-objects';
import { s3Clients, type S3DriverOptions } from './s3-options';
import {
  newUploadState,
  parseUploadHandle,
  partObjectName,
  S3_DRIVER_NAME,
  tailObjectName,
  toUploadHandle,
  uploadSize,
  type UploadState,
} from './upload-state';

const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

interface CommitRecord {
  key: string;
  uploadId: string;
}

/**
 * Blobs in an S3 bucket (MinIO, AWS, anything that speaks the S3 API), through the `minio` client.
 *
 * An upload is a sequence of part objects under `uploads/<id>/`, cut at offsets that part-layout.ts
 * fixes, plus a tail object holding the bytes of the next part received so far. An append holds at
 * most one part in memory: it fills a buffer, writes it as an object and goes on; what is left when
 * the request ends becomes the new tail, so the next append (on any replica) continues from storage.
 * Commit composes the objects into the blob's key server-side (UploadPartCopy, or one CopyObject for
 * a single-object blob) and completes the multipart upload, which makes the blob visible atomically.
 * docs/adr/0007-s3-uploads.md records why the parts are objects and not parts of a multipart upload.
 */
export class S3Driver implements BlobDriver {
  readonly name = S3_DRIVER_NAME;
  /** Each part is uploaded before the next is read: what the caller holds keeps the socket reading meanwhile. */
  readonly readAhead = 1024 * 1024;
  readonly layout: S3Layout;
  readonly partSize: number;
  private readonly client: Client;
  private readonly publicClient: Client;
  private readonly objects: S3Objects;
  private readonly bucket: string;
  private readonly warn: (message: string, error: unknown) => void;

  constructor(options: S3DriverOptions) {
    const partSize = options.partSize ?? S3_MIN_PART_SIZE;
    const min = options.allowSmallParts ? 1 : S3_MIN_PART_SIZE;
    if (!Number.isSafeInteger(partSize) || partSize < min || partSize > S3_MAX_PART_SIZE) {
      throw new RangeError(
        `S3 part size must be an integer from ${options.allowSmallParts ? '1 byte' : '5 MiB'} to 5 GiB: ${partSize}`,
      );
    }
    this.partSize = partSize;
    this.layout = new S3Layout(options.prefix ?? '');
    this.bucket = options.bucket;
    this.warn = options.onWarning ?? (() => undefined);
    const clients = s3Clients(options);
    this.client = clients.client;
    this.publicClient = clients.publicClient;
    this.objects = new S3Objects(this.client, this.bucket, options.useSSL ?? false, this.warn);
  }

  async createUpload(id: string): Promise<UploadHandle> {
    const state = newUploadState(id, this.partSize);
    await this.objects.put(this.layout.uploadMarkerKey(id), Buffer.alloc(0));
    return toUploadHandle(state);
  }

  async appendUpload(
    handle: UploadHandle,
    offset: number,
    data: Readable,
  ): Promise<{ handle: UploadHandle; written: number }> {
    const state = parseUploadHandle(handle);
    assertCount('offset', offset);
    const { layout } = state;
    const size = uploadSize(state);
    if (offset > size) throw new RangeError(`append at offset ${offset} past the ${size} bytes stored`);

    // Objects the previous handle referenced and this one does not: the caller hands us this handle
    // only once it is persisted, so nothing can read them any more.
    const sweep = this.deleteUploadObjects(state.id, state.stale).catch((e: unknown) =>
      this.warn(`could not delete superseded objects of upload ${state.id}`, e),
    );

    // An offset below the stored size is the crash case: the bytes past it were never accepted.
    // Full parts before the offset stay; the bytes of the part it falls in are carried into the
    // rewritten part, and everything after is superseded.
    const first = layout.partAt(offset);
    const carryLength = offset - layout.startOf(first);
    const carry: Source | null =
      carryLength === 0
        ? null
        : first <= state.partTokens.length
          ? {
              key: this.layout.uploadObjectKey(state.id, partObjectName(first, state.partTokens[first - 1])),
              objectSize: layout.sizeOf(first),
              length: carryLength,
            }
          : {
              key: this.layout.uploadObjectKey(state.id, tailObjectName(state)!),
              objectSize: state.tail!.size,
              length: carryLength,
            };
    const superseded = state.partTokens.slice(first - 1).map((t, i) => partObjectName(first + i, t));
    const oldTail = tailObjectName(state);
    if (oldTail) superseded.push(oldTail);

    // Every object this append writes gets a fresh token: a retry never overwrites what an earlier
    // (possibly still running) attempt wrote, and the handle decides which objects count.
    const token = randomBytes(8).toString('hex');
    const partTokens = state.partTokens.slice(0, first - 1);
    let part = first;
    let buffer: Buffer | null = null;
    // The buffer of the part just written, reused while parts keep the same size.
    let spare: Buffer | null = null;
    let filled = 0;
    let written = 0;
    let pendingCarry = carry;

    const openBuffer = async (): Promise<Buffer> => {
      if (buffer) return buffer;
      if (part > S3_MAX_PARTS) throw new RangeError(`upload ${state.id} exceeds ${S3_MAX_PARTS} parts`);
      const partSize = layout.sizeOf(part);
      buffer = spare?.length === partSize ? spare : Buffer.allocUnsafe(partSize);
      spare = null;
      filled = 0;
      if (pendingCarry) {
        filled = await this.objects.readInto(pendingCarry, buffer);
        pendingCarry = null;
      }
      return buffer;
    };

    try {
      for await (const chunk of data) {
        let bytes = asBuffer(chunk);
        if (offset + written + bytes.length > layout.maxUploadSize) {
          throw new RangeError(`upload ${state.id} exceeds the largest object S3 stores`);
        }
        while (bytes.length > 0) {
          const target = await openBuffer();
          const n = Math.min(bytes.length, target.length - filled);
          bytes.copy(target, filled, 0, n);
          filled += n;
          written += n;
          bytes = bytes.subarray(n);
          if (filled === target.length) {
            await this.objects.put(
              this.layout.uploadObjectKey(state.id, partObjectName(part, token)),
              target,
            );
            partTokens.push(token);
            part++;
            spare = target;
            buffer = null;
          }
        }
      }

      if (written === 0 && offset === size) return { handle, written: 0 };

      let tail: UploadState['tail'] = null;
      if (buffer !== null || pendingCarry !== null) {
        const target = await openBuffer();
        if (filled > 0) {
          const key = this.layout.uploadObjectKey(state.id, uploadObjectName('tail', part, token));
          await this.objects.put(key, target.subarray(0, filled));
          tail = { token, size: filled };
        }
      }
      const next: UploadState = { id: state.id, layout, partTokens, tail, stale: superseded };
      return { handle: toUploadHandle(next), written };
    } finally {
      buffer = spare = null;
      await sweep;
    }
  }

  async readUpload(handle: UploadHandle, size: number): Promise<Readable> {
    const state = parseUploadHandle(handle);
    assertCount('size', size);
    const sources = this.sourcesOf(state, size);
    if (sources.length === 0) {
      await this.assertUploadExists(state.id);
      return Readable.from([], { objectMode: false });
    }
    return this.objects.concat(sources);
  }

  async commitUpload(handle: UploadHandle, size: number, digest: string): Promise<void> {
    const key = this.layout.blobKey(digest);
    const state = parseUploadHandle(handle);
    assertCount('size', size);
    // Also what makes a retried commit succeed once the first attempt got the blob in place.
    if (await this.stat(digest)) {
      await this.discardQuietly(state.id);
      return;
    }
    const sources = this.sourcesOf(state, size);
    let record: string | undefined;
    if (sources.length === 0) {
      await this.assertUploadExists(state.id);
      await this.objects.put(key, Buffer.alloc(0));
    } else if (sources.length === 1 && sources[0].length === sources[0].objectSize) {
      await this.objects.copy(key, sources[0]);
    } else {
      record = await this.compose(state.id, key, sources);
    }
    await this.discardQuietly(state.id, record);
  }

  async abortUpload(handle: UploadHandle): Promise<void> {
    const { id } = parseUploadHandle(handle);
    await this.discard(id);
  }

  async putBlob(digest: string, content: Buffer): Promise<void> {
    const key = this.layout.blobKey(digest);
    if (await this.stat(digest)) return;
    await this.objects.put(key, content);
  }

  async stat(digest: string): Promise<StoredBlob | null> {
    const key = this.layout.blobKey(digest);
    try {
      const { size } = await this.client.statObject(this.bucket, key);
      return { size };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async read(digest: string, range?: { start: number; end: number }): Promise<Readable> {
    const key = this.layout.blobKey(digest);
    if (!range) {
      try {
        return await this.client.getObject(this.bucket, key);
      } catch (err) {
        throw mapNotFound(err, `blob ${digest}`);
      }
    }
    assertCount('range start', range.start);
    assertCount('range end', range.end);
    if (range.end < range.start) throw new RangeError(`range end ${range.end} before start ${range.start}`);
    let stream: Readable;
    try {
      stream = await this.client.getPartialObject(this.bucket, key, range.start, range.end - range.start + 1);
    } catch (err) {
      if (errorCode(err) === 'InvalidRange') {
        throw new RangeError(`range ${range.start}-${range.end} outside blob ${digest}`, { cause: err });
      }
      throw mapNotFound(err, `blob ${digest}`);
    }
    // S3 answers a range that runs past the end with the bytes it has; the contract wants a rejection.
    const served = contentRange(stream);
    const exact = served
      ? served.start === range.start && served.end === range.end
      : range.start === 0 &&
        Number((stream as Partial<IncomingMessage>).headers?.['content-length']) === range.end + 1;
    if (!exact) {
      stream.destroy();
      throw new RangeError(
        `range ${range.start}-${range.end} outside the ${served?.total ?? 'stored'} bytes of ${digest}`,
      );
    }
    return stream;
  }

  async delete(digest: string): Promise<void> {
    await this.client.removeObject(this.bucket, this.layout.blobKey(digest));
  }

  /**
   * A URL that fetches the blob straight from the store for `expirySeconds`, signed for the public
   * endpoint. It does not check that the blob exists; the caller already knows it does.
   */
  presignedGetUrl(digest: string, expirySeconds: number): Promise<string> {
    return this.presign(this.publicClient, digest, expirySeconds);
  }

  /** As presignedGetUrl, signed for the endpoint this driver uses (WHARF_S3_ENDPOINT). */
  internalGetUrl(digest: string, expirySeconds: number): Promise<string> {
    return this.presign(this.client, digest, expirySeconds);
  }

  private async presign(client: Client, digest: string, expirySeconds: number): Promise<string> {
    const key = this.layout.blobKey(digest);
    if (!Number.isSafeInteger(expirySeconds) || expirySeconds < 1 || expirySeconds > MAX_PRESIGN_SECONDS) {
      throw new RangeError(`presigned URL expiry must be 1 s to 7 days: ${expirySeconds}`);
    }
    return client.presignedGetObject(this.bucket, key, expirySeconds);
  }

  /** The objects holding the first `size` bytes of an upload, in order. */
  private sourcesOf(state: UploadState, size: number): Source[] {
    const stored = uploadSize(state);
    if (size > stored) throw new RangeError(`${size} bytes requested but upload ${state.id} holds ${stored}`);
    const sources: Source[] = [];
    let remaining = size;
    for (let part = 1; part <= state.partTokens.length && remaining > 0; part++) {
      const objectSize = state.layout.sizeOf(part);
      const key = this.layout.uploadObjectKey(state.id, partObjectName(part, state.partTokens[part - 1]));
      sources.push({ key, objectSize, length: Math.min(objectSize, remaining) });
      remaining -= Math.min(objectSize, remaining);
    }
    const tail = tailObjectName(state);
    if (remaining > 0 && tail) {
      sources.push({
        key: this.layout.uploadObjectKey(state.id, tail),
        objectSize: state.tail!.size,
        length: remaining,
      });
    }
    return sources;
  }

  /**
   * The blob assembled server-side from the upload's objects. The multipart upload's id is recorded
   * under the upload before any part is copied: a process killed mid-way leaves a multipart upload
   * holding a copy of every byte, which the next commit or abort then aborts. Resolves with the
   * record's key.
   */
  private async compose(id: string, key: string, sources: Source[]): Promise<string> {
    const record = this.layout.uploadObjectKey(id, commitRecordName(randomBytes(8).toString('hex')));
    await this.objects.compose(key, sources, (uploadId) =>
      this.objects.put(record, Buffer.from(JSON.stringify({ key, uploadId } satisfies CommitRecord))),
    );
    return record;
  }

  private async assertUploadExists(id: string): Promise<void> {
    try {
      await this.client.statObject(this.bucket, this.layout.uploadMarkerKey(id));
    } catch (err) {
      throw mapNotFound(err, `upload ${id}`);
    }
  }

  private async deleteUploadObjects(id: string, names: readonly string[]): Promise<void> {
    if (names.length === 0) return;
    await this.objects.removeKeys(names.map((name) => this.layout.uploadObjectKey(id, name)));
  }

  /**
   * Deletes everything under the upload's prefix, the marker first so that the upload is gone at
   * once. Listing, rather than trusting the handle, also catches objects of appends that crashed,
   * and the records of commits that crashed, whose multipart uploads are aborted first.
   * `completed` names the record of a multipart upload that completed: nothing to abort there.
   */
  private async discard(id: string, completed?: string): Promise<void> {
    assertUploadId(id);
    await this.client.removeObject(this.bucket, this.layout.uploadMarkerKey(id));
    const prefix = this.layout.uploadPrefix(id);
    const keys: string[] = [];
    // No delimiter: a recursive listing is the one every S3 implementation gets right.
    for await (const item of this.client.listObjectsV2(this.bucket, prefix, true)) {
      if (item.name?.startsWith(prefix)) keys.push(item.name);
    }
    for (const key of keys) {
      if (key !== completed && isCommitRecordName(key.slice(prefix.length))) await this.abortRecorded(key);
    }
    await this.objects.removeKeys(keys);
  }

  private async abortRecorded(recordKey: string): Promise<void> {
    let record: Partial<CommitRecord> | null;
    try {
      const body = await this.objects.getText(recordKey);
      record = JSON.parse(body) as Partial<CommitRecord> | null;
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    // The record comes from the bucket: it may only ever name a multipart upload at a blob key.
    const blobs = `${this.layout.prefix}blobs/`;
    if (
      typeof record?.key !== 'string' ||
      !record.key.startsWith(blobs) ||
      typeof record.uploadId !== 'string'
    ) {
      throw new Error(`malformed commit record ${recordKey}`);
    }
    try {
      await this.client.abortMultipartUpload(this.bucket, record.key, record.uploadId);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** After a commit the blob is in place: leftover upload objects are garbage, not a failure. */
  private async discardQuietly(id: string, completed?: string): Promise<void> {
    await this.discard(id, completed).catch((e: unknown) =>
      this.warn(`could not delete the objects of upload ${id}`, e),
    );
  }
}

function asBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === 'string') return Buffer.from(chunk);
  throw new TypeError('upload data must be bytes');
}

function contentRange(stream: Readable): { start: number; end: number; total: number } | null {
  const header = (stream as Partial<IncomingMessage>).headers?.['content-range'];
  const match = typeof header === 'string' ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header) : null;
  return match ? { start: Number(match[1]), end: Number(match[2]), total: Number(match[3]) } : null;
}

function assertCount(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what} must be a non-negative integer: ${n}`);
}
