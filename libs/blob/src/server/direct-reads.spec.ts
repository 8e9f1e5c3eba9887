import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Logger } from '@nestjs/common';
import { FilesystemDriver, type BlobDriver } from '@wharf/storage';
import { DirectReadGrants, READ_URL_SECONDS } from './direct-reads';

const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('what the blob service grants gateways for one-hop reads', () => {
  let dir: string;

  beforeAll(() => Logger.overrideLogger(false));
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'wharf-grants-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('filesystem: creates the store id at start and reports the one the root holds now', async () => {
    const root = path.join(dir, 'blobs');
    const grants = await DirectReadGrants.create(new FilesystemDriver(root));
    const id = (await readFile(path.join(root, 'store-id'), 'utf8')).trim();
    expect(await grants.directReads()).toEqual({ storeId: id, urls: false });
    expect(await grants.readUrl({ digest: DIGEST })).toBeNull();
    // Replaced by hand: what is reported is what a gateway would read.
    await writeFile(path.join(root, 'store-id'), 'garbage');
    expect(await grants.directReads()).toEqual({ storeId: null, urls: false });
  });

  it('S3: no store id, and short-lived URLs for the endpoint the driver uses', async () => {
    const asked: [string, number][] = [];
    const driver = {
      name: 's3',
      internalGetUrl: async (digest: string, seconds: number) => {
        asked.push([digest, seconds]);
        return 'http://minio:9000/bucket/key?X-Amz-Signature=x';
      },
    } as unknown as BlobDriver;
    const grants = await DirectReadGrants.create(driver);
    expect(await grants.directReads()).toEqual({ storeId: null, urls: true });
    expect(await grants.readUrl({ digest: DIGEST })).toBe('http://minio:9000/bucket/key?X-Amz-Signature=x');
    expect(asked).toEqual([[DIGEST, READ_URL_SECONDS]]);
    expect(READ_URL_SECONDS).toBeLessThanOrEqual(60);
  });
});
