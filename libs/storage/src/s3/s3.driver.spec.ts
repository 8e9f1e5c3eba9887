import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { Client } from 'minio';
import type { UploadHandle } from '../driver';
import { InvalidStorageKeyError } from '../errors';
import { runBlobDriverSuite, startS3TestServer, type S3Operation, type S3TestServer } from '../testing';
import { KiB, MiB, PartLayout } from './part-layout';
import { S3Driver } from './s3.driver';
import { parseS3Endpoint, type S3DriverOptions } from './s3-options';
import type { S3UploadHandle } from './upload-state';

let server: S3TestServer;

beforeAll(async () => {
  server = await startS3TestServer({ minPartSize: 0 });
});

afterAll(() => server?.stop());

function optionsFor(prefix: string, extra: Partial<S3DriverOptions> = {}): S3DriverOptions {
  return {
    endPoint: server.host,
    port: server.port,
    useSSL: false,
    region: server.region,
    accessKey: server.accessKey,
    secretKey: server.secretKey,
    bucket: server.bucket,
    prefix,
    partSize: 64 * KiB,
    allowSmallParts: true,
    ...extra,
  };
}

function rawClient(): Client {
  return new Client({
    endPoint: server.host,
    port: server.port,
    useSSL: false,
    region: server.region,
    accessKey: server.accessKey,
    secretKey: server.secretKey,
  });
}

async function listKeys(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const item of rawClient().listObjectsV2(server.bucket, prefix, true)) {
    if (item.name) keys.push(item.name);
  }
  return keys.sort();
}

async function removeAll(prefix: string): Promise<void> {
  const keys = await listKeys(prefix);
  if (keys.length) await rawClient().removeObjects(server.bucket, keys);
}

runBlobDriverSuite('s3 (64 KiB parts)', async () => {
  const prefix = `t-${randomUUID()}/`;
  return {
    driver: new S3Driver(optionsFor(prefix)),
    reopen: () => new S3Driver(optionsFor(prefix)),
    cleanup: () => removeAll(prefix),
  };
});

