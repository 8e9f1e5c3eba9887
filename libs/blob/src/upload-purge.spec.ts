/**
 * Expired upload sessions on S3: the purge (on every blob replica, FOR UPDATE SKIP LOCKED) deletes
 * the session, its part objects, and aborts a multipart upload a commit killed mid-way left open.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { Client } from 'minio';
import type { DataSource } from 'typeorm';
import { S3Driver } from '@wharf/storage';
import { startS3TestServer, type S3TestServer } from '@wharf/storage/testing';
import { openBlobDataSource } from './blob.module';
import { BlobService } from './blob.service';

const pgEnv = {
  ...process.env,
  PGHOST: process.env.PGHOST ?? '127.0.0.1',
  PGUSER: process.env.PGUSER ?? 'postgres',
};
const dbName = `wharf_purge_${randomBytes(6).toString('hex')}`;
const TTL_MS = 400;

describe('upload purge on S3', () => {
  let ds: DataSource;
  let server: S3TestServer;
  let driver: S3Driver;
  let raw: Client;
  let service: BlobService;

  beforeAll(async () => {
    execFileSync('createdb', [dbName], { env: pgEnv });
    ds = await openBlobDataSource({
      databaseUrl: `postgres://${pgEnv.PGUSER}@${pgEnv.PGHOST}:5432/${dbName}`,
      poolSize: 4,
      timeoutMs: 10_000,
    });
    server = await startS3TestServer({ minPartSize: 0 });
    const access = {
      endPoint: server.host,
      port: server.port,
      useSSL: false,
      region: server.region,
      accessKey: server.accessKey,
      secretKey: server.secretKey,
    };
    driver = new S3Driver({
      ...access,
      bucket: server.bucket,
      prefix: 'p/',
      partSize: 64 * 1024,
      allowSmallParts: true,
    });
    raw = new Client(access);
    service = new BlobService(ds, driver, { uploadTtlMs: TTL_MS });
  });

  afterAll(async () => {
    await ds?.destroy();
    await server?.stop();
    execFileSync('dropdb', ['--force', '--if-exists', dbName], { env: pgEnv });
  });

  async function keysUnder(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const item of raw.listObjectsV2(server.bucket, prefix, true))
      if (item.name) keys.push(item.name);
    return keys;
  }

  it('an expired session goes with its parts and the multipart upload of a crashed commit', async () => {
    const content = randomBytes(150 * 1024);
    const status = await service.startUpload({ repository: 'purge/app' });
    await service.appendUpload({
      repository: 'purge/app',
      id: status.id,
      chunk: { body: Readable.from([content]) },
    });
    // What a commit leaves when its process dies between two UploadPartCopy requests.
    const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
    const key = driver.layout.blobKey(digest);
    const uploadId = await raw.initiateNewMultipartUpload(server.bucket, key, {});
    const prefix = driver.layout.uploadPrefix(status.id);
    await raw.putObject(
      server.bucket,
      `${prefix}commit-0123456789abcdef`,
      Buffer.from(JSON.stringify({ key, uploadId })),
    );
    expect((await keysUnder(prefix)).length).toBeGreaterThan(2);

    // Not yet expired: the purge leaves it alone.
    expect(await service.purgeExpiredUploads()).toBe(0);
    await new Promise((r) => setTimeout(r, TTL_MS + 200));
    expect(await service.purgeExpiredUploads()).toBe(1);

    expect(await keysUnder(prefix)).toEqual([]);
    await expect(raw.abortMultipartUpload(server.bucket, key, uploadId)).rejects.toMatchObject({
      code: 'NoSuchUpload',
    });
    await expect(service.getUpload({ repository: 'purge/app', id: status.id })).rejects.toMatchObject({
      code: 'BLOB_UPLOAD_UNKNOWN',
    });
    expect(await driver.stat(digest)).toBeNull();
  });
});
