import type { BlobApi } from '@wharf/contracts';
import { MARK } from './mark';
import type { Queryable } from './queue';

/** An amount of garbage: manifests (bodies held in the database) and blobs (bytes in storage). */
export interface GcGarbage {
  manifests: number;
  manifestBytes: number;
  blobs: number;
  blobBytes: number;
}

/**
 * What `gc run` (enqueue every orphan, then one collector pass) would do if started now, from the
 * full mark and the review queues, so the dry run and the run agree.
 */
export interface GcForecast {
  /** Collected by a run now (byte deletions already decided, and `unlinked`, included). */
  due: GcGarbage;
  /** Of `due`: bytes committed without a repository link ever coming (counted only with `blobs`). */
  unlinked?: { blobs: number; blobBytes: number };
  /**
   * Orphans whose review is not due yet: WHARF_GC_REVIEW_DELAY after the last change that touched
   * them (a push, a tag move, a HEAD), so content a client is still pushing is never taken.
   */
  notYetDue: GcGarbage & { firstDueAt: Date | null; lastDueAt: Date | null };
  /** Without a blob service at hand: due blobs whose bytes the metadata service's workers delete. */
  leftToWorkers?: { blobs: number; blobBytes: number };
}

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

/**
 * The forecast for a run in this process. `blobs` is the blob service the run would use: without
 * one, byte deletions (decided ones and those the run decides) stay queued for the metadata
 * service's workers, and bytes whose link never came are not looked for, so neither is counted.
 */
export async function forecastGarbage(
  q: Queryable,
  reviewDelayMs: number,
  blobs?: BlobApi,
): Promise<GcForecast> {
  const [r] = (await q.query(FORECAST, [reviewDelayMs])) as Record<string, string | Date | null>[];
  const n = (k: string) => Number(r[k]);
  const date = (k: string) => (r[k] === null ? null : new Date(r[k] as string | Date));
  const due: GcGarbage = {
    manifests: n('due_manifests'),
    manifestBytes: n('due_manifest_bytes'),
    blobs: blobs ? n('due_blobs') + n('decided_blobs') : 0,
    blobBytes: blobs ? n('due_blob_bytes') + n('decided_bytes') : 0,
  };
  const leftToWorkers = blobs
    ? undefined
    : { blobs: n('due_blobs') + n('decided_blobs'), blobBytes: n('due_blob_bytes') + n('decided_bytes') };
  const unlinked = blobs ? await findUnlinked(q, blobs, reviewDelayMs) : undefined;
  if (unlinked) {
    due.blobs += unlinked.blobs;
    due.blobBytes += unlinked.blobBytes;
  }
  return {
    due,
    notYetDue: {
      manifests: n('later_manifests'),
      manifestBytes: n('later_manifest_bytes'),
      blobs: n('later_blobs'),
      blobBytes: n('later_blob_bytes'),
      firstDueAt: date('first_due'),
      lastDueAt: date('last_due'),
    },
    ...(unlinked ? { unlinked } : {}),
    ...(leftToWorkers ? { leftToWorkers } : {}),
  };
}

const UNLINKED_PAGE = 500;

/**
 * What the collector's walk over committed blobs would find from where it stands: bytes committed
 * longer than the review delay ago that no repository links (their link never came) and that no
 * decided deletion already counts.
 */
async function findUnlinked(
  q: Queryable,
  blobs: BlobApi,
  reviewDelayMs: number,
): Promise<{ blobs: number; blobBytes: number }> {
  const [state] = (await q.query('SELECT unlinked_cursor FROM metadata.gc_state WHERE id = 1')) as {
    unlinked_cursor: string | null;
  }[];
  const before = new Date(Date.now() - reviewDelayMs);
  let cursor = state?.unlinked_cursor ?? null;
  const found = { blobs: 0, blobBytes: 0 };
  for (;;) {
    const page = await blobs.listCommitted(before, cursor, UNLINKED_PAGE);
    if (!page.digests.length) return found;
    const rows = (await q.query(
      `SELECT d FROM unnest($1::text[]) AS d
       WHERE NOT EXISTS (SELECT 1 FROM metadata.blob_links l WHERE l.digest = d)
         AND NOT EXISTS (SELECT 1 FROM metadata.gc_blob_deletions x WHERE x.digest = d)`,
      [page.digests],
    )) as { d: string }[];
    for (const { d } of rows) {
      const stat = await blobs.statBlob(d);
      if (!stat) continue;
      found.blobs++;
      found.blobBytes += stat.size;
    }
    cursor = page.next;
  }
}
