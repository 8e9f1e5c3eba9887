import type { DataSource, EntityManager } from 'typeorm';
import type { BlobDeletion } from '@wharf/contracts';
import type { BlobDriver } from '@wharf/storage';

/**
 * Commits and GC deletions of one digest never interleave: both hold a per-digest transaction
 * lock. A deletion re-reads `committed_at` under it, so bytes committed after the collector's
 * decision (a re-upload racing the collector) are kept, and a commit that waits for a deletion
 * writes its bytes afresh instead of trusting ones that are about to go.
 */
async function lockDigest(em: EntityManager, digest: string): Promise<void> {
  // Two-key form in a namespace of our own ('wblb'), so no other advisory lock user collides.
  await em.query('SELECT pg_advisory_xact_lock(2003987810, hashtext($1))', [digest]);
}

/**
 * Runs `store` (the driver's commit or put) and records the blob as committed now, in one
 * transaction under the digest lock; the upload session `endsUpload`, when given, goes with it.
 */
export function commitBlob(
  ds: DataSource,
  digest: string,
  size: number,
  store: () => Promise<void>,
  endsUpload?: string,
): Promise<void> {
  return ds.transaction(async (em) => {
    await lockDigest(em, digest);
    await store();
    // One statement for both: a small push is mostly round trips.
    await em.query(
      `WITH ended AS (DELETE FROM blob.uploads WHERE id = $3::uuid)
       INSERT INTO blob.blobs (digest, size, committed_at) VALUES ($1, $2, now())
       ON CONFLICT (digest) DO UPDATE SET committed_at = now()`,
      [digest, size, endsUpload ?? null],
    );
  });
}

/** See BlobApi.deleteBlob. Bytes go before the record: a crash in between leaves a record to retry. */
export function deleteBlob(
  ds: DataSource,
  driver: BlobDriver,
  digest: string,
  notCommittedAfter: Date,
): Promise<BlobDeletion> {
  return ds.transaction(async (em) => {
    await lockDigest(em, digest);
    const rows: { size: string; old: boolean }[] = await em.query(
      `SELECT size, COALESCE(committed_at, created_at) <= $2 AS old FROM blob.blobs WHERE digest = $1`,
      [digest, notCommittedAfter],
    );
    if (rows.length && !rows[0].old) return { deleted: false, recorded: true, size: Number(rows[0].size) };
    await driver.delete(digest);
    await em.query('DELETE FROM blob.blobs WHERE digest = $1', [digest]);
    return { deleted: true, recorded: rows.length > 0, size: rows.length ? Number(rows[0].size) : 0 };
  });
}
