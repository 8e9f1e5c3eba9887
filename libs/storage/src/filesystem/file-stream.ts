import type { FileHandle } from 'node:fs/promises';
import { Readable, type Writable } from 'node:stream';
import { WRITE_TO, type WritesTo } from '@wharf/contracts';

/** Reads this much per call, and each of the two buffers of the fast path is this large. */
const CHUNK = 1024 * 1024;
/**
 * A large blob's fast path reads this much per call while few streams use it: every read and every
 * socket write is a trip (thread pool, event loop), and at 1 GiB 4 MiB reads served 1.09–1.21x the
 * MB/s of 1 MiB ones (docs/performance.md at 23f6561). Bounded, because each stream holds two buffers.
 */
const LARGE_CHUNK = 4 * 1024 * 1024;
/** Ranges up to this size are read in one call into a buffer of their own (not pooled). */
const SMALL_RANGE = 256 * 1024;
/** Streams served with LARGE_CHUNK buffers at once; the rest use CHUNK (64 MiB at most in all). */
const LARGE_STREAMS_MAX = 8;
/** Buffers kept for the next streams once one ends, per size: at most 16 × 1 MiB and 4 × 4 MiB idle. */
const POOL_MAX = 16;
const LARGE_POOL_MAX = 4;

class BufferPool {
  private readonly idle: Buffer[] = [];

  constructor(
    readonly size: number,
    private readonly max: number,
  ) {}

  take(): Buffer {
    return this.idle.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  give(b: Buffer): void {
    if (this.idle.length < this.max) this.idle.push(b);
  }
}

const pool = new BufferPool(CHUNK, POOL_MAX);
const largePool = new BufferPool(LARGE_CHUNK, LARGE_POOL_MAX);
let largeStreams = 0;

/**
 * The bytes [start, end) of an open file. As a Readable it reads a fresh buffer per chunk; its
 * WRITE_TO fast path (what the gateway uses for a blob GET) double-buffers through two buffers
 * taken from a small process-wide pool and given back at the end, so serving blobs allocates
 * nothing in the steady state and triggers no garbage collection.
 * The file handle is closed when the stream ends or is destroyed.
 */
export class FileRangeStream extends Readable implements WritesTo {
  private pos: number;

  constructor(
    private readonly fh: FileHandle,
    start: number,
    private readonly end: number,
  ) {
    super({ highWaterMark: CHUNK });
    this.pos = start;
  }

  override _read(): void {
    const len = Math.min(CHUNK, this.end - this.pos);
    if (len <= 0) {
      this.push(null);
      return;
    }
    const buf = Buffer.allocUnsafeSlow(len);
    this.fh.read(buf, 0, len, this.pos).then(
      ({ bytesRead }) => {
        if (bytesRead === 0) return this.destroy(shorter(this.pos, this.end));
        this.pos += bytesRead;
        this.push(bytesRead < len ? buf.subarray(0, bytesRead) : buf);
      },
      (e: Error) => this.destroy(e),
    );
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.fh.close().then(
      () => cb(err),
      (e: Error) => cb(err ?? e),
    );
  }

  async [WRITE_TO](dest: Writable): Promise<void> {
    let onGone!: () => void;
    // A client that goes away mid-stream must not leave this loop waiting for a write callback.
    const gone = new Promise<never>((_, reject) => {
      onGone = () => reject(new Error('destination closed before the blob was written'));
      dest.once('close', onGone);
      dest.once('error', onGone);
    });
    gone.catch(() => undefined);
    const bufs: Buffer[] = [];
    let clean = false;
    // Large only when the range fills its two buffers several times over.
    const large = this.end - this.pos >= 4 * LARGE_CHUNK && largeStreams < LARGE_STREAMS_MAX;
    if (large) largeStreams++;
    // A small range (a config, a small layer: most GETs of a pull) is read once into a buffer of
    // its own size. Taking two pooled 1 MiB buffers for it emptied the pool under many concurrent
    // small GETs, and each GET then allocated 2 MiB for the collector to sweep. Larger ranges keep
    // the pool, which serves them without allocating.
    const small = this.end - this.pos <= SMALL_RANGE;
    const buffers = large ? largePool : small ? exact(this.end - this.pos) : pool;
    try {
      let writing: Promise<void> = Promise.resolve();
      for (let i = 0; this.pos < this.end; i++) {
        // Fill one buffer while the other is being written; a buffer is reused only after the
        // write that held it has called back (the socket no longer needs its bytes).
        const buf = (bufs[i & 1] ??= buffers.take());
        const len = Math.min(buffers.size, this.end - this.pos);
        const { bytesRead } = await this.fh.read(buf, 0, len, this.pos);
        if (bytesRead === 0) throw shorter(this.pos, this.end);
        this.pos += bytesRead;
        await Promise.race([writing, gone]);
        writing = write(dest, buf.subarray(0, bytesRead));
      }
      await Promise.race([writing, gone]);
      await Promise.race([new Promise<void>((resolve) => dest.end(resolve)), gone]);
      clean = true;
    } finally {
      dest.off('close', onGone);
      dest.off('error', onGone);
      this.destroy();
      if (large) largeStreams--;
      // After a failure a write may still hold a buffer: those are left to the garbage collector.
      if (clean) for (const b of bufs) buffers.give(b);
    }
  }
}

/** Buffers of exactly `size` bytes, not kept: for a range read in one call. */
function exact(size: number): Pick<BufferPool, 'size' | 'take' | 'give'> {
  return { size, take: () => Buffer.allocUnsafe(size), give: () => undefined };
}

function write(dest: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    dest.write(chunk, (err) => (err ? reject(err) : resolve()));
  });
}

function shorter(pos: number, end: number): Error {
  return new RangeError(`file ended at ${pos}, before ${end}`);
}

/** Streams on the large fast path right now (tests check that failures give their place back). */
export function largeStreamsInUse(): number {
  return largeStreams;
}
