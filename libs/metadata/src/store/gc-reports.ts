import { queryRows, type Queryable } from '@wharf/database';
import { SCHEMA1_EMPTY_LAYER_DIGEST } from '@wharf/schema1';

// What the CLI (`wharf gc`) and /metrics read: the full mark, the forecast built on it, the
// queues' depths and the running totals.

/**
 * A full mark over the reference graph: live = tagged, plus (recursively) the children of live
 * indexes and the referrers of live subjects; garbage = every other manifest, and every linked
 * blob that no live manifest references. Finds orphans the queues do not know about too (content
 * from before the queues existed), which `enqueueGarbage` hands to the workers.
 */
const MARK = `
  WITH RECURSIVE edges AS (
    SELECT repository_id, parent_digest AS source, child_digest AS target FROM metadata.manifest_children
    UNION ALL
    SELECT repository_id, subject_digest, digest FROM metadata.manifests WHERE subject_digest IS NOT NULL
  ),
  live(repository_id, digest) AS (
    SELECT DISTINCT t.repository_id, t.manifest_digest FROM metadata.tags t
    UNION
    SELECT e.repository_id, e.target FROM edges e JOIN live l
      ON l.repository_id = e.repository_id AND l.digest = e.source
  ),
  dead_manifests AS (
    SELECT m.repository_id, m.digest, m.size, m.created_at FROM metadata.manifests m
    WHERE NOT EXISTS (SELECT 1 FROM live l WHERE l.repository_id = m.repository_id AND l.digest = m.digest)
  ),
  live_blobs AS (
    SELECT DISTINCT mb.blob_digest AS digest FROM metadata.manifest_blobs mb
    JOIN live l ON l.repository_id = mb.repository_id AND l.digest = mb.manifest_digest
  ),
  dead_blobs AS (
    SELECT bl.digest, max(bl.size) AS size, max(bl.created_at) AS created_at FROM metadata.blob_links bl
    WHERE bl.digest <> '${SCHEMA1_EMPTY_LAYER_DIGEST}'
      AND NOT EXISTS (SELECT 1 FROM live_blobs lb WHERE lb.digest = bl.digest)
    GROUP BY bl.digest
  )`;

/**
 * When each orphan will be collected. A queued review keeps its time (enqueueGarbage never moves
 * it); an orphan not queued yet is due `reviewDelayMs` after its creation. A manifest is not taken
 * while an existing index or subject holds it, and a blob not while any manifest references it, so
 * each waits for the latest of its holders (their deletion queues it due at once).
 */
const FORECAST = `${MARK},
  own_manifest_due AS (
    SELECT dm.repository_id, dm.digest,
           COALESCE(q.review_after, GREATEST(now(), dm.created_at + $1 * interval '1 millisecond')) AS due
    FROM dead_manifests dm LEFT JOIN metadata.gc_manifest_reviews q
      ON q.repository_id = dm.repository_id AND q.digest = dm.digest
  ),
  held_due(repository_id, digest, due) AS (
    SELECT repository_id, digest, due FROM own_manifest_due
    UNION ALL
    SELECT c.repository_id, c.digest, h.due FROM held_due h
      JOIN edges e ON e.repository_id = h.repository_id AND e.source = h.digest
      JOIN own_manifest_due c ON c.repository_id = e.repository_id AND c.digest = e.target
  ),
  manifest_due AS (
    SELECT h.repository_id, h.digest, max(h.due) AS due, max(dm.size) AS size
    FROM held_due h JOIN dead_manifests dm ON dm.repository_id = h.repository_id AND dm.digest = h.digest
    GROUP BY h.repository_id, h.digest
  ),
  blob_due AS (
    SELECT b.digest, b.size, GREATEST(
             COALESCE(q.review_after, GREATEST(now(), b.created_at + $1 * interval '1 millisecond')),
             (SELECT max(md.due) FROM metadata.manifest_blobs mb JOIN manifest_due md
                ON md.repository_id = mb.repository_id AND md.digest = mb.manifest_digest
              WHERE mb.blob_digest = b.digest)) AS due
    FROM dead_blobs b LEFT JOIN metadata.gc_blob_reviews q ON q.digest = b.digest
  )
  SELECT
    (SELECT count(*) FROM manifest_due WHERE due <= now()) AS due_manifests,
    (SELECT COALESCE(sum(size), 0) FROM manifest_due WHERE due <= now()) AS due_manifest_bytes,
    (SELECT count(*) FROM blob_due WHERE due <= now()) AS due_blobs,
    (SELECT COALESCE(sum(size), 0) FROM blob_due WHERE due <= now()) AS due_blob_bytes,
    (SELECT count(*) FROM manifest_due WHERE due > now()) AS later_manifests,
    (SELECT COALESCE(sum(size), 0) FROM manifest_due WHERE due > now()) AS later_manifest_bytes,
    (SELECT count(*) FROM blob_due WHERE due > now()) AS later_blobs,
    (SELECT COALESCE(sum(size), 0) FROM blob_due WHERE due > now()) AS later_blob_bytes,
    (SELECT min(due) FROM (SELECT due FROM manifest_due UNION ALL SELECT due FROM blob_due) d
      WHERE due > now()) AS first_due,
    (SELECT max(due) FROM (SELECT due FROM manifest_due UNION ALL SELECT due FROM blob_due) d
      WHERE due > now()) AS last_due,
    (SELECT count(*) FROM metadata.gc_blob_deletions) AS decided_blobs,
    (SELECT COALESCE(sum(size), 0) FROM metadata.gc_blob_deletions) AS decided_bytes`;

