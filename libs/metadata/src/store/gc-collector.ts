import { queryRows, type Queryable } from '@wharf/database';

// The collector's statements (gc/collector.ts): each claims one due row of a queue with
// FOR UPDATE SKIP LOCKED, so any number of workers share the queues, then judges it under locks.
// Every one of them runs inside the collector's short transaction for that row.

/** A collector transaction waits at most this long for a client's lock (SET LOCAL: this transaction only). */
export async function limitLockWait(tx: Queryable, timeout: `${number}ms`): Promise<void> {
  await tx.query(`SET LOCAL lock_timeout = '${timeout}'`);
}

/** Adds a pass's figures to the running totals, and marks when it ended. */
export async function recordPass(
  db: Queryable,
  freed: { manifestsDeleted: number; blobsDeleted: number; bytesFreed: number },
): Promise<void> {
  await db.query(
    `UPDATE metadata.gc_state SET last_run_at = now(), manifests_deleted = manifests_deleted + $1,
         blobs_deleted = blobs_deleted + $2, bytes_freed = bytes_freed + $3 WHERE id = 1`,
    [freed.manifestsDeleted, freed.blobsDeleted, freed.bytesFreed],
  );
}

/** The walk over committed blobs: its cursor, locked (one walker at a time); undefined while another walks. */
export async function claimSweepCursor(tx: Queryable): Promise<{ cursor: string | null } | undefined> {
  const rows = await queryRows<{ unlinked_cursor: string | null }>(
    tx,
    'SELECT unlinked_cursor FROM metadata.gc_state WHERE id = 1 FOR UPDATE SKIP LOCKED',
  );
  return rows.length ? { cursor: rows[0].unlinked_cursor } : undefined;
}

/** Queues a review, due now, for each of `digests` that no repository links. */
export async function reviewUnlinked(tx: Queryable, digests: string[]): Promise<void> {
  await tx.query(
    `INSERT INTO metadata.gc_blob_reviews (digest, review_after)
         SELECT d, now() FROM unnest($1::text[]) AS d
         WHERE NOT EXISTS (SELECT 1 FROM metadata.blob_links l WHERE l.digest = d)
         ON CONFLICT (digest) DO NOTHING`,
    [digests],
  );
}

export async function advanceSweepCursor(tx: Queryable, next: string | null): Promise<void> {
  await tx.query('UPDATE metadata.gc_state SET unlinked_cursor = $1 WHERE id = 1', [next]);
}

export async function claimManifestReview(
  tx: Queryable,
): Promise<{ repositoryId: string; digest: string } | undefined> {
  const rows = await queryRows<{ repository_id: string; digest: string }>(
    tx,
    `SELECT repository_id, digest FROM metadata.gc_manifest_reviews WHERE review_after <= now()
         ORDER BY review_after LIMIT 1 FOR UPDATE SKIP LOCKED`,
  );
  return rows.length ? { repositoryId: rows[0].repository_id, digest: rows[0].digest } : undefined;
}

/**
 * Locks the manifest row FOR UPDATE; false when it is gone. The lock conflicts with a tag insert
 * (FK) and a PUT's FOR SHARE check of its children, so once held, a liveness read sees every
 * reference that was ever going to exist.
 */
export async function lockManifest(tx: Queryable, repositoryId: string, digest: string): Promise<boolean> {
  const rows = await queryRows<{ digest: string }>(
    tx,
    'SELECT digest FROM metadata.manifests WHERE repository_id = $1 AND digest = $2 FOR UPDATE',
    [repositoryId, digest],
  );
  return rows.length > 0;
}

