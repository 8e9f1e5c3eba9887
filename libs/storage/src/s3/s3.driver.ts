import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { Client } from 'minio';
import type { BlobDriver, StoredBlob, UploadHandle } from '../driver';
import { assertUploadId } from '../keys';
import { S3_MAX_PARTS, S3_MAX_PART_SIZE, S3_MIN_PART_SIZE } from './part-layout';
import { commitRecordName, isCommitRecordName, S3Layout, uploadObjectName } from './s3-layout';
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

export interface S3Endpoint {
  endPoint: string;
  /** Defaults to 443 with TLS, 80 without. */
  port?: number;
  useSSL?: boolean;
}

export interface S3DriverOptions extends S3Endpoint {
  /** Signing region. Always set, so that no request asks the bucket for its location. */
  region?: string;
  accessKey: string;
  secretKey: string;
  bucket: string;
  /** Path-style URLs (`host/bucket/key`, what MinIO expects) unless false. */
  pathStyle?: boolean;
  /** Key prefix for everything the driver stores (`wharf/`); empty by default. */
  prefix?: string;
  /** Base part size, default 5 MiB; parts grow from it (part-layout.ts). At least 5 MiB, as S3 requires. */
  partSize?: number;
  /** Accepts a part size below S3's 5 MiB minimum: for tests against a server that allows it. */
  allowSmallParts?: boolean;
  /** Where clients reach the store, for presigned URLs; defaults to the endpoint above. */
  publicEndpoint?: S3Endpoint;
  /** Told about failures the driver recovers from (leftover temporary objects); never about secrets. */
  onWarning?: (message: string, error: unknown) => void;
}

const DEFAULT_REGION = 'us-east-1';
// Server-side copies run in parallel at commit; S3 and MinIO copy a part in well under a second
// per 100 MiB, so a few in flight keep a 10 GiB commit to seconds without flooding the store.
const COPY_CONCURRENCY = 8;
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

/** A missing object, in the shape the blob service (and the filesystem driver) uses. */
export class StorageNotFoundError extends Error {
  readonly code = 'ENOENT';

  constructor(what: string, options?: { cause?: unknown }) {
    super(`${what} not found`, options);
    this.name = 'StorageNotFoundError';
  }
}

/** `http(s)://host[:port]` as configured in WHARF_S3_ENDPOINT / WHARF_S3_PUBLIC_ENDPOINT. */
export function parseS3Endpoint(url: string): S3Endpoint {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RangeError(`invalid S3 endpoint URL ${JSON.stringify(url)}`);
  }
  if (
    (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') ||
    (parsed.pathname !== '/' && parsed.pathname !== '') ||
    parsed.search ||
    parsed.username ||
    parsed.password
  ) {
    throw new RangeError(`S3 endpoint must be http(s)://host[:port]: ${JSON.stringify(url)}`);
  }
  const useSSL = parsed.protocol === 'https:';
  return {
    endPoint: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port ? Number(parsed.port) : useSSL ? 443 : 80,
    useSSL,
  };
}

interface CommitRecord {
  key: string;
  uploadId: string;
}

