/**
 * The GC byte delete against real Postgres and the filesystem driver: it never removes bytes
 * committed after the collector's cutoff, and it serialises with a commit of the same digest.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { FilesystemDriver } from '@wharf/storage';
import { openBlobDataSource } from './blob.module';
import { commitBlob, deleteBlob } from './blob-lifecycle';
import { NO_FLUSH } from './no-flush';
import { BlobService } from './blob.service';

const pgEnv = {
  ...process.env,
  PGHOST: process.env.PGHOST ?? '127.0.0.1',
  PGUSER: process.env.PGUSER ?? 'postgres',
};

/** A database of the test's own with the blob schema migrated; `drop` closes and removes it. */
async function openScratchDatabase(
  prefix: string,
  poolSize: number,
): Promise<{ ds: DataSource; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  execFileSync('createdb', [name], { env: pgEnv });
  const ds = await openBlobDataSource({
    databaseUrl: `postgres://${pgEnv.PGUSER}@${pgEnv.PGHOST}:5432/${name}`,
    poolSize,
    timeoutMs: 10_000,
  });
  return {
    ds,
    drop: async () => {
      await ds.destroy();
      execFileSync('dropdb', ['--force', '--if-exists', name], { env: pgEnv });
    },
  };
}

describe('GC byte deletion', () => {
  let ds: DataSource;
  let drop: () => Promise<void>;
  let root: string;
  let driver: FilesystemDriver;

  beforeAll(async () => {
    ({ ds, drop } = await openScratchDatabase('wharf_blobgc', 6));
    root = mkdtempSync(join(tmpdir(), 'wharf-blobgc-'));
    driver = new FilesystemDriver(root);
  });

  afterAll(async () => {
    await drop?.();
    rmSync(root, { recursive: true, force: true });
  });

  async function put(): Promise<{ digest: string; content: Buffer }> {
    const content = randomBytes(1000);
    const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
    await commitBlob(ds, digest, content.length, () => driver.putBlob(digest, content));
    return { digest, content };
  }

  const dbNow = async (): Promise<Date> => (await ds.query('SELECT now() AS t'))[0].t as Date;

  it('deletes bytes and record committed before the cutoff', async () => {
    const { digest } = await put();
    const result = await deleteBlob(ds, driver, digest, await dbNow());
    expect(result).toEqual({ deleted: true, recorded: true, size: 1000 });
    expect(await driver.stat(digest)).toBeNull();
    expect(await ds.query('SELECT 1 FROM blob.blobs WHERE digest = $1', [digest])).toEqual([]);
  });

  it('keeps a blob committed again after the cutoff (a re-upload racing the collector)', async () => {
    const { digest, content } = await put();
    const cutoff = await dbNow();
    await commitBlob(ds, digest, content.length, () => driver.putBlob(digest, content));
    expect(await deleteBlob(ds, driver, digest, cutoff)).toEqual({
      deleted: false,
      recorded: true,
      size: 1000,
    });
    expect(await driver.stat(digest)).toEqual({ size: 1000 });
  });

  it('a commit waiting on a running delete writes the bytes afresh', async () => {
    const { digest, content } = await put();
    const cutoff = await dbNow();
    // The delete holds the digest lock while it removes the bytes; slow the removal down.
    const slow = new FilesystemDriver(root);
    const realDelete = slow.delete.bind(slow);
    let removing!: () => void;
    const started = new Promise<void>((r) => (removing = r));
    slow.delete = async (d: string) => {
      removing();
      await new Promise((r) => setTimeout(r, 300));
      await realDelete(d);
    };
    const deletion = deleteBlob(ds, slow, digest, cutoff);
    await started;
    await commitBlob(ds, digest, content.length, () => driver.putBlob(digest, content));
    expect((await deletion).deleted).toBe(true);
    expect(await driver.stat(digest)).toEqual({ size: 1000 });
    expect(await ds.query('SELECT size FROM blob.blobs WHERE digest = $1', [digest])).toEqual([
      { size: '1000' },
    ]);
  });

  it('a delete of a digest with no record removes stray bytes and reports nothing freed', async () => {
    const content = randomBytes(10);
    const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
    await driver.putBlob(digest, content);
    expect(await deleteBlob(ds, driver, digest, await dbNow())).toEqual({
      deleted: true,
      recorded: false,
      size: 0,
    });
    expect(await driver.stat(digest)).toBeNull();
  });

  it('a commit that ends an upload removes its session in the same transaction', async () => {
    const content = randomBytes(100);
    const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
    const id = randomUUID();
    await ds.query(`INSERT INTO blob.uploads (id, repository, handle) VALUES ($1, 'r', '{}')`, [id]);
    const failing = commitBlob(
      ds,
      digest,
      content.length,
      async () => {
        throw new Error('disk full');
      },
      id,
    );
    await expect(failing).rejects.toThrow('disk full');
    expect(await ds.query('SELECT 1 FROM blob.uploads WHERE id = $1', [id])).toHaveLength(1);

    await commitBlob(ds, digest, content.length, () => driver.putBlob(digest, content), id);
    expect(await ds.query('SELECT 1 FROM blob.uploads WHERE id = $1', [id])).toEqual([]);
    expect(await ds.query('SELECT size FROM blob.blobs WHERE digest = $1', [digest])).toEqual([
      { size: '100' },
    ]);
  });
});

