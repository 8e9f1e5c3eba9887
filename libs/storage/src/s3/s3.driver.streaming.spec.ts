import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startS3TestServer, type S3TestServer } from '../testing';
import { MiB } from './part-layout';
import { S3Driver } from './s3.driver';
import type { S3UploadHandle } from './upload-state';

// 256 MiB by default; WHARF_TEST_S3_1GIB=1 streams 1 GiB (about a minute here, more on a busy box).
const STREAM_MIB = process.env['WHARF_TEST_S3_1GIB'] === '1' ? 1024 : 256;

describe('S3Driver with real part sizes', () => {
  let s3: S3TestServer;

  // This server enforces S3's 5 MiB minimum part size, as MinIO and AWS do.
  beforeAll(async () => {
    s3 = await startS3TestServer();
  });

  afterAll(() => s3?.stop());

  it(`a ${STREAM_MIB} MiB layer streams through append, commit and read in bounded memory`, async () => {
    const driver = new S3Driver({
      endPoint: s3.host,
      port: s3.port,
      region: s3.region,
      accessKey: s3.accessKey,
      secretKey: s3.secretKey,
      bucket: s3.bucket,
    });
    const total = STREAM_MIB * MiB;
    const gc = exposeGc();
    const sample = () => {
      // Twice: V8 frees the backing stores of dead Buffers concurrently, after the first pass
      // returns, so one pass still counts garbage (the source makes 1 MiB of it per chunk).
      gc();
      gc();
      const m = process.memoryUsage();
      return { live: m.heapUsed + m.arrayBuffers, rss: m.rss };
    };
    const baseline = sample();
    const peak = { ...baseline };
    const record = () => {
      const now = sample();
      peak.live = Math.max(peak.live, now.live);
      peak.rss = Math.max(peak.rss, now.rss);
    };

    const block = randomBytes(MiB);
    const hash = createHash('sha256');
    let produced = 0;
    const source = new Readable({
      highWaterMark: MiB,
      read() {
        if (produced === total) return void this.push(null);
        const chunk = Buffer.allocUnsafe(MiB);
        block.copy(chunk);
        chunk.writeUInt32BE(produced / MiB, 0);
        hash.update(chunk);
        produced += MiB;
        if (produced % (16 * MiB) === 0) record();
        this.push(chunk);
      },
    });

    let started = Date.now();
    const { handle, written } = await driver.appendUpload(await driver.createUpload(randomUUID()), 0, source);
    const appendMs = Date.now() - started;
    expect(written).toBe(total);
    expect((handle as S3UploadHandle).parts).toEqual([
      expect.objectContaining({ count: (total / (5 * MiB)) | 0 }),
    ]);

    const digest = `sha256:${hash.digest('hex')}`;
    started = Date.now();
    await driver.commitUpload(handle, total, digest);
    const commitMs = Date.now() - started;
    expect(await driver.stat(digest)).toEqual({ size: total });

    started = Date.now();
    const readHash = createHash('sha256');
    let consumed = 0;
    for await (const chunk of await driver.read(digest)) {
      readHash.update(chunk as Buffer);
      consumed += (chunk as Buffer).length;
      if (consumed % (16 * MiB) < (chunk as Buffer).length) record();
    }
    const readMs = Date.now() - started;
    expect(`sha256:${readHash.digest('hex')}`).toBe(digest);
    record();

    const mibps = (ms: number) => ((total / MiB) * 1000) / ms;
    console.log(
      `S3 driver, ${STREAM_MIB} MiB in 5 MiB parts: append ${mibps(appendMs).toFixed(0)} MiB/s, ` +
        `commit ${(commitMs / 1000).toFixed(1)} s, read ${mibps(readMs).toFixed(0)} MiB/s; ` +
        `peak growth heap+buffers ${((peak.live - baseline.live) / MiB).toFixed(1)} MiB, ` +
        `RSS ${((peak.rss - baseline.rss) / MiB).toFixed(1)} MiB (driver and test server share the process)`,
    );
    expect(peak.live - baseline.live).toBeLessThan(32 * MiB);
    expect(peak.rss - baseline.rss).toBeLessThan(100 * MiB);

    await driver.delete(digest);
  }, 900_000);
});

/** Jest does not run node with --expose-gc; turning the flag on at runtime exposes `gc` to new contexts. */
function exposeGc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return existing;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
