import type { Readable } from 'node:stream';

/** Blobs up to this size are kept in memory once read: image configs and small layers. */
export const SMALL_BLOB_MAX = 256 * 1024;
/** What the cache may hold in all. */
export const SMALL_BLOB_CACHE_BYTES = 32 * 1024 * 1024;

/**
 * The bytes of small blobs, least recently used evicted first. Every node pulling an image fetches
 * its config and often small layers; read from disk each time, such a GET cost four trips through
 * libuv's thread pool (open, stat, read, close), each a turn of an event loop that under load takes
 * tens of milliseconds, behind upload writes and fsyncs, and made pulls the requests that waited
 * over 2 s (docs/performance.md, soak). From memory it costs what a manifest GET costs.
 *
 * Always coherent: a digest names its bytes forever, and callers have checked the repository link
 * (the access boundary) before they ask. Content the collector deletes can still sit here until it
 * is evicted, but no GET reaches it without a link, and a blob pushed again has the same bytes.
 */
export class SmallBlobCache {
  private readonly entries = new Map<string, Buffer>();
  private readonly loading = new Map<string, Promise<Buffer>>();
  private bytes = 0;

  constructor(
    readonly maxBytes = SMALL_BLOB_CACHE_BYTES,
    readonly maxEntry = SMALL_BLOB_MAX,
  ) {}

  /** Whether a blob of `size` bytes is kept here. */
  holds(size: number): boolean {
    return size > 0 && size <= this.maxEntry && size <= this.maxBytes;
  }

  /**
   * The blob's bytes, from memory or from `open` (once for concurrent callers). Rejects, caching
   * nothing, when the stream fails or does not carry exactly `size` bytes.
   */
  async get(digest: string, size: number, open: () => Promise<Readable>): Promise<Buffer> {
    const hit = this.entries.get(digest);
    if (hit) {
      // Map order is insertion order: re-inserting makes it the most recently used.
      this.entries.delete(digest);
      this.entries.set(digest, hit);
      return hit;
    }
    let pending = this.loading.get(digest);
    if (!pending) {
      pending = readExactly(open, size).then((buf) => {
        this.add(digest, buf);
        return buf;
      });
      const forget = () => this.loading.delete(digest);
      pending.then(forget, forget);
      this.loading.set(digest, pending);
    }
    return pending;
  }

  private add(digest: string, buf: Buffer): void {
    if (this.entries.has(digest)) return;
    this.entries.set(digest, buf);
    this.bytes += buf.length;
    for (const [oldest, b] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= b.length;
    }
  }

  /** Bytes held (tests, metrics). */
  size(): number {
    return this.bytes;
  }
}

async function readExactly(open: () => Promise<Readable>, size: number): Promise<Buffer> {
  const stream = await open();
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (at + chunk.length > size) throw new Error(`blob longer than its recorded ${size} bytes`);
      chunk.copy(buf, at);
      at += chunk.length;
    }
  } finally {
    stream.destroy();
  }
  if (at !== size) throw new Error(`blob of ${at} bytes, ${size} recorded`);
  return buf;
}
