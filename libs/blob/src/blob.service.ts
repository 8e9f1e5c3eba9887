import { randomUUID, createHash, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type {
  AppendUploadRequest,
  BlobApi,
  BlobDeletion,
  BlobRef,
  BlobStat,
  ChunkRequest,
  CommittedPage,
  CompleteUploadRequest,
  DeleteBlobRequest,
  ListCommittedRequest,
  OpenBlobRequest,
  PutBlobRequest,
  StartUploadRequest,
  UploadRef,
  UploadStatus,
} from '@wharf/contracts';
import { RegistryError, isValidUploadId, parseDigest, sha256, unknownUpload } from '@wharf/oci';
import type { BlobDriver, UploadHandle } from '@wharf/storage';
import { HashingPassThrough, hashStream } from './hashing';
import { commitBlob, deleteBlob } from './blob-lifecycle';
import { NO_FLUSH } from './no-flush';

export const BLOB_DATA_SOURCE = Symbol('BLOB_DATA_SOURCE');
export const BLOB_DRIVER = Symbol('BLOB_DRIVER');
export const BLOB_OPTIONS = Symbol('BLOB_OPTIONS');

export interface BlobServiceOptions {
  uploadTtlMs: number;
  /**
   * True when this process is the only writer of the blob schema (all-in-one): leases left by a
   * crashed predecessor are released at start instead of waiting for them to expire.
   */
  soleWriter?: boolean;
  /** WHARF_S3_REDIRECT: hand out presigned URLs for reads when the driver can make them. */
  redirect?: boolean;
}

// Distribution's choice: long enough for a slow pull of a big layer to start, short enough that a
// leaked URL soon stops working. S3 checks expiry when a request starts, not while it streams.
const REDIRECT_EXPIRY_SECONDS = 20 * 60;

// Short, constantly renewed leases: a replica that dies blocks its uploads for seconds, not minutes.
const LEASE_SECONDS = 20;
const LEASE_RENEW_MS = 5_000;

interface Lease {
  id: string;
  repository: string;
  token: string;
  size: number;
  handle: UploadHandle;
  renew: NodeJS.Timeout;
}

/**
 * Upload sessions and blob reads. Session state lives in Postgres so any replica can continue an
 * upload; the running SHA-256 is kept in memory by the replica that last wrote, and re-computed
 * from the stored bytes when another replica (or a restarted one) continues.
 */
@Injectable()
export class BlobService implements BlobApi, OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('BlobService');
  /** Hash state per upload, valid only while its `size` equals the session's size in Postgres. */
  private readonly hashers = new Map<string, { hash: Hash; size: number }>();
  private purgeTimer?: NodeJS.Timeout;

  constructor(
    @Inject(BLOB_DATA_SOURCE) private readonly ds: DataSource,
    @Inject(BLOB_DRIVER) private readonly driver: BlobDriver,
    @Inject(BLOB_OPTIONS) private readonly opts: BlobServiceOptions,
  ) {}

  async onModuleInit(): Promise<void> {
    if (this.opts.soleWriter) {
      await this.ds.query(
        'UPDATE blob.uploads SET lease_until = NULL, lease_token = NULL WHERE lease_token IS NOT NULL',
      );
    }
    const every = Math.max(1000, Math.min(this.opts.uploadTtlMs / 4, 10 * 60_000));
    this.purgeTimer = setInterval(() => {
      this.purgeExpiredUploads().catch((e) => this.log.warn(`upload purge failed: ${(e as Error).message}`));
    }, every);
    this.purgeTimer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.purgeTimer);
  }

  async startUpload({ repository }: StartUploadRequest): Promise<UploadStatus> {
    const id = randomUUID();
    const handle = await this.driver.createUpload(id);
    await this.ds.query(
      `INSERT INTO blob.uploads (id, repository, size, handle, updated_at)
       SELECT $1, $2, 0, $3, now() FROM ${NO_FLUSH}`,
      [id, repository, JSON.stringify(handle)],
    );
    this.hashers.set(id, { hash: createHash('sha256'), size: 0 });
    return this.status(id, repository, 0);
  }

  async getUpload({ repository, id }: UploadRef): Promise<UploadStatus> {
    if (!isValidUploadId(id)) throw unknownUpload(id);
    const rows: { size: string }[] = await this.ds.query(
      `SELECT size FROM blob.uploads WHERE id = $1 AND repository = $2
         AND updated_at > now() - $3 * interval '1 millisecond'`,
      [id, repository, this.opts.uploadTtlMs],
    );
    if (!rows.length) throw unknownUpload(id);
    return this.status(id, repository, Number(rows[0].size));
  }

  async appendUpload({ repository, id, chunk }: AppendUploadRequest): Promise<UploadStatus> {
    const lease = await this.lease(repository, id);
    try {
      const { size, handle } = await this.append(lease, chunk);
      await this.release(lease, size, handle);
      return this.status(id, repository, size);
    } catch (e) {
      await this.release(lease, lease.size, lease.handle).catch(() => undefined);
      throw e;
    }
  }

  async completeUpload({ repository, id, digest, chunk }: CompleteUploadRequest): Promise<BlobStat> {
    const parsed = parseDigest(digest);
    if (!parsed) throw new RegistryError('DIGEST_INVALID', 'invalid digest', { digest });
    if (parsed.algorithm !== 'sha256') {
      throw new RegistryError('DIGEST_INVALID', `unsupported digest algorithm ${parsed.algorithm}`, {
        digest,
      });
    }
    const lease = await this.lease(repository, id);
    let size = lease.size;
    let handle = lease.handle;
    try {
      if (chunk) ({ size, handle } = await this.append(lease, chunk));
      const hash = await this.hasherAt(lease.id, handle, size);
      const actual = `sha256:${hash.copy().digest('hex')}`;
      if (actual !== digest) {
        // The session is over either way: keeping bytes that hash to something else helps nobody.
        await this.discard(lease.id, handle);
        throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', {
          digest,
          actual,
        });
      }
      // One transaction, under the digest's GC lock: the blob is recorded and its session gone together.
      const committed = handle;
      await commitBlob(
        this.ds,
        digest,
        size,
        () => this.driver.commitUpload(committed, size, digest),
        lease.id,
      );
      this.hashers.delete(lease.id);
      clearInterval(lease.renew);
      return { digest, size };
    } catch (e) {
      clearInterval(lease.renew);
      await this.release(lease, size, handle).catch(() => undefined);
      // The driver holds fewer bytes than the session recorded (see append).
      if (e instanceof RangeError) throw new RegistryError('BLOB_UPLOAD_INVALID', e.message);
      throw e;
    }
  }

  async cancelUpload({ repository, id }: UploadRef): Promise<void> {
    if (!isValidUploadId(id)) throw unknownUpload(id);
    const deleted = rowsOf<{ handle: UploadHandle }>(
      await this.ds.query('DELETE FROM blob.uploads WHERE id = $1 AND repository = $2 RETURNING handle', [
        id,
        repository,
      ]),
    );
    if (!deleted.length) throw unknownUpload(id);
    this.hashers.delete(id);
    await this.driver.abortUpload(deleted[0].handle);
  }

  async statBlob({ digest }: BlobRef): Promise<BlobStat | null> {
    const rows: { size: string }[] = await this.ds.query('SELECT size FROM blob.blobs WHERE digest = $1', [
      digest,
    ]);
    return rows.length ? { digest, size: Number(rows[0].size) } : null;
  }

  async openBlob({ digest, range }: OpenBlobRequest): Promise<Readable> {
    try {
      return await this.driver.read(digest, range);
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT')
        throw new RegistryError('BLOB_UNKNOWN', undefined, { digest });
      throw e;
    }
  }

  async blobUrl({ digest }: BlobRef): Promise<string | null> {
    if (!this.opts.redirect || !this.driver.presignedGetUrl) return null;
    return this.driver.presignedGetUrl(digest, REDIRECT_EXPIRY_SECONDS);
  }

  async putBlob({ digest, content }: PutBlobRequest): Promise<BlobStat> {
    if (sha256(content) !== digest) throw new RegistryError('DIGEST_INVALID', undefined, { digest });
    await commitBlob(this.ds, digest, content.length, () => this.driver.putBlob(digest, content));
    return { digest, size: content.length };
  }

  async deleteBlob({ digest, notCommittedAfter }: DeleteBlobRequest): Promise<BlobDeletion> {
    if (!parseDigest(digest)) throw new RegistryError('DIGEST_INVALID', 'invalid digest', { digest });
    return deleteBlob(this.ds, this.driver, digest, notCommittedAfter);
  }

  async listCommitted({ before, after, limit }: ListCommittedRequest): Promise<CommittedPage> {
    const from = after === null ? null : parseCommittedCursor(after);
    // Keyset over (commit time, digest), the order of blob.blobs_committed; the time goes round
    // trip as Postgres text, so no microseconds are lost and no page repeats or skips a row.
    const rows: { digest: string; at: string }[] = await this.ds.query(
      `SELECT digest, COALESCE(committed_at, created_at)::text AS at FROM blob.blobs
       WHERE COALESCE(committed_at, created_at) < $1
         AND (COALESCE(committed_at, created_at), digest) > ($2::timestamptz, $3)
       ORDER BY COALESCE(committed_at, created_at), digest LIMIT $4`,
      [before, from?.at ?? '-infinity', from?.digest ?? '', limit],
    );
    const last = rows[rows.length - 1];
    return { digests: rows.map((r) => r.digest), next: last ? `${last.at}|${last.digest}` : after };
  }

  /** Deletes sessions idle for longer than the TTL, with their bytes; safe on every replica at once. */
  async purgeExpiredUploads(): Promise<number> {
    const rows: { id: string; handle: UploadHandle }[] = rowsOf(
      await this.ds.query(
        `DELETE FROM blob.uploads WHERE id IN (
           SELECT id FROM blob.uploads
           WHERE updated_at < now() - $1 * interval '1 millisecond' AND (lease_until IS NULL OR lease_until < now())
           LIMIT 500 FOR UPDATE SKIP LOCKED)
         RETURNING id, handle`,
        [this.opts.uploadTtlMs],
      ),
    );
    for (const row of rows) {
      this.hashers.delete(row.id);
      await this.driver.abortUpload(row.handle).catch(() => undefined);
    }
    return rows.length;
  }

  private status(id: string, repository: string, size: number): UploadStatus {
    return { id, repository, size, minChunkLength: 0 };
  }

  /** Takes the exclusive right to write an upload, renewed while a long chunk streams. */
  private async lease(repository: string, id: string): Promise<Lease> {
    if (!isValidUploadId(id)) throw unknownUpload(id);
    const token = randomUUID();
    const rows: { size: string; handle: UploadHandle }[] = rowsOf(
      await this.ds.query(
        `UPDATE blob.uploads SET lease_until = now() + $4 * interval '1 second', lease_token = $3
         FROM ${NO_FLUSH}
         WHERE id = $1 AND repository = $2 AND updated_at > now() - $5 * interval '1 millisecond'
           AND (lease_until IS NULL OR lease_until < now())
         RETURNING size, handle`,
        [id, repository, token, LEASE_SECONDS, this.opts.uploadTtlMs],
      ),
    );
    if (!rows.length) {
      await this.getUpload({ repository, id }); // BLOB_UPLOAD_UNKNOWN when it is not there at all
      throw new RegistryError('BLOB_UPLOAD_INVALID', 'another request is writing to this upload', { id });
    }
    const renew = setInterval(() => {
      this.ds
        .query(
          `UPDATE blob.uploads SET lease_until = now() + $3 * interval '1 second' FROM ${NO_FLUSH}
           WHERE id = $1 AND lease_token = $2`,
          [id, token, LEASE_SECONDS],
        )
        .catch(() => undefined);
    }, LEASE_RENEW_MS);
    renew.unref();
    return { id, repository, token, size: Number(rows[0].size), handle: rows[0].handle, renew };
  }

  private async release(lease: Lease, size: number, handle: UploadHandle): Promise<void> {
    clearInterval(lease.renew);
    const rows = rowsOf(
      await this.ds.query(
        `UPDATE blob.uploads SET size = $3, handle = $4, updated_at = now(), lease_until = NULL, lease_token = NULL
         FROM ${NO_FLUSH} WHERE id = $1 AND lease_token = $2 RETURNING id`,
        [lease.id, lease.token, size, JSON.stringify(handle)],
      ),
    );
    if (!rows.length) {
      this.hashers.delete(lease.id);
      throw new RegistryError('BLOB_UPLOAD_INVALID', 'upload lease was lost', { id: lease.id });
    }
  }

  private async append(lease: Lease, chunk: ChunkRequest): Promise<{ size: number; handle: UploadHandle }> {
    const { range, length } = chunk;
    if (range) {
      if (range.start !== lease.size || range.end < range.start) {
        chunk.body.resume();
        throw new RegistryError('RANGE_INVALID', `chunk must start at offset ${lease.size}`, {
          range: `${range.start}-${range.end}`,
          size: lease.size,
        });
      }
      if (length !== undefined && length !== range.end - range.start + 1) {
        chunk.body.resume();
        throw new RegistryError('SIZE_INVALID', 'Content-Length does not match Content-Range', { length });
      }
    }
    const hash = await this.hasherAt(lease.id, lease.handle, lease.size);
    // A sender that hung up while the lease was taken left a destroyed body that will emit nothing
    // more (node:http reports a hang-up only to 'error' listeners present at the time): piping it
    // would wait forever, renewing the lease.
    if (chunk.body.destroyed && !chunk.body.readableEnded)
      throw Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
    // Holds what the driver asks for (BlobDriver.readAhead says why it matters).
    const counter = new HashingPassThrough(hash, this.driver.readAhead);
    chunk.body.on('error', (e) => counter.destroy(e));
    // The sender may hang up before the driver listens to the counter (while it opens the file):
    // unheard, that 'error' would end the process. The driver still finds the counter destroyed.
    counter.on('error', () => undefined);
    chunk.body.pipe(counter);
    try {
      const { handle, written } = await this.driver.appendUpload(lease.handle, lease.size, counter);
      const expected = range ? range.end - range.start + 1 : length;
      if (written !== counter.bytes || (expected !== undefined && written !== expected)) {
        throw new RegistryError('SIZE_INVALID', 'the request body ended before the announced length', {
          expected,
          received: written,
        });
      }
      const size = lease.size + written;
      this.hashers.set(lease.id, { hash, size });
      return { size, handle };
    } catch (e) {
      // The hash has seen bytes that were not accepted; the next writer re-hashes from storage.
      this.hashers.delete(lease.id);
      // The driver cannot continue this upload (bytes lost in a machine crash, or past its limits).
      if (e instanceof RangeError) throw new RegistryError('BLOB_UPLOAD_INVALID', e.message);
      throw e;
    }
  }

  private async hasherAt(id: string, handle: UploadHandle, size: number): Promise<Hash> {
    const cached = this.hashers.get(id);
    if (cached && cached.size === size) return cached.hash;
    this.hashers.delete(id);
    try {
      return await hashStream(await this.driver.readUpload(handle, size));
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') throw unknownUpload(id);
      // Fewer bytes stored than the session recorded: a machine crash took chunks that were not yet
      // fsynced (the filesystem driver syncs at commit). The client must start the upload again.
      if (e instanceof RangeError)
        throw new RegistryError('BLOB_UPLOAD_INVALID', 'the upload lost bytes in a crash');
      throw e;
    }
  }

  private async discard(id: string, handle: UploadHandle): Promise<void> {
    this.hashers.delete(id);
    await this.ds.query('DELETE FROM blob.uploads WHERE id = $1', [id]);
    await this.driver.abortUpload(handle).catch(() => undefined);
  }
}

/** A listCommitted cursor: `<commit time as Postgres text>|<digest>` (a digest holds no `|`). */
function parseCommittedCursor(cursor: string): { at: string; digest: string } {
  const bar = cursor.lastIndexOf('|');
  if (bar <= 0) throw new RegistryError('UNKNOWN', 'malformed listCommitted cursor');
  return { at: cursor.slice(0, bar), digest: cursor.slice(bar + 1) };
}

/** TypeORM answers `[rows, count]` for UPDATE/DELETE ... RETURNING on Postgres. */
function rowsOf<T>(result: unknown): T[] {
  if (
    Array.isArray(result) &&
    result.length === 2 &&
    Array.isArray(result[0]) &&
    typeof result[1] === 'number'
  ) {
    return result[0] as T[];
  }
  return (result as T[]) ?? [];
}
