import type { BlobApi } from '@wharf/contracts';
import type { Queryable } from '@wharf/database';
import { forecastFigures, sweepCursor, unlinkedUndecided } from '../store';

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
 * The forecast for a run in this process. `blobs` is the blob service the run would use: without
 * one, byte deletions (decided ones and those the run decides) stay queued for the metadata
 * service's workers, and bytes whose link never came are not looked for, so neither is counted.
 */
export async function forecastGarbage(
  q: Queryable,
  reviewDelayMs: number,
  blobs?: BlobApi,
): Promise<GcForecast> {
  const f = await forecastFigures(q, reviewDelayMs);
  const dueBlobs = f.dueBlobs + f.decidedBlobs;
  const dueBlobBytes = f.dueBlobBytes + f.decidedBytes;
  const due: GcGarbage = {
    manifests: f.dueManifests,
    manifestBytes: f.dueManifestBytes,
    blobs: blobs ? dueBlobs : 0,
    blobBytes: blobs ? dueBlobBytes : 0,
  };
  const leftToWorkers = blobs ? undefined : { blobs: dueBlobs, blobBytes: dueBlobBytes };
  const unlinked = blobs ? await findUnlinked(q, blobs, reviewDelayMs) : undefined;
  if (unlinked) {
    due.blobs += unlinked.blobs;
    due.blobBytes += unlinked.blobBytes;
  }
  return {
    due,
    notYetDue: {
      manifests: f.laterManifests,
      manifestBytes: f.laterManifestBytes,
      blobs: f.laterBlobs,
      blobBytes: f.laterBlobBytes,
      firstDueAt: f.firstDue,
      lastDueAt: f.lastDue,
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
  let cursor = await sweepCursor(q);
  const before = new Date(Date.now() - reviewDelayMs);
  const found = { blobs: 0, blobBytes: 0 };
  for (;;) {
    const page = await blobs.listCommitted({ before, after: cursor, limit: UNLINKED_PAGE });
    if (!page.digests.length) return found;
    for (const d of await unlinkedUndecided(q, page.digests)) {
      const stat = await blobs.statBlob({ digest: d });
      if (!stat) continue;
      found.blobs++;
      found.blobBytes += stat.size;
    }
    cursor = page.next;
  }
}
