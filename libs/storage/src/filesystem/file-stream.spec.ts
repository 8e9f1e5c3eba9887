import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { WRITE_TO } from '@wharf/contracts';
import { FileRangeStream, largeStreamsInUse } from './file-stream';

const MiB = 1024 * 1024;

/** Hashes what it is given; every `slowEvery`-th write calls back late, so buffers stay held. */
class HashingSink extends Writable {
  readonly hash = createHash('sha256');
  private n = 0;

  constructor(private readonly slowEvery = 0) {
    super({ highWaterMark: 0 });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.hash.update(chunk);
    if (this.slowEvery && ++this.n % this.slowEvery === 0) setTimeout(cb, 2);
    else cb();
  }
}

describe('FileRangeStream fast path', () => {
  let dir: string;
  let file: string;
  let content: Buffer;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'wharf-file-stream-'));
    file = join(dir, 'blob');
    content = Buffer.alloc(40 * MiB);
    for (let i = 0; i < content.length; i += 4) content.writeUInt32LE((i * 2654435761) >>> 0, i);
    writeFileSync(file, content);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

  async function serve(start: number, end: number, sink: Writable): Promise<void> {
    const stream = new FileRangeStream(await open(file, 'r'), start, end);
    await stream[WRITE_TO](sink);
  }

  it('serves whole files and ranges byte for byte, more large streams at once than take the large path', async () => {
    const ranges: [number, number][] = [
      [0, content.length],
      [10 * MiB + 7, 30 * MiB - 3],
      [content.length - 17 * MiB - 1, content.length],
      [5, 5 + 3 * MiB],
    ];
    const jobs = Array.from({ length: 12 }, (_, i) => ranges[i % ranges.length]);
    const sinks = jobs.map((_, i) => new HashingSink(i % 3));
    await Promise.all(jobs.map(([a, z], i) => serve(a, z, sinks[i])));
    jobs.forEach(([a, z], i) => expect(sinks[i].hash.digest('hex')).toBe(sha(content.subarray(a, z))));
    expect(largeStreamsInUse()).toBe(0);
  });

  it('writes a small range as one buffer of its own size, and a larger one through pooled chunks', async () => {
    const chunks = async (start: number, end: number): Promise<number[]> => {
      const sizes: number[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _enc, cb) {
          // What the buffer holds, not only what was written: a pooled 1 MiB buffer shows here.
          sizes.push(chunk.buffer.byteLength >= MiB ? -chunk.length : chunk.length);
          cb();
        },
      });
      await serve(start, end, sink);
      return sizes;
    };
    expect(await chunks(100, 100 + 16 * 1024)).toEqual([16 * 1024]);
    expect(await chunks(0, 256 * 1024)).toEqual([256 * 1024]);
    expect(await chunks(0, 2 * MiB)).toEqual([-MiB, -MiB]);
  });

  it('gives its place on the large path back when the destination fails', async () => {
    const failing = Array.from(
      { length: 10 },
      () =>
        new Writable({
          write(_chunk, _enc, cb) {
            cb(new Error('client went away'));
          },
        }),
    );
    const results = await Promise.allSettled(failing.map((sink) => serve(0, content.length, sink)));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(largeStreamsInUse()).toBe(0);
    const sink = new HashingSink();
    await serve(0, content.length, sink);
    expect(sink.hash.digest('hex')).toBe(sha(content));
  });
});