/** Tagged, a child of an existing index, or a referrer of an existing subject. */
export async function manifestIsHeld(tx: Queryable, repositoryId: string, digest: string): Promise<boolean> {
  const rows = await queryRows<{ held: boolean }>(
    tx,
    `SELECT EXISTS (SELECT 1 FROM metadata.tags WHERE repository_id = $1 AND manifest_digest = $2)
         OR EXISTS (SELECT 1 FROM metadata.manifest_children WHERE repository_id = $1 AND child_digest = $2)
         OR EXISTS (SELECT 1 FROM metadata.manifests m JOIN metadata.manifests s
                      ON s.repository_id = m.repository_id AND s.digest = m.subject_digest
                    WHERE m.repository_id = $1 AND m.digest = $2) AS held`,
    [repositoryId, digest],
  );
  return rows[0].held;
}

export async function deleteManifestReview(
  tx: Queryable,
  repositoryId: string,
  digest: string,
): Promise<void> {
  await tx.query('DELETE FROM metadata.gc_manifest_reviews WHERE repository_id = $1 AND digest = $2', [
    repositoryId,
    digest,
  ]);
}

export async function claimBlobReview(tx: Queryable): Promise<string | undefined> {
  const rows = await queryRows<{ digest: string }>(
    tx,
    `SELECT digest FROM metadata.gc_blob_reviews WHERE review_after <= now()
         ORDER BY review_after LIMIT 1 FOR UPDATE SKIP LOCKED`,
  );
  return rows[0]?.digest;
}

/** Every link of the blob, locked FOR UPDATE: a manifest PUT verifying it (FOR SHARE) waits, or wins first. */
export async function lockBlobLinks(
  tx: Queryable,
  digest: string,
): Promise<{ size: number; repositoryId: string }[]> {
  const rows = await queryRows<{ size: string; repository_id: string }>(
    tx,
    'SELECT size, repository_id FROM metadata.blob_links WHERE digest = $1 FOR UPDATE',
    [digest],
  );
  return rows.map((r) => ({ size: Number(r.size), repositoryId: r.repository_id }));
}

/** Whether any manifest in any repository references the blob. */
export async function blobIsReferenced(tx: Queryable, digest: string): Promise<boolean> {
  const rows = await queryRows<unknown>(
    tx,
    'SELECT 1 FROM metadata.manifest_blobs WHERE blob_digest = $1 LIMIT 1',
    [digest],
  );
  return rows.length > 0;
}

export async function deleteBlobLinks(tx: Queryable, digest: string): Promise<void> {
  await tx.query('DELETE FROM metadata.blob_links WHERE digest = $1', [digest]);
}

/** Owes the blob service the deletion of the bytes, decided now. */
export async function decideBlobDeletion(tx: Queryable, digest: string, size: number): Promise<void> {
  await tx.query(
    `INSERT INTO metadata.gc_blob_deletions (digest, size, decided_at) VALUES ($1, $2, now())
             ON CONFLICT (digest) DO UPDATE SET decided_at = now()`,
    [digest, size],
  );
}

export async function deleteBlobReview(tx: Queryable, digest: string): Promise<void> {
  await tx.query('DELETE FROM metadata.gc_blob_reviews WHERE digest = $1', [digest]);
}

/** The oldest byte deletion still owed, locked. */
export async function claimBlobDeletion(
  tx: Queryable,
): Promise<{ digest: string; decidedAt: Date } | undefined> {
  const rows = await queryRows<{ digest: string; decided_at: Date }>(
    tx,
    `SELECT digest, decided_at FROM metadata.gc_blob_deletions ORDER BY decided_at
         LIMIT 1 FOR UPDATE SKIP LOCKED`,
  );
  return rows.length ? { digest: rows[0].digest, decidedAt: new Date(rows[0].decided_at) } : undefined;
}

/** Whether any repository links the blob (again). */
export async function blobIsLinked(tx: Queryable, digest: string): Promise<boolean> {
  const rows = await queryRows<unknown>(tx, 'SELECT 1 FROM metadata.blob_links WHERE digest = $1 LIMIT 1', [
    digest,
  ]);
  return rows.length > 0;
}

export async function deleteBlobDeletion(tx: Queryable, digest: string): Promise<void> {
  await tx.query('DELETE FROM metadata.gc_blob_deletions WHERE digest = $1', [digest]);
}