describe('upload-session bookkeeping (NO_FLUSH)', () => {
  let ds: DataSource;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    ({ ds, drop } = await openScratchDatabase('wharf_noflush', 2));
  });

  afterAll(() => drop?.());

  it("commits the statement's own transaction without waiting for the flush, and only that one", async () => {
    const runner = ds.createQueryRunner();
    try {
      await runner.connect();
      const setting = async () => (await runner.query('SHOW synchronous_commit'))[0].synchronous_commit;
      expect(await setting()).toBe('on');
      const id = randomUUID();
      await runner.query(`INSERT INTO blob.uploads (id, repository, handle) VALUES ($1, 'r', '{}')`, [id]);
      await runner.startTransaction();
      // Evaluated as the row is produced: a statement that writes nothing has nothing to flush anyway.
      const updated = await runner.query(
        `UPDATE blob.uploads SET size = 1 FROM ${NO_FLUSH} WHERE id = $1 RETURNING id`,
        [id],
      );
      expect(updated[0]).toEqual([{ id }]);
      // What the commit of this transaction will read: the statement's SET LOCAL.
      expect(await setting()).toBe('off');
      await runner.commitTransaction();
      // The connection goes back to the pool as it came: later statements flush as before.
      expect(await setting()).toBe('on');
    } finally {
      await runner.release();
    }
  });
});

describe("listCommitted (the collector's walk over committed blobs)", () => {
  let ds: DataSource;
  let drop: () => Promise<void>;
  let root: string;

  beforeAll(async () => {
    ({ ds, drop } = await openScratchDatabase('wharf_walk', 2));
    root = mkdtempSync(join(tmpdir(), 'wharf-walk-'));
  });

  afterAll(async () => {
    await drop?.();
    rmSync(root, { recursive: true, force: true });
  });

  it('pages in commit order, each blob once, and only commits before `before`', async () => {
    const service = new BlobService(ds, new FilesystemDriver(root), { uploadTtlMs: 60_000 });
    const digests = Array.from(
      { length: 10 },
      (_, i) => `sha256:${createHash('sha256').update(String(i)).digest('hex')}`,
    );
    const insert = (digest: string, committedAt: string | null, createdAt = committedAt) =>
      ds.query('INSERT INTO blob.blobs (digest, size, committed_at, created_at) VALUES ($1, 1, $2, $3)', [
        digest,
        committedAt,
        createdAt,
      ]);
    // Five share one commit time to the microsecond (a page boundary falls inside them), one from
    // before committed_at existed (NULL: its created_at counts), three a microsecond apart, and one
    // committed after the cut.
    for (const d of digests.slice(0, 5)) await insert(d, '2026-01-01 00:00:00.123456+00');
    await insert(digests[5], null, '2026-01-01 00:00:00.5+00');
    for (const [i, d] of digests.slice(6, 9).entries())
      await insert(d, `2026-01-01 00:00:01.00000${i + 1}+00`);
    await insert(digests[9], '2026-01-02 00:00:00+00');

    const seen: string[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 20; i++) {
      const page = await service.listCommitted({
        before: new Date('2026-01-01T12:00:00Z'),
        after: cursor,
        limit: 2,
      });
      if (!page.digests.length) {
        expect(page.next).toBe(cursor);
        break;
      }
      seen.push(...page.digests);
      cursor = page.next;
    }
    expect(seen).toEqual([...digests.slice(0, 5).sort(), ...digests.slice(5, 9)]);
    // Committed again later: it comes round once more, after the rest.
    await ds.query(`UPDATE blob.blobs SET committed_at = '2026-01-01 06:00:00+00' WHERE digest = $1`, [
      digests[0],
    ]);
    expect(
      await service.listCommitted({ before: new Date('2026-01-01T12:00:00Z'), after: cursor, limit: 2 }),
    ).toEqual({
      digests: [digests[0]],
      next: expect.stringMatching(/\|sha256:/),
    });
    await expect(service.listCommitted({ before: new Date(), after: 'no cursor', limit: 2 })).rejects.toThrow(
      'malformed',
    );
  });
});
