/**
 * A chunk whose sender hangs up is refused, the upload stays open for the next chunk, and the
 * service (one process for many uploads) keeps running: against real Postgres and the filesystem
 * driver.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { DataSource } from 'typeorm';
import { FilesystemDriver, type UploadHandle } from '@wharf/storage';
import { openBlobDataSource } from './blob.module';
import { BlobService } from './blob.service';

const pgEnv = {
  ...process.env,
  PGHOST: process.env.PGHOST ?? '127.0.0.1',
  PGUSER: process.env.PGUSER ?? 'postgres',
};

/**
 * The filesystem driver with a slow open: the window in which a hang-up used to go unheard. The
 * test's hook runs in that window, after the service has wired the body to what the driver reads.
 */
class SlowOpenDriver extends FilesystemDriver {
  duringOpen?: () => void;

  override async appendUpload(
    handle: UploadHandle,
    offset: number,
    data: Readable,
  ): Promise<{ handle: UploadHandle; written: number }> {
    this.duringOpen?.();
    await new Promise((r) => setTimeout(r, 50));
    return super.appendUpload(handle, offset, data);
  }
}

describe('an upload chunk whose sender hangs up', () => {
  const name = `wharf_abort_${randomBytes(6).toString('hex')}`;
  let ds: DataSource;
  let root: string;

  beforeAll(async () => {
    execFileSync('createdb', [name], { env: pgEnv });
    ds = await openBlobDataSource({
      databaseUrl: `postgres://${pgEnv.PGUSER}@${pgEnv.PGHOST}:5432/${name}`,
      poolSize: 2,
      timeoutMs: 10_000,
    });
    root = mkdtempSync(join(tmpdir(), 'wharf-abort-'));
  });

  afterAll(async () => {
    await ds?.destroy();
    execFileSync('dropdb', ['--force', '--if-exists', name], { env: pgEnv });
    rmSync(root, { recursive: true, force: true });
  });

  it('before the driver reads it fails the append, not the process, and the upload continues', async () => {
    const driver = new SlowOpenDriver(root);
    const service = new BlobService(ds, driver, { uploadTtlMs: 60_000 });
    const session = await service.startUpload({ repository: 'team/app' });
    const body = new Readable({ read: () => undefined });
    body.push(Buffer.from('partial'));
    // As node:http fails a request whose client went away mid-body.
    driver.duringOpen = () => body.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    await expect(
      service.appendUpload({ repository: 'team/app', id: session.id, chunk: { body } }),
    ).rejects.toThrow();
    driver.duringOpen = undefined;
    const status = await service.appendUpload({
      repository: 'team/app',
      id: session.id,
      chunk: { body: Readable.from([Buffer.from('whole')]), range: { start: 0, end: 4 } },
    });
    expect(status.size).toBe(5);
  });

  it('while the lease is taken fails the append at once and releases the lease', async () => {
    const service = new BlobService(ds, new FilesystemDriver(root), { uploadTtlMs: 60_000 });
    const session = await service.startUpload({ repository: 'team/app' });
    const body = new Readable({ read: () => undefined });
    body.push(Buffer.from('partial'));
    // Without an 'error' listener node:http destroys the request silently, as here.
    body.destroy();
    await expect(
      service.appendUpload({ repository: 'team/app', id: session.id, chunk: { body } }),
    ).rejects.toThrow('aborted');
    const status = await service.appendUpload({
      repository: 'team/app',
      id: session.id,
      chunk: { body: Readable.from([Buffer.from('whole')]), range: { start: 0, end: 4 } },
    });
    expect(status.size).toBe(5);
  });
});
