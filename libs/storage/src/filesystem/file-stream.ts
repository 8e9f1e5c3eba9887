import type { FileHandle } from 'node:fs/promises';
import { Readable, type Writable } from 'node:stream';
import { WRITE_TO, type WritesTo } from '@wharf/contracts';

/** Reads this much per call, and each of the two buffers of the fast path is this large. */
const CHUNK = 1024 * 1024;
/** Buffers kept for the next streams once one ends: up to this many MiB stay allocated, idle. */
const POOL_MAX = 16;
const pool: Buffer[] = [];

function takeBuffer(): Buffer {
  return pool.pop() ?? Buffer.allocUnsafeSlow(CHUNK);
}

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
    try {
      let writing: Promise<void> = Promise.resolve();
      for (let i = 0; this.pos < this.end; i++) {
        // Fill one buffer while the other is being written; a buffer is reused only after the
        // write that held it has called back (the socket no longer needs its bytes).
        const buf = (bufs[i & 1] ??= takeBuffer());
        const { bytesRead } = await this.fh.read(buf, 0, Math.min(CHUNK, this.end - this.pos), this.pos);
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
      // After a failure a write may still hold a buffer: those are left to the garbage collector.
      if (clean) for (const b of bufs) if (pool.length < POOL_MAX) pool.push(b);
    }
  }
}

function write(dest: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    dest.write(chunk, (err) => (err ? reject(err) : resolve()));
  });
}

function shorter(pos: number, end: number): Error {
  return new RangeError(`file ended at ${pos}, before ${end}`);
}