interface Source {
  /** Object key. */
  key: string;
  /** Bytes the object holds. */
  objectSize: number;
  /** Bytes of it (from the start) that belong to the result. */
  length: number;
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
  private readonly bucket: string;
  private readonly useSSL: boolean;
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
    this.useSSL = options.useSSL ?? false;
    this.warn = options.onWarning ?? (() => undefined);
    const common = {
      region: options.region ?? DEFAULT_REGION,
      accessKey: options.accessKey,
      secretKey: options.secretKey,
      pathStyle: options.pathStyle ?? true,
    };
    this.client = new Client({
      ...common,
      endPoint: options.endPoint,
      port: options.port,
      useSSL: this.useSSL,
    });
    const pub = options.publicEndpoint ?? options;
    // Presigning is local computation, but the signature covers the host: it must be signed for the
    // name clients use, which inside a cluster is rarely the name the blob service uses.
    this.publicClient = new Client({
      ...common,
      endPoint: pub.endPoint,
      port: pub.port,
      useSSL: pub.useSSL ?? false,
    });
  }

  async createUpload(id: string): Promise<UploadHandle> {
    const state = newUploadState(id, this.partSize);
    await this.putBuffer(this.layout.uploadMarkerKey(id), Buffer.alloc(0));
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
        filled = await this.readInto(pendingCarry, buffer);
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
            await this.putBuffer(this.layout.uploadObjectKey(state.id, partObjectName(part, token)), target);
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
          await this.putBuffer(key, target.subarray(0, filled));
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
    return this.concat(sources);
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
      await this.putBuffer(key, Buffer.alloc(0));
    } else if (sources.length === 1 && sources[0].length === sources[0].objectSize) {
      await this.copy(key, sources[0]);
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
    await this.putBuffer(key, content);
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
  async presignedGetUrl(digest: string, expirySeconds: number): Promise<string> {
    const key = this.layout.blobKey(digest);
    if (!Number.isSafeInteger(expirySeconds) || expirySeconds < 1 || expirySeconds > MAX_PRESIGN_SECONDS) {
      throw new RangeError(`presigned URL expiry must be 1 s to 7 days: ${expirySeconds}`);
    }
    return this.publicClient.presignedGetObject(this.bucket, key, expirySeconds);
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

  /** Streams the sources one after the other; the first is opened before returning, so absence rejects. */
  private async concat(sources: Source[]): Promise<Readable> {
    const first = await this.open(sources[0]);
    const open = (source: Source) => this.open(source);
    async function* chain(): AsyncGenerator<Buffer> {
      let current: Readable | undefined;
      try {
        for (let i = 0; i < sources.length; i++) {
          current = i === 0 ? first : await open(sources[i]);
          let received = 0;
          for await (const chunk of current) {
            received += (chunk as Buffer).length;
            yield chunk as Buffer;
          }
          if (received !== sources[i].length) {
            throw new Error(`${sources[i].key} ended after ${received} of ${sources[i].length} bytes`);
          }
        }
      } finally {
        current?.destroy();
        first.destroy();
      }
    }
    const out = Readable.from(chain(), { objectMode: false });
    // A consumer that gives up before the first read never runs the generator's finally.
    out.once('close', () => first.destroy());
    return out;
  }

  private async open(source: Source): Promise<Readable> {
    try {
      return source.length === source.objectSize
        ? await this.client.getObject(this.bucket, source.key)
        : await this.client.getPartialObject(this.bucket, source.key, 0, source.length);
    } catch (err) {
      throw mapNotFound(err, 'upload');
    }
  }

  /** Reads the first `source.length` bytes of an object into `target`; bounded by one part. */
  private async readInto(source: Source, target: Buffer): Promise<number> {
    let filled = 0;
    for await (const chunk of await this.open(source)) {
      const bytes = chunk as Buffer;
      if (filled + bytes.length > source.length) throw new Error(`${source.key} is longer than recorded`);
      bytes.copy(target, filled);
      filled += bytes.length;
    }
    if (filled !== source.length) throw new Error(`${source.key} is shorter than recorded`);
    return filled;
  }

  /** CopyObject: one server-side request for a blob that one stored object holds whole. */
  private async copy(key: string, source: Source): Promise<void> {
    await this.copyRequest(key, source, null);
  }

  /**
   * A multipart upload at the blob's key whose parts are copied server-side from the upload's
   * objects. Its id is recorded under the upload first: a process killed mid-way leaves a
   * multipart upload holding a copy of every byte, which the next commit or abort then aborts.
   * Resolves with the record's key.
   */
  private async compose(id: string, key: string, sources: Source[]): Promise<string> {
    const uploadId = await this.client.initiateNewMultipartUpload(this.bucket, key, {});
    const record = this.layout.uploadObjectKey(id, commitRecordName(randomBytes(8).toString('hex')));
    try {
      await this.putBuffer(record, Buffer.from(JSON.stringify({ key, uploadId } satisfies CommitRecord)));
      const etags: { part: number; etag: string }[] = new Array(sources.length);
      await forEachLimit(sources, COPY_CONCURRENCY, async (source, i) => {
        const part = i + 1;
        etags[i] = { part, etag: await this.copyPart(key, uploadId, part, source) };
      });
      await this.client.completeMultipartUpload(this.bucket, key, uploadId, etags);
      return record;
    } catch (err) {
      await this.client.abortMultipartUpload(this.bucket, key, uploadId).catch((e: unknown) => {
        this.warn(`could not abort multipart upload ${uploadId} of ${key}`, e);
      });
      throw err;
    }
  }

  private async copyPart(key: string, uploadId: string, part: number, source: Source): Promise<string> {
    const query = `partNumber=${part}&uploadId=${encodeURIComponent(uploadId)}`;
    if (source.length === source.objectSize || source.objectSize > S3_MIN_PART_SIZE) {
      return this.copyRequest(key, source, query);
    }
    // S3 copies a byte range only out of objects above 5 MiB. Only a commit shorter than the upload
    // cuts an object, and then only the last one: at most 5 MiB go through this process.
    const bytes = Buffer.allocUnsafe(source.length);
    await this.readInto(source, bytes);
    const res = await this.client.makeRequestAsync(
      {
        method: 'PUT',
        bucketName: this.bucket,
        objectName: key,
        query,
        headers: this.integrityHeaders(bytes),
      },
      bytes,
      [200],
    );
    await drain(res);
    const etag = res.headers.etag;
    if (!etag) throw new Error(`no ETag for part ${part} of ${key}`);
    return etag;
  }

  /** CopyObject (query null) or UploadPartCopy; both may fail with 200 and an error document. */
  private async copyRequest(key: string, source: Source, query: string | null): Promise<string> {
    const headers: Record<string, string> = {
      'x-amz-copy-source': `/${this.bucket}/${source.key}`.split('/').map(encodeURIComponent).join('/'),
    };
    if (source.length !== source.objectSize)
      headers['x-amz-copy-source-range'] = `bytes=0-${source.length - 1}`;
    const res = await this.client.makeRequestAsync(
      { method: 'PUT', bucketName: this.bucket, objectName: key, ...(query ? { query } : {}), headers },
      '',
      [200],
    );
    const body = await readText(res);
    const error = /<Error>[\s\S]*?<Code>([^<]*)<\/Code>/.exec(body);
    if (error)
      throw Object.assign(new Error(`copy of ${source.key} to ${key} failed: ${error[1]}`), {
        code: error[1],
      });
    const etag = /<ETag>([^<]*)<\/ETag>/.exec(body)?.[1];
    if (!etag) throw new Error(`copy of ${source.key} to ${key} answered without an ETag`);
    return etag.replace(/&quot;|&#34;/g, '"');
  }

  /** One PUT of bytes already in memory; the minio client's putObject would copy them once more. */
  private async putBuffer(key: string, bytes: Buffer): Promise<void> {
    const res = await this.client.makeRequestAsync(
      { method: 'PUT', bucketName: this.bucket, objectName: key, headers: this.integrityHeaders(bytes) },
      bytes,
      [200],
    );
    await drain(res);
  }

  /**
   * Over plain HTTP the client signs the payload's SHA-256, which the store verifies; over TLS it
   * signs UNSIGNED-PAYLOAD, so Content-MD5 is what lets the store reject a corrupted body.
   */
  private integrityHeaders(bytes: Buffer): Record<string, string> {
    return this.useSSL ? { 'Content-MD5': createHash('md5').update(bytes).digest('base64') } : {};
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
    await this.removeKeys(names.map((name) => this.layout.uploadObjectKey(id, name)));
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
    await this.removeKeys(keys);
  }

  private async abortRecorded(recordKey: string): Promise<void> {
    let record: Partial<CommitRecord> | null;
    try {
      const body = await readText((await this.client.getObject(this.bucket, recordKey)) as IncomingMessage);
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

  private async removeKeys(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    const errors = await this.client.removeObjects(this.bucket, keys);
    const failed = errors.filter((e) => e);
    if (failed.length)
      throw new Error(`could not delete ${failed.length} objects: ${JSON.stringify(failed[0])}`);
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

async function readText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function drain(res: IncomingMessage): Promise<void> {
  for await (const _ of res) {
    // The body of a successful PUT is empty or irrelevant; reading it frees the connection.
  }
}

async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | null = null;
  const worker = async () => {
    while (!failure && next < items.length) {
      const i = next++;
      try {
        await fn(items[i], i);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  // Settle every worker before reporting: the caller cleans up after us, not beside us.
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw (failure as { error: unknown }).error;
}

function errorCode(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}

function isNotFound(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'NoSuchKey' || code === 'NotFound' || code === 'NoSuchUpload';
}

function mapNotFound(err: unknown, what: string): unknown {
  return isNotFound(err) ? new StorageNotFoundError(what, { cause: err }) : err;
}

function assertCount(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what} must be a non-negative integer: ${n}`);
}
