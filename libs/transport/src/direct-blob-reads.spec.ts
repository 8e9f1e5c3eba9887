import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, truncate } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { Logger } from '@nestjs/common';
import { WRITE_TO, copyBlob, type DirectReads, type OpenBlobRequest } from '@wharf/contracts';
import { RegistryError } from '@wharf/oci';
import { metrics } from '@wharf/observability';
import { FilesystemDriver } from '@wharf/storage';
import { directBlobReads, type DirectBlobApi } from './direct-blob-reads';
import type { RemoteBlobApi } from './remote-blob';

const REMOTE = Buffer.from('bytes from the data port');
const reads = (p: string): number => metrics.counter('wharf_blob_reads_total', '', ['path']).get([p]);

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await copyBlob(
    stream,
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(Buffer.from(chunk));
        cb();
      },
    }),
  );
  return Buffer.concat(chunks);
}

/** The blob services as the decorator sees them: what they answer, and what they were asked. */
function fakeRemote(answer: () => DirectReads | Error, url: (digest: string) => string | null = () => null) {
  const opened: OpenBlobRequest[] = [];
  let asked = 0;
  let urls = 0;
  const remote = {
    directReads: async () => {
      asked++;
      const a = answer();
      if (a instanceof Error) throw a;
      return a;
    },
    readUrl: async ({ digest }: { digest: string }) => {
      urls++;
      return url(digest);
    },
    openBlob: async (req: OpenBlobRequest) => {
      opened.push(req);
      if (req.digest.endsWith('0'.repeat(8))) throw new RegistryError('BLOB_UNKNOWN', undefined, req);
      return Readable.from([REMOTE]);
    },
  } as unknown as RemoteBlobApi;
  return {
    remote,
    opened,
    asked: () => asked,
    urls: () => urls,
  };
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
}

