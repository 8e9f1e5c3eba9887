import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { Client } from 'minio';
import { S3_MIN_PART_SIZE } from './part-layout';

// Server-side copies run in parallel at commit; S3 and MinIO copy a part in well under a second
// per 100 MiB, so a few in flight keep a 10 GiB commit to seconds without flooding the store.
const COPY_CONCURRENCY = 8;

/** A missing object, in the shape the blob service (and the filesystem driver) uses. */
export class StorageNotFoundError extends Error {
  readonly code = 'ENOENT';

  constructor(what: string, options?: { cause?: unknown }) {
    super(`${what} not found`, options);
    this.name = 'StorageNotFoundError';
  }
}

/** The first `length` bytes of a stored object. */
export interface Source {
  /** Object key. */
  key: string;
  /** Bytes the object holds. */
  objectSize: number;
  /** Bytes of it (from the start) that belong to the result. */
  length: number;
}

/**
 * The object operations the S3 driver is built from, on one bucket: PUTs of bytes already in
 * memory, reads of an object's first bytes, and one object assembled server-side from others. It
 * knows nothing of uploads or blobs; s3.driver.ts decides which keys these operations touch.
 */
export class S3Objects {
  constructor(
    private readonly client: Client,
    private readonly bucket: string,
    private readonly useSSL: boolean,
    private readonly warn: (message: string, error: unknown) => void,
  ) {}

  /** One PUT of bytes already in memory; the minio client's putObject would copy them once more. */
  async put(key: string, bytes: Buffer): Promise<void> {
    const res = await this.client.makeRequestAsync(
      { method: 'PUT', bucketName: this.bucket, objectName: key, headers: this.integrityHeaders(bytes) },
      bytes,
      [200],
    );
    await drain(res);
  }

  /** A whole (small) object as text. */
  async getText(key: string): Promise<string> {
    return readText((await this.client.getObject(this.bucket, key)) as IncomingMessage);
  }

  /** Streams the sources one after the other; the first is opened before returning, so absence rejects. */
  async concat(sources: Source[]): Promise<Readable> {
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

  /** Reads the first `source.length` bytes of an object into `target`; bounded by one part. */
  async readInto(source: Source, target: Buffer): Promise<number> {
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

  /** CopyObject: one server-side request for an object that one stored object holds whole. */
  async copy(key: string, source: Source): Promise<void> {
    await this.copyRequest(key, source, null);
  }

  /**
   * A multipart upload at `key` whose parts are copied server-side from the sources, in order.
   * `started` runs once the multipart upload exists, before any part is copied: the driver records
   * its id there, so that one a crash leaves open gets aborted later. Aborted here on any failure.
   */
  async compose(key: string, sources: Source[], started: (uploadId: string) => Promise<void>): Promise<void> {
    const uploadId = await this.client.initiateNewMultipartUpload(this.bucket, key, {});
    try {
      await started(uploadId);
      const etags: { part: number; etag: string }[] = new Array(sources.length);
      await forEachLimit(sources, COPY_CONCURRENCY, async (source, i) => {
        const part = i + 1;
        etags[i] = { part, etag: await this.copyPart(key, uploadId, part, source) };
      });
      await this.client.completeMultipartUpload(this.bucket, key, uploadId, etags);
    } catch (err) {
      await this.client.abortMultipartUpload(this.bucket, key, uploadId).catch((e: unknown) => {
        this.warn(`could not abort multipart upload ${uploadId} of ${key}`, e);
      });
      throw err;
    }
  }

  async removeKeys(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    const errors = await this.client.removeObjects(this.bucket, keys);
    const failed = errors.filter((e) => e);
    if (failed.length)
      throw new Error(`could not delete ${failed.length} objects: ${JSON.stringify(failed[0])}`);
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

  /**
   * Over plain HTTP the client signs the payload's SHA-256, which the store verifies; over TLS it
   * signs UNSIGNED-PAYLOAD, so Content-MD5 is what lets the store reject a corrupted body.
   */
  private integrityHeaders(bytes: Buffer): Record<string, string> {
    return this.useSSL ? { 'Content-MD5': createHash('md5').update(bytes).digest('base64') } : {};
  }
}

export function errorCode(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}

export function isNotFound(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'NoSuchKey' || code === 'NotFound' || code === 'NoSuchUpload';
}

export function mapNotFound(err: unknown, what: string): unknown {
  return isNotFound(err) ? new StorageNotFoundError(what, { cause: err }) : err;
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
