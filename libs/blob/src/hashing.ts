import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * Passes bytes through unchanged while feeding them to a hash and counting them, holding up to
 * `buffer` bytes on each side (see BlobDriver.readAhead).
 */
export class HashingPassThrough extends Transform {
  bytes = 0;

  constructor(
    private readonly hash: Hash,
    buffer = 1 << 20,
  ) {
    super({ highWaterMark: buffer });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

/** SHA-256 over a stream, for re-hashing stored bytes when no in-memory hash state survived. */
export async function hashStream(stream: Readable): Promise<Hash> {
  const hash = createHash('sha256');
  await pipeline(stream, async function (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) hash.update(chunk);
  });
  return hash;
}