describe('directBlobReads', () => {
  let dir: string;
  let root: string;
  let store: FilesystemDriver;
  let storeId: string;
  let api: DirectBlobApi | undefined;
  const content = randomBytes(3 * 1024 * 1024 + 17);
  const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
  const absent = `sha256:${'a'.repeat(56)}${'0'.repeat(8)}`;

  beforeAll(() => {
    Logger.overrideLogger(false);
  });

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'wharf-direct-reads-'));
    root = path.join(dir, 'blobs');
    store = new FilesystemDriver(root);
    storeId = await store.storeId();
    await store.putBlob(digest, content);
  });

  afterEach(async () => {
    await api?.close();
    api = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a committed blob from the shared root when the ids match, whole and ranged, through the fast copy path', async () => {
    const fake = fakeRemote(() => ({ storeId, urls: false }));
    api = directBlobReads(fake.remote, { storageRoot: root });
    const before = reads('filesystem');
    const whole = await api.openBlob({ digest });
    expect(WRITE_TO in whole).toBe(true);
    expect((await collect(whole)).equals(content)).toBe(true);
    const range = { start: 1_000_000, end: 2_500_000 };
    const part = await collect(await api.openBlob({ digest, range }));
    expect(part.equals(content.subarray(range.start, range.end + 1))).toBe(true);
    expect(fake.opened).toEqual([]);
    expect(reads('filesystem') - before).toBe(2);
    // Other operations are the blob services' own.
    expect(api.directReads).toBe(fake.remote.directReads);
  });

  it.each([
    [
      'the blob services report another store',
      () => ({ storeId: '00000000-0000-4000-8000-000000000000', urls: false }),
    ],
    ['the blob services have no filesystem store', () => ({ storeId: null, urls: false })],
    ['the blob services cannot say (an older release)', () => new RegistryError('UNAVAILABLE')],
  ])('reads over the data port when %s', async (_why, answer) => {
    const fake = fakeRemote(answer);
    api = directBlobReads(fake.remote, { storageRoot: root });
    const before = reads('data_port');
    expect((await collect(await api.openBlob({ digest }))).equals(REMOTE)).toBe(true);
    expect(fake.opened).toEqual([{ digest }]);
    expect(reads('data_port') - before).toBe(1);
  });

  it('reads over the data port when its own root holds no id, or it has no root', async () => {
    const fake = fakeRemote(() => ({ storeId, urls: false }));
    const copy = path.join(dir, 'copy');
    await new FilesystemDriver(copy).putBlob(digest, content);
    api = directBlobReads(fake.remote, { storageRoot: copy });
    await collect(await api.openBlob({ digest }));
    await api.close();
    api = directBlobReads(fake.remote, {});
    await collect(await api.openBlob({ digest }));
    expect(fake.opened).toEqual([{ digest }, { digest }]);
  });

  it('a file missing or shorter than the range is read over the data port, whose answer (or error) stands', async () => {
    const fake = fakeRemote(() => ({ storeId, urls: false }));
    api = directBlobReads(fake.remote, { storageRoot: root });
    await expect(api.openBlob({ digest: absent })).rejects.toMatchObject({ code: 'BLOB_UNKNOWN' });
    await truncate(path.join(root, 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7), 'data'), 1000);
    const range = { start: 500, end: 5000 };
    expect((await collect(await api.openBlob({ digest, range }))).equals(REMOTE)).toBe(true);
    expect(fake.opened).toEqual([{ digest: absent }, { digest, range }]);
  });

  it('asks again after refreshMs: keeps reading files while the blob services are away, stops when the ids part', async () => {
    let now = 1_000;
    let answer: DirectReads | Error = { storeId, urls: false };
    const fake = fakeRemote(() => answer);
    api = directBlobReads(fake.remote, { storageRoot: root, refreshMs: 10_000, now: () => now });
    await collect(await api.openBlob({ digest }));
    expect(fake.asked()).toBe(1);

    // Blob services gone: what they said of their store still holds for the files in it.
    answer = new RegistryError('UNAVAILABLE');
    now += 10_000;
    await collect(await api.openBlob({ digest }));
    await until(() => fake.asked() === 2);
    await collect(await api.openBlob({ digest }));
    expect(fake.opened).toEqual([]);

    // Back, on another store: the answer is used from the first read after it arrived.
    answer = { storeId: '00000000-0000-4000-8000-000000000000', urls: false };
    now += 10_000;
    await collect(await api.openBlob({ digest }));
    await until(() => fake.asked() === 3);
    await collect(await api.openBlob({ digest }));
    expect(fake.opened).toEqual([{ digest }]);
  });

  describe('URLs on the store', () => {
    let server: Server;
    let served: { range?: string; path: string }[];
    let status: number;
    let base: string;

    beforeEach(async () => {
      served = [];
      status = 200;
      server = createServer((req, res) => {
        served.push({ range: req.headers.range, path: req.url! });
        if (status !== 200) return void res.writeHead(status).end('<Error/>');
        const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
        if (!m) return void res.writeHead(200, { 'content-length': content.length }).end(content);
        const [start, end] = [Number(m[1]), Number(m[2])];
        res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${content.length}` });
        res.end(content.subarray(start, end + 1));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    afterEach(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });

    it('fetches the URL the blob service presigned, with the range, and streams the answer', async () => {
      const fake = fakeRemote(
        () => ({ storeId: null, urls: true }),
        (d) => `${base}/bucket/${d.slice(7)}?X-Amz-Signature=x`,
      );
      api = directBlobReads(fake.remote, { storageRoot: root });
      const before = reads('url');
      expect((await collect(await api.openBlob({ digest }))).equals(content)).toBe(true);
      const range = { start: 10, end: 99_999 };
      const part = await collect(await api.openBlob({ digest, range }));
      expect(part.equals(content.subarray(10, 100_000))).toBe(true);
      expect(served).toEqual([
        { path: `/bucket/${digest.slice(7)}?X-Amz-Signature=x`, range: undefined },
        { path: `/bucket/${digest.slice(7)}?X-Amz-Signature=x`, range: 'bytes=10-99999' },
      ]);
      // One URL per read: none is kept.
      expect(fake.urls()).toBe(2);
      expect(fake.opened).toEqual([]);
      expect(reads('url') - before).toBe(2);
    });

    it('a 404, an expired URL or no URL at all: the data port answers', async () => {
      let url: string | null = `${base}/bucket/x`;
      const fake = fakeRemote(
        () => ({ storeId: null, urls: true }),
        () => url,
      );
      api = directBlobReads(fake.remote, { storageRoot: root });
      status = 404;
      await expect(api.openBlob({ digest: absent })).rejects.toMatchObject({ code: 'BLOB_UNKNOWN' });
      status = 403;
      expect((await collect(await api.openBlob({ digest }))).equals(REMOTE)).toBe(true);
      url = null;
      expect((await collect(await api.openBlob({ digest }))).equals(REMOTE)).toBe(true);
      expect(fake.opened).toHaveLength(3);
    });

    it('a store it cannot reach is left alone for a while', async () => {
      let now = 1_000;
      const fake = fakeRemote(
        () => ({ storeId: null, urls: true }),
        () => 'http://127.0.0.1:1/bucket/x',
      );
      api = directBlobReads(fake.remote, { now: () => now });
      await collect(await api.openBlob({ digest }));
      await collect(await api.openBlob({ digest }));
      expect(fake.urls()).toBe(1);
      expect(fake.opened).toHaveLength(2);
      now += 31_000;
      await collect(await api.openBlob({ digest }));
      expect(fake.urls()).toBe(2);
    });
  });
});
