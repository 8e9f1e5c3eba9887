import { MARK } from './mark';
import type { Queryable } from './queue';

/**
 * Database-wide GC figures, the same from every replica: for the CLI and for /metrics
 * (queue depth, overdue reviews, what has been freed, when a worker last finished a pass).
 */
export interface GcStats {
  manifestReviews: number;
  blobReviews: number;
  /** Blobs whose links are gone and whose bytes the blob service has yet to delete. */
  pendingBlobDeletions: number;
  /** Reviews due for longer than `overdueAfterMs`: the workers are behind (or not running). */
  overdueReviews: number;
  /** Totals since the database was created. */
  manifestsDeleted: number;
  blobsDeleted: number;
  bytesFreed: number;
  lastRunAt: Date | null;
}

export async function readGcStats(q: Queryable, overdueAfterMs = 60_000): Promise<GcStats> {
  const rows = (await q.query(
    `SELECT (SELECT count(*) FROM metadata.gc_manifest_reviews) AS manifest_reviews,
            (SELECT count(*) FROM metadata.gc_blob_reviews) AS blob_reviews,
            (SELECT count(*) FROM metadata.gc_blob_deletions) AS pending,
            (SELECT count(*) FROM metadata.gc_manifest_reviews WHERE review_after < now() - $1 * interval '1 millisecond')
          + (SELECT count(*) FROM metadata.gc_blob_reviews WHERE review_after < now() - $1 * interval '1 millisecond')
              AS overdue,
            s.manifests_deleted, s.blobs_deleted, s.bytes_freed, s.last_run_at
     FROM metadata.gc_state s WHERE s.id = 1`,
    [overdueAfterMs],
  )) as Record<string, string | Date | null>[];
  const r = rows[0];
  return {
    manifestReviews: Number(r.manifest_reviews),
    blobReviews: Number(r.blob_reviews),
    pendingBlobDeletions: Number(r.pending),
    overdueReviews: Number(r.overdue),
    manifestsDeleted: Number(r.manifests_deleted),
    blobsDeleted: Number(r.blobs_deleted),
    bytesFreed: Number(r.bytes_freed),
    lastRunAt: r.last_run_at ? new Date(r.last_run_at) : null,
  };
}

/**
 * Queues every current orphan for review, due once it is older than the review delay (a push in
 * progress keeps its protection) unless already queued. Safe while
 * the registry runs: a review re-checks everything under locks, so queuing something live is
 * only wasted work. Blobs are reached through their manifests' reviews and queued directly too.
 */
export async function enqueueGarbage(
  q: Queryable,
  reviewDelayMs: number,
): Promise<{ manifests: number; blobs: number }> {
  const rows = (await q.query(
    `${MARK},
     m AS (INSERT INTO metadata.gc_manifest_reviews (repository_id, digest, review_after)
           SELECT repository_id, digest, GREATEST(now(), created_at + $1 * interval '1 millisecond')
           FROM dead_manifests ON CONFLICT DO NOTHING RETURNING 1),
     b AS (INSERT INTO metadata.gc_blob_reviews (digest, review_after)
           SELECT digest, GREATEST(now(), created_at + $1 * interval '1 millisecond')
           FROM dead_blobs ON CONFLICT DO NOTHING RETURNING 1)
     SELECT (SELECT count(*) FROM m) AS manifests, (SELECT count(*) FROM b) AS blobs`,
    [reviewDelayMs],
  )) as Record<string, string>[];
  return { manifests: Number(rows[0].manifests), blobs: Number(rows[0].blobs) };
}
