import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { BlobDriver, UploadHandle } from '../driver';

export interface BlobDriverFixture {
  driver: BlobDriver;
  /**
   * Another driver instance over the same store, as a second replica (or a restarted process)
   * would create it. Without it, tests that need one use `driver` again.
   */
  reopen?(): BlobDriver;
  /** Removes everything the driver stored; called after every test. */
  cleanup(): Promise<void>;
}

const MiB = 1024 * 1024;

/**
 * The contract of the storage port. Every driver runs it (filesystem in a temp dir, S3 against a
 * MinIO bucket); `makeDriver` is called once per test and must return an empty store.
 */
export function runBlobDriverSuite(name: string, makeDriver: () => Promise<BlobDriverFixture>): void {
  describe(`BlobDriver contract: ${name}`, () => {
    let fixture: BlobDriverFixture | undefined;
    let driver: BlobDriver;

    beforeEach(async () => {
      fixture = await makeDriver();
      driver = fixture.driver;
    });

    afterEach(async () => {
      await fixture?.cleanup();
      fixture = undefined;
    });

    async function upload(...chunks: Buffer[]): Promise<UploadHandle> {
      let handle = await driver.createUpload(randomUUID());
      let offset = 0;
      for (const chunk of chunks) {
        const result = await driver.appendUpload(handle, offset, Readable.from([chunk]));
        expect(result.written).toBe(chunk.length);
        handle = result.handle;
        offset += result.written;
      }
      return handle;
    }

    async function expectUploadGone(handle: UploadHandle): Promise<void> {
      // A driver may reject at once or fail the stream; either way no bytes may come back.
      await expect(driver.readUpload(handle, 1).then(collect)).rejects.toBeDefined();
    }

    it('an upload appended once and committed reads back byte for byte', async () => {
      const content = randomBytes(4096);
      const handle = await upload(content);
      await driver.commitUpload(handle, content.length, digestOf(content));

      expect(await driver.stat(digestOf(content))).toEqual({ size: content.length });
      expect(await collect(await driver.read(digestOf(content)))).toEqual(content);
    });

    it('several appends concatenate in order', async () => {
      const parts = [randomBytes(1000), randomBytes(1), randomBytes(70_000), randomBytes(17)];
      const content = Buffer.concat(parts);
      const handle = await upload(...parts);
      await driver.commitUpload(handle, content.length, digestOf(content));

      expect(await collect(await driver.read(digestOf(content)))).toEqual(content);
    });

    it('an append at an earlier offset replaces whatever a crashed append left past it', async () => {
      const accepted = randomBytes(100);
      const retried = randomBytes(10);
      let handle = await upload(accepted);
      // The crashed append: its bytes landed but the offset it reached was never recorded.
      ({ handle } = await driver.appendUpload(handle, accepted.length, Readable.from([randomBytes(500)])));

      const result = await driver.appendUpload(handle, accepted.length, Readable.from([retried]));
      expect(result.written).toBe(retried.length);
      const content = Buffer.concat([accepted, retried]);
      expect(await collect(await driver.readUpload(result.handle, content.length))).toEqual(content);
      await driver.commitUpload(result.handle, content.length, digestOf(content));

      expect(await driver.stat(digestOf(content))).toEqual({ size: content.length });
      expect(await collect(await driver.read(digestOf(content)))).toEqual(content);
    });

    it('an append whose stream fails midway rejects, and a retry at the same offset replaces its bytes', async () => {
      const accepted = randomBytes(100);
      const handle = await upload(accepted);
      const failing = new Readable({
        read() {
          this.push(randomBytes(1000));
          this.destroy(new Error('client went away'));
        },
      });
      await expect(driver.appendUpload(handle, accepted.length, failing)).rejects.toThrow('client went away');

      const retried = randomBytes(50);
      const result = await driver.appendUpload(handle, accepted.length, Readable.from([retried]));
      const content = Buffer.concat([accepted, retried]);
      await driver.commitUpload(result.handle, content.length, digestOf(content));

      expect(await collect(await driver.read(digestOf(content)))).toEqual(content);
    });

    it('another instance continues an upload from its handle after a round trip through JSON', async () => {
      const parts = [randomBytes(70_000), randomBytes(3000), randomBytes(100_000)];
      const content = Buffer.concat(parts);
      const replica = () => fixture?.reopen?.() ?? driver;
      const stored = (handle: UploadHandle) => JSON.parse(JSON.stringify(handle)) as UploadHandle;

      let handle = stored(await driver.createUpload(randomUUID()));
      let offset = 0;
      for (const [i, part] of parts.entries()) {
        const writer = i % 2 === 0 ? replica() : driver;
        const result = await writer.appendUpload(handle, offset, Readable.from([part]));
        expect(result.written).toBe(part.length);
        handle = stored(result.handle);
        offset += part.length;
      }
      expect(await collect(await replica().readUpload(handle, content.length))).toEqual(content);
      await replica().commitUpload(handle, content.length, digestOf(content));

      expect(await collect(await driver.read(digestOf(content)))).toEqual(content);
    });

    it('many small appends concatenate in order', async () => {
      const parts = Array.from({ length: 40 }, (_, i) => randomBytes(1 + ((i * 2749) % 5000)));
      const content = Buffer.concat(parts);
      const handle = await upload(...parts);

      expect(await collect(await driver.readUpload(handle, content.length))).toEqual(content);
      await driver.commitUpload(handle, content.length, digestOf(content));
      expect(await collect(await driver.read(digestOf(content)))).toEqual(content);
    });

    it('readUpload returns the first size bytes of an upload in progress', async () => {
      const content = randomBytes(3000);
      const handle = await upload(content.subarray(0, 1000), content.subarray(1000));

      expect(await collect(await driver.readUpload(handle, 3000))).toEqual(content);
      expect(await collect(await driver.readUpload(handle, 1234))).toEqual(content.subarray(0, 1234));
      expect(await collect(await driver.readUpload(handle, 0))).toEqual(Buffer.alloc(0));
    });

    it('a blob is invisible until its upload commits', async () => {
      const content = randomBytes(2048);
      const digest = digestOf(content);
      const handle = await upload(content);

      expect(await driver.stat(digest)).toBeNull();
      await expect(driver.read(digest)).rejects.toMatchObject({ code: 'ENOENT' });
      await driver.commitUpload(handle, content.length, digest);
      expect(await driver.stat(digest)).toEqual({ size: content.length });
    });

    it('commit keeps only the first size bytes of the upload', async () => {
      const content = randomBytes(500);
      const handle = await upload(content, randomBytes(20));
      await driver.commitUpload(handle, content.length, digestOf(content));

      expect(await collect(await driver.read(digestOf(content)))).toEqual(content);
    });

    it('committing content that already exists keeps the stored blob and discards the upload', async () => {
      const content = randomBytes(1024);
      const digest = digestOf(content);
      await driver.commitUpload(await upload(content), content.length, digest);

      const again = await upload(content);
      await driver.commitUpload(again, content.length, digest);

      expect(await driver.stat(digest)).toEqual({ size: content.length });
      expect(await collect(await driver.read(digest))).toEqual(content);
      await expectUploadGone(again);
    });

    it('a committed upload is gone', async () => {
      const content = randomBytes(10);
      const handle = await upload(content);
      await driver.commitUpload(handle, content.length, digestOf(content));

      await expectUploadGone(handle);
    });

    it('range reads return the inclusive byte range', async () => {
      const content = randomBytes(1000);
      const digest = digestOf(content);
      await driver.putBlob(digest, content);

      const range = async (start: number, end: number) => collect(await driver.read(digest, { start, end }));
      expect(await range(0, 0)).toEqual(content.subarray(0, 1));
      expect(await range(300, 599)).toEqual(content.subarray(300, 600));
      expect(await range(999, 999)).toEqual(content.subarray(999));
      expect(await range(0, 999)).toEqual(content);
    });

    it('a range past the end of the blob rejects', async () => {
      const content = randomBytes(100);
      await driver.putBlob(digestOf(content), content);

      await expect(
        driver.read(digestOf(content), { start: 50, end: 100 }).then(collect),
      ).rejects.toBeDefined();
      await expect(
        driver.read(digestOf(content), { start: 100, end: 120 }).then(collect),
      ).rejects.toBeDefined();
    });

    it('reading a missing blob rejects with code ENOENT', async () => {
      const digest = digestOf(randomBytes(8));
      await expect(driver.read(digest)).rejects.toMatchObject({ code: 'ENOENT' });
      await expect(driver.read(digest, { start: 0, end: 0 })).rejects.toMatchObject({ code: 'ENOENT' });
      expect(await driver.stat(digest)).toBeNull();
    });

    it('delete removes a blob and deleting it again is a no-op', async () => {
      const content = randomBytes(64);
      const digest = digestOf(content);
      await driver.putBlob(digest, content);

      await driver.delete(digest);
      expect(await driver.stat(digest)).toBeNull();
      await expect(driver.read(digest)).rejects.toMatchObject({ code: 'ENOENT' });
      await expect(driver.delete(digest)).resolves.toBeUndefined();
      await expect(driver.delete(digestOf(randomBytes(8)))).resolves.toBeUndefined();
    });

    it('a deleted blob can be pushed again', async () => {
      const content = randomBytes(64);
      const digest = digestOf(content);
      await driver.commitUpload(await upload(content), content.length, digest);
      await driver.delete(digest);

      await driver.commitUpload(await upload(content), content.length, digest);
      expect(await collect(await driver.read(digest))).toEqual(content);
    });

    it('abort discards the upload, publishes nothing and is idempotent', async () => {
      const content = randomBytes(256);
      const handle = await upload(content);

      await driver.abortUpload(handle);
      await expect(driver.abortUpload(handle)).resolves.toBeUndefined();
      await expectUploadGone(handle);
      await expect(driver.commitUpload(handle, content.length, digestOf(content))).rejects.toBeDefined();
      expect(await driver.stat(digestOf(content))).toBeNull();
    });

    it('putBlob stores content and a second put of the same digest is a no-op', async () => {
      const content = Buffer.from('{"schemaVersion":2}');
      const digest = digestOf(content);

      await driver.putBlob(digest, content);
      await driver.putBlob(digest, content);
      expect(await driver.stat(digest)).toEqual({ size: content.length });
      expect(await collect(await driver.read(digest))).toEqual(content);
    });

    it('an empty blob commits, stats as 0 bytes and reads back empty', async () => {
      const empty = Buffer.alloc(0);
      const handle = await driver.createUpload(randomUUID());
      await driver.commitUpload(handle, 0, digestOf(empty));

      expect(await driver.stat(digestOf(empty))).toEqual({ size: 0 });
      expect(await collect(await driver.read(digestOf(empty)))).toEqual(empty);
    });

    it('an empty append writes nothing and keeps the offset', async () => {
      const content = randomBytes(10);
      const handle = await upload(content);
      const result = await driver.appendUpload(
        handle,
        content.length,
        Readable.from([], { objectMode: false }),
      );

      expect(result.written).toBe(0);
      expect(await collect(await driver.readUpload(result.handle, content.length))).toEqual(content);
    });

    it('two concurrent commits of the same content both succeed and leave one blob', async () => {
      const content = randomBytes(256 * 1024);
      const digest = digestOf(content);
      const [a, b] = await Promise.all([upload(content), upload(content)]);

      await Promise.all([
        driver.commitUpload(a, content.length, digest),
        driver.commitUpload(b, content.length, digest),
      ]);
      expect(await driver.stat(digest)).toEqual({ size: content.length });
      expect(await collect(await driver.read(digest))).toEqual(content);
      await expectUploadGone(a);
      await expectUploadGone(b);
    });

    it('a 64 MiB append streams in bounded memory and reads back with the same sha256', async () => {
      const total = 64 * MiB;
      const chunkSize = MiB;
      const gc = exposeGc();
      // Buffers live outside the JS heap, so count arrayBuffers too; collect first so only live
      // memory counts, not garbage the collector has not reached yet.
      const live = () => {
        gc();
        const m = process.memoryUsage();
        return m.heapUsed + m.arrayBuffers;
      };
      const hash = createHash('sha256');
      let produced = 0;
      const baseline = live();
      let peak = baseline;
      const source = new Readable({
        highWaterMark: chunkSize,
        read() {
          if (produced === total) {
            this.push(null);
            return;
          }
          const chunk = randomBytes(chunkSize);
          hash.update(chunk);
          produced += chunk.length;
          if (produced % (8 * chunkSize) === 0) peak = Math.max(peak, live());
          this.push(chunk);
        },
      });

      const handle = await driver.createUpload(randomUUID());
      const result = await driver.appendUpload(handle, 0, source);
      expect(result.written).toBe(total);
      expect(peak - baseline).toBeLessThan(32 * MiB);

      const digest = `sha256:${hash.digest('hex')}`;
      await driver.commitUpload(result.handle, total, digest);
      expect(await driver.stat(digest)).toEqual({ size: total });
      expect(await sha256OfStream(await driver.read(digest))).toEqual(digest);
    }, 120_000);
  });
}

function digestOf(content: Buffer): string {
  return `sha256:${createHash('sha256').update(content).digest('hex')}`;
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

async function sha256OfStream(stream: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Uint8Array);
  return `sha256:${hash.digest('hex')}`;
}

/**
 * Jest does not run node with --expose-gc; turning the flag on at runtime makes `gc` available in
 * contexts created afterwards, which is enough for a memory measurement in a test.
 */
function exposeGc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return existing;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