/** The forecast's figures: garbage due now and later (counts and bytes), and when the later comes. */
export interface ForecastFigures {
  dueManifests: number;
  dueManifestBytes: number;
  dueBlobs: number;
  dueBlobBytes: number;
  laterManifests: number;
  laterManifestBytes: number;
  laterBlobs: number;
  laterBlobBytes: number;
  firstDue: Date | null;
  lastDue: Date | null;
  /** Byte deletions already decided. */
  decidedBlobs: number;
  decidedBytes: number;
}

export async function forecastFigures(db: Queryable, reviewDelayMs: number): Promise<ForecastFigures> {
  const [r] = await queryRows<Record<string, string | Date | null>>(db, FORECAST, [reviewDelayMs]);
  const n = (k: string): number => Number(r[k]);
  const date = (k: string): Date | null => (r[k] === null ? null : new Date(r[k] as string | Date));
  return {
    dueManifests: n('due_manifests'),
    dueManifestBytes: n('due_manifest_bytes'),
    dueBlobs: n('due_blobs'),
    dueBlobBytes: n('due_blob_bytes'),
    laterManifests: n('later_manifests'),
    laterManifestBytes: n('later_manifest_bytes'),
    laterBlobs: n('later_blobs'),
    laterBlobBytes: n('later_blob_bytes'),
    firstDue: date('first_due'),
    lastDue: date('last_due'),
    decidedBlobs: n('decided_blobs'),
    decidedBytes: n('decided_bytes'),
  };
}

/** Where the collector's walk over committed blobs stands (read without a lock). */
export async function sweepCursor(db: Queryable): Promise<string | null> {
  const [state] = await queryRows<{ unlinked_cursor: string | null }>(
    db,
    'SELECT unlinked_cursor FROM metadata.gc_state WHERE id = 1',
  );
  return state?.unlinked_cursor ?? null;
}

/** Of `digests`, those no repository links and whose deletion is not already decided. */
export async function unlinkedUndecided(db: Queryable, digests: string[]): Promise<string[]> {
  const rows = await queryRows<{ d: string }>(
    db,
    `SELECT d FROM unnest($1::text[]) AS d
       WHERE NOT EXISTS (SELECT 1 FROM metadata.blob_links l WHERE l.digest = d)
         AND NOT EXISTS (SELECT 1 FROM metadata.gc_blob_deletions x WHERE x.digest = d)`,
    [digests],
  );
  return rows.map((r) => r.d);
}

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

export async function readGcStats(db: Queryable, overdueAfterMs = 60_000): Promise<GcStats> {
  const rows = await queryRows<Record<string, string | Date | null>>(
    db,
    `SELECT (SELECT count(*) FROM metadata.gc_manifest_reviews) AS manifest_reviews,
            (SELECT count(*) FROM metadata.gc_blob_reviews) AS blob_reviews,
            (SELECT count(*) FROM metadata.gc_blob_deletions) AS pending,
            (SELECT count(*) FROM metadata.gc_manifest_reviews WHERE review_after < now() - $1 * interval '1 millisecond')
          + (SELECT count(*) FROM metadata.gc_blob_reviews WHERE review_after < now() - $1 * interval '1 millisecond')
              AS overdue,
            s.manifests_deleted, s.blobs_deleted, s.bytes_freed, s.last_run_at
     FROM metadata.gc_state s WHERE s.id = 1`,
    [overdueAfterMs],
  );
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
  db: Queryable,
  reviewDelayMs: number,
): Promise<{ manifests: number; blobs: number }> {
  const rows = await queryRows<Record<string, string>>(
    db,
    `${MARK},
     m AS (INSERT INTO metadata.gc_manifest_reviews (repository_id, digest, review_after)
           SELECT repository_id, digest, GREATEST(now(), created_at + $1 * interval '1 millisecond')
           FROM dead_manifests ON CONFLICT DO NOTHING RETURNING 1),
     b AS (INSERT INTO metadata.gc_blob_reviews (digest, review_after)
           SELECT digest, GREATEST(now(), created_at + $1 * interval '1 millisecond')
           FROM dead_blobs ON CONFLICT DO NOTHING RETURNING 1)
     SELECT (SELECT count(*) FROM m) AS manifests, (SELECT count(*) FROM b) AS blobs`,
    [reviewDelayMs],
  );
  return { manifests: Number(rows[0].manifests), blobs: Number(rows[0].blobs) };
}