describe('S3Driver', () => {
  let prefix: string;
  let driver: S3Driver;

  beforeEach(() => {
    prefix = `t-${randomUUID()}/`;
    driver = new S3Driver(optionsFor(prefix));
    server.takeOperations();
  });

  afterEach(() => removeAll(prefix));

  async function append(d: S3Driver, handle: UploadHandle, offset: number, ...chunks: Buffer[]) {
    return d.appendUpload(handle, offset, Readable.from(chunks));
  }

  const names = (ops: S3Operation[]) => ops.map((o) => o.name);

  it('an upload of 200 parts commits with server-side copies only and reads back', async () => {
    const content = randomBytes(200 * 64 * KiB + 1000);
    let handle = await driver.createUpload(randomUUID());
    let offset = 0;
    // Chunk sizes that never line up with part boundaries.
    for (const size of [3 * MiB + 17, 5 * MiB - 1, content.length - (8 * MiB + 16)]) {
      ({ handle } = await append(driver, handle, offset, content.subarray(offset, offset + size)));
      offset += size;
    }
    expect((handle as S3UploadHandle).parts).toEqual([
      expect.objectContaining({ count: 48 }),
      expect.objectContaining({ count: 80 }),
      expect.objectContaining({ count: 72 }),
    ]);
    expect((handle as S3UploadHandle).tail?.size).toBe(1000);

    server.takeOperations();
    await driver.commitUpload(handle, content.length, digestOf(content));
    const operations = server.takeOperations();
    const ops = names(operations);
    expect(ops.filter((n) => n === 'UploadPartCopy')).toHaveLength(201);
    expect(ops).toContain('CompleteMultipartUpload');
    expect(ops).not.toContain('UploadPart');
    expect(ops).not.toContain('GetObject');
    // The one PUT is the small record of the multipart upload's id, no blob bytes.
    expect(operations.filter((o) => o.name === 'PutObject').map((o) => o.key)).toEqual([
      expect.stringMatching(/\/commit-[0-9a-f]{16}$/),
    ]);

    expect(await digestOfStream(driver.read(digestOf(content)))).toBe(digestOf(content));
    expect(await listKeys(prefix)).toEqual([driver.layout.blobKey(digestOf(content))]);
  }, 120_000);

  it('stores a blob at <prefix>blobs/<algorithm>/<2 hex>/<hex>', async () => {
    const content = randomBytes(10);
    const hex = digestOf(content).slice('sha256:'.length);
    await driver.putBlob(digestOf(content), content);
    expect(await listKeys(prefix)).toEqual([`${prefix}blobs/sha256/${hex.slice(0, 2)}/${hex}`]);
  });

  it('a single-object blob commits with one CopyObject', async () => {
    const content = randomBytes(1000);
    const { handle } = await append(driver, await driver.createUpload(randomUUID()), 0, content);
    server.takeOperations();
    await driver.commitUpload(handle, content.length, digestOf(content));
    const ops = names(server.takeOperations());
    expect(ops).toContain('CopyObject');
    expect(ops).not.toContain('CreateMultipartUpload');
    expect(await digestOfStream(driver.read(digestOf(content)))).toBe(digestOf(content));
  });

  it('a commit shorter than the upload cuts inside a full part and keeps exactly size bytes', async () => {
    const content = randomBytes(200 * KiB);
    for (const size of [100 * KiB + 7, 10 * KiB]) {
      const { handle } = await append(driver, await driver.createUpload(randomUUID()), 0, content);
      const part = content.subarray(0, size);
      await driver.commitUpload(handle, size, digestOf(part));
      expect(await digestOfStream(driver.read(digestOf(part)))).toBe(digestOf(part));
    }
  });

  it('another driver instance continues an upload from its handle round-tripped through JSON', async () => {
    const content = randomBytes(300 * KiB + 5);
    const first = await append(
      driver,
      await driver.createUpload(randomUUID()),
      0,
      content.subarray(0, 100 * KiB),
    );
    const stored = JSON.parse(JSON.stringify(first.handle)) as UploadHandle;

    // A replica configured with another part size still cuts this upload the way it started.
    const replica = new S3Driver(optionsFor(prefix, { partSize: 128 * KiB }));
    expect(await digestOfStream(replica.readUpload(stored, 100 * KiB))).toBe(
      digestOf(content.subarray(0, 100 * KiB)),
    );
    const second = await append(replica, stored, 100 * KiB, content.subarray(100 * KiB));
    expect((second.handle as S3UploadHandle).partSize).toBe(64 * KiB);
    const again = JSON.parse(JSON.stringify(second.handle)) as UploadHandle;

    expect(await digestOfStream(driver.readUpload(again, content.length))).toBe(digestOf(content));
    await driver.commitUpload(again, content.length, digestOf(content));
    expect(await digestOfStream(replica.read(digestOf(content)))).toBe(digestOf(content));
  });

  it('a retry from the old handle after an append failed midway ignores every byte the failed append wrote', async () => {
    const accepted = randomBytes(100 * KiB);
    const { handle } = await append(driver, await driver.createUpload(randomUUID()), 0, accepted);
    const before = await listKeys(driver.layout.uploadPrefix(uploadIdOf(handle)));

    let pushed = 0;
    const failing = new Readable({
      read() {
        // Enough to complete several parts (new objects) before the client goes away.
        if (pushed < 300 * KiB) {
          pushed += 50 * KiB;
          this.push(randomBytes(50 * KiB));
        } else {
          this.destroy(new Error('client went away'));
        }
      },
    });
    await expect(driver.appendUpload(handle, accepted.length, failing)).rejects.toThrow('client went away');
    const afterCrash = await listKeys(driver.layout.uploadPrefix(uploadIdOf(handle)));
    expect(afterCrash.length).toBeGreaterThan(before.length);
    // Nothing the old handle references was touched.
    expect(afterCrash).toEqual(expect.arrayContaining(before));

    const retried = randomBytes(150 * KiB);
    const result = await append(driver, handle, accepted.length, retried);
    const content = Buffer.concat([accepted, retried]);
    expect(result.written).toBe(retried.length);
    expect(await digestOfStream(driver.readUpload(result.handle, content.length))).toBe(digestOf(content));
    await driver.commitUpload(result.handle, content.length, digestOf(content));

    expect(await digestOfStream(driver.read(digestOf(content)))).toBe(digestOf(content));
    // Commit sweeps the upload's prefix, the crashed append's objects included.
    expect(await listKeys(driver.layout.uploadPrefix(uploadIdOf(handle)))).toEqual([]);
  });

  it('the next append deletes the tail an append superseded, so small appends do not pile up objects', async () => {
    let handle = await driver.createUpload(randomUUID());
    const id = uploadIdOf(handle);
    const chunks: Buffer[] = [];
    for (let i = 0; i < 10; i++) {
      const chunk = randomBytes(1000);
      ({ handle } = await append(driver, handle, i * 1000, chunk));
      chunks.push(chunk);
      // The marker, the current tail and at most the one superseded tail awaiting deletion.
      expect((await listKeys(driver.layout.uploadPrefix(id))).length).toBeLessThanOrEqual(3);
    }
    expect(await digestOfStream(driver.readUpload(handle, 10_000))).toBe(digestOf(Buffer.concat(chunks)));
  });

  it('committing content that already exists copies nothing and removes the upload', async () => {
    const content = randomBytes(100 * KiB);
    const digest = digestOf(content);
    await driver.putBlob(digest, content);
    const { handle } = await append(driver, await driver.createUpload(randomUUID()), 0, content);

    server.takeOperations();
    await driver.commitUpload(handle, content.length, digest);
    const ops = names(server.takeOperations());
    expect(ops).not.toContain('CopyObject');
    expect(ops).not.toContain('UploadPartCopy');
    expect(ops).not.toContain('CreateMultipartUpload');
    expect(await listKeys(prefix)).toEqual([driver.layout.blobKey(digest)]);
  });

  it.each(['an abort', 'a retried commit'])(
    '%s also aborts the multipart upload a commit killed mid-way left open',
    async (next) => {
      const content = randomBytes(150 * KiB);
      const digest = digestOf(content);
      const { handle } = await append(driver, await driver.createUpload(randomUUID()), 0, content);
      // What a commit leaves when its process dies between two UploadPartCopy requests.
      const raw = rawClient();
      const key = driver.layout.blobKey(digest);
      const uploadId = await raw.initiateNewMultipartUpload(server.bucket, key, {});
      await raw.uploadPart(
        { bucketName: server.bucket, objectName: key, uploadID: uploadId, partNumber: 1, headers: {} },
        content.subarray(0, 64 * KiB),
      );
      const record = `${driver.layout.uploadPrefix(uploadIdOf(handle))}commit-0123456789abcdef`;
      await raw.putObject(server.bucket, record, Buffer.from(JSON.stringify({ key, uploadId })));

      if (next === 'an abort') await driver.abortUpload(handle);
      else await driver.commitUpload(handle, content.length, digest);

      await expect(raw.abortMultipartUpload(server.bucket, key, uploadId)).rejects.toMatchObject({
        code: 'NoSuchUpload',
      });
      expect(await listKeys(driver.layout.uploadPrefix(uploadIdOf(handle)))).toEqual([]);
    },
  );

  it('a commit retried after the blob became visible succeeds without copying again', async () => {
    const content = randomBytes(2000);
    const { handle } = await append(driver, await driver.createUpload(randomUUID()), 0, content);
    await driver.commitUpload(handle, content.length, digestOf(content));
    await expect(driver.commitUpload(handle, content.length, digestOf(content))).resolves.toBeUndefined();
  });

  it('an append that would pass 10,000 parts is refused before anything is written', async () => {
    const handle: S3UploadHandle = {
      driver: 's3',
      id: randomUUID(),
      partSize: 64 * KiB,
      parts: [{ token: '0123456789abcdef', count: 10_000 }],
      tail: null,
      stale: [],
    };
    const size = new PartLayout(64 * KiB).startOf(10_001);
    server.takeOperations();
    await expect(append(driver, handle, size, Buffer.from('x'))).rejects.toThrow(RangeError);
    expect(names(server.takeOperations()).filter((n) => n !== 'DeleteObjects')).toEqual([]);
  });

  describe('presigned URLs', () => {
    it('fetch the blob with plain fetch, signed for the public endpoint rather than the internal one', async () => {
      const content = randomBytes(3000);
      const digest = digestOf(content);
      await driver.putBlob(digest, content);
      const pub = new S3Driver(
        optionsFor(prefix, { publicEndpoint: { endPoint: 'localhost', port: server.port } }),
      );

      const url = new URL(await pub.presignedGetUrl(digest, 60));
      expect(url.host).toBe(`localhost:${server.port}`);
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer())).toEqual(content);

      const ranged = await fetch(url, { headers: { range: 'bytes=10-19' } });
      expect(ranged.status).toBe(206);
      expect(Buffer.from(await ranged.arrayBuffer())).toEqual(content.subarray(10, 20));

      // The signature covers the host: the same URL through another name is refused.
      const internal = new URL(url);
      internal.host = `${server.host}:${server.port}`;
      expect((await fetch(internal)).status).toBe(403);
    });

    it('internal ones are signed for the endpoint the driver uses, whatever the public endpoint', async () => {
      const content = randomBytes(3000);
      const digest = digestOf(content);
      await driver.putBlob(digest, content);
      const pub = new S3Driver(
        optionsFor(prefix, { publicEndpoint: { endPoint: 'localhost', port: server.port } }),
      );
      const url = new URL(await pub.internalGetUrl(digest, 60));
      expect(url.host).toBe(`${server.host}:${server.port}`);
      const ranged = await fetch(url, { headers: { range: 'bytes=10-19' } });
      expect(ranged.status).toBe(206);
      expect(Buffer.from(await ranged.arrayBuffer())).toEqual(content.subarray(10, 20));
      await expect(pub.internalGetUrl(digest, 0)).rejects.toThrow(RangeError);
    });

    it('expire, and only cover the object they were signed for', async () => {
      const content = randomBytes(10);
      await driver.putBlob(digestOf(content), content);
      const url = new URL(await driver.presignedGetUrl(digestOf(content), 1));
      const other = new URL(url);
      other.pathname = other.pathname.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
      expect((await fetch(other)).status).toBe(403);
      await new Promise((r) => setTimeout(r, 2100));
      expect((await fetch(url)).status).toBe(403);
    });

    it.each([0, -1, 1.5, 8 * 24 * 3600])('refuse an expiry of %d seconds', async (seconds) => {
      await expect(driver.presignedGetUrl(digestOf(Buffer.from('x')), seconds)).rejects.toThrow(RangeError);
    });
  });

  describe('the test server', () => {
    it('refuses unsigned requests, so a driver that forgets to sign fails', async () => {
      await driver.putBlob(digestOf(Buffer.from('x')), Buffer.from('x'));
      const res = await fetch(
        `${server.endpoint}/${server.bucket}/${driver.layout.blobKey(digestOf(Buffer.from('x')))}`,
      );
      expect(res.status).toBe(403);
      expect(await res.text()).toContain('<Code>AccessDenied</Code>');
    });

    it('refuses requests signed with another secret', async () => {
      const wrong = new S3Driver(optionsFor(prefix, { secretKey: 'not-the-secret' }));
      await driver.putBlob(digestOf(Buffer.from('x')), Buffer.from('x'));
      // HEAD answers carry no body, so the client only sees a 403.
      await expect(wrong.stat(digestOf(Buffer.from('x')))).rejects.toMatchObject({ code: 'AccessDenied' });
      await expect(wrong.read(digestOf(Buffer.from('x')))).rejects.toMatchObject({
        code: 'SignatureDoesNotMatch',
      });
    });
  });

  describe('hostile input', () => {
    const hostileDigests = [
      'sha256:../../etc',
      'sha256:ab/cd',
      'sha256:ABCDEF',
      'sha256:',
      ':abcd',
      'sha256:ab\n',
      '',
    ];
    const hostileIds = ['../x', '..', '', 'a/b', 'x\0', 'a.b', 'x'.repeat(200)];
    const token = '0123456789abcdef';
    const valid = (): S3UploadHandle => ({
      driver: 's3',
      id: randomUUID(),
      partSize: 64 * KiB,
      parts: [{ token, count: 1 }],
      tail: { token, size: 10 },
      stale: [],
    });

    it.each(hostileDigests)('digest %j is rejected before any request', async (digest) => {
      const invalid = expect.any(InvalidStorageKeyError);
      await expect(driver.stat(digest)).rejects.toEqual(invalid);
      await expect(driver.read(digest)).rejects.toEqual(invalid);
      await expect(driver.read(digest, { start: 0, end: 0 })).rejects.toEqual(invalid);
      await expect(driver.delete(digest)).rejects.toEqual(invalid);
      await expect(driver.putBlob(digest, Buffer.from('x'))).rejects.toEqual(invalid);
      await expect(driver.commitUpload(valid(), 0, digest)).rejects.toEqual(invalid);
      await expect(driver.presignedGetUrl(digest, 60)).rejects.toEqual(invalid);
      expect(server.takeOperations()).toEqual([]);
    });

    it.each(hostileIds)('upload id %j is rejected before any request', async (id) => {
      const invalid = expect.any(InvalidStorageKeyError);
      const handle = { ...valid(), id };
      await expect(driver.createUpload(id)).rejects.toEqual(invalid);
      await expect(append(driver, handle, 0, Buffer.from('x'))).rejects.toEqual(invalid);
      await expect(driver.readUpload(handle, 0)).rejects.toEqual(invalid);
      await expect(driver.commitUpload(handle, 0, digestOf(Buffer.alloc(0)))).rejects.toEqual(invalid);
      await expect(driver.abortUpload(handle)).rejects.toEqual(invalid);
      expect(server.takeOperations()).toEqual([]);
    });

    it.each([
      ['another driver', { driver: 'filesystem' }],
      ['a token with a path in it', { parts: [{ token: '../../blobs/x', count: 1 }] }],
      ['a zero-length run', { parts: [{ token, count: 0 }] }],
      ['more than 10,000 parts', { parts: [{ token, count: 10_001 }] }],
      ['a tail as long as its part', { tail: { token, size: 64 * KiB } }],
      ['an empty tail', { tail: { token, size: 0 } }],
      ['a stale key outside the upload', { stale: ['../../blobs/sha256/ab/abcd'] }],
      ['a part size of 0', { partSize: 0 }],
      ['a missing field', { tail: undefined }],
    ])('a handle with %s is rejected before any request', async (_what, change) => {
      const handle = { ...valid(), ...change } as UploadHandle;
      const invalid = expect.any(InvalidStorageKeyError);
      await expect(append(driver, handle, 0, Buffer.from('x'))).rejects.toEqual(invalid);
      await expect(driver.readUpload(handle, 1)).rejects.toEqual(invalid);
      await expect(driver.abortUpload(handle)).rejects.toEqual(invalid);
      expect(server.takeOperations()).toEqual([]);
    });
  });

  describe('options', () => {
    it('refuse parts below 5 MiB unless small parts are allowed explicitly', () => {
      expect(() => new S3Driver(optionsFor(prefix, { allowSmallParts: false }))).toThrow(RangeError);
      expect(
        () => new S3Driver(optionsFor(prefix, { partSize: undefined, allowSmallParts: false })),
      ).not.toThrow();
      expect(() => new S3Driver(optionsFor(prefix, { partSize: 6 * 1024 * MiB }))).toThrow(RangeError);
    });

    it.each(['../x/', '/abs/', 'a//b/', 'a b/', './'])('refuse the key prefix %j', (bad) => {
      expect(() => new S3Driver(optionsFor(bad))).toThrow(RangeError);
    });

    it('accept a prefix without its trailing slash', () => {
      expect(new S3Driver(optionsFor('wharf')).layout.uploadPrefix('abc')).toBe('wharf/uploads/abc/');
    });

    it.each([
      ['http://minio:9000', { endPoint: 'minio', port: 9000, useSSL: false }],
      ['https://s3.example.com', { endPoint: 's3.example.com', port: 443, useSSL: true }],
      ['http://[::1]:9000/', { endPoint: '::1', port: 9000, useSSL: false }],
    ])('parse the endpoint %s', (url, expected) => {
      expect(parseS3Endpoint(url)).toEqual(expected);
    });

    it.each(['minio:9000', 'ftp://minio', 'http://minio:9000/bucket', 'http://user:pw@minio'])(
      'refuse the endpoint %s',
      (url) => {
        expect(() => parseS3Endpoint(url)).toThrow(RangeError);
      },
    );
  });
});

function uploadIdOf(handle: UploadHandle): string {
  return (handle as S3UploadHandle).id;
}

function digestOf(content: Buffer): string {
  return `sha256:${createHash('sha256').update(content).digest('hex')}`;
}

// Bytes are compared by digest: jest's toEqual walks a Buffer byte by byte, minutes for megabytes.
async function digestOfStream(opening: Promise<Readable>): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of await opening) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}
