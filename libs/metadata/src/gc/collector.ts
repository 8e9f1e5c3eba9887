import type { DataSource } from 'typeorm';
import { repositoryChanged, type BlobApi, type CacheChange } from '@wharf/contracts';
import type { Queryable } from '@wharf/database';
import { SCHEMA1_EMPTY_LAYER_DIGEST } from '@wharf/schema1';
import type { CacheCoherence } from '../coherence/cache-coherence';
import {
  advanceSweepCursor,
  blobIsLinked,
  blobIsReferenced,
  claimBlobDeletion,
  claimBlobReview,
  claimManifestReview,
  claimSweepCursor,
  decideBlobDeletion,
  deleteBlobDeletion,
  deleteBlobLinks,
  deleteBlobReview,
  deleteManifestQueued,
  deleteManifestReview,
  limitLockWait,
  lockBlobLinks,
  lockManifest,
  manifestIsHeld,
  recordPass,
  repositoryNames,
  reviewBlobs,
  reviewUnlinked,
} from '../store';

/** What one pass freed. */
export interface GcPassResult {
  manifestsDeleted: number;
  blobsDeleted: number;
  bytesFreed: number;
  /** Reviews answered (live or not) and byte deletions handled. */
  reviewed: number;
  /**
   * Why the walk for bytes whose link never came could not run (a blob service of an older release
   * answers no listCommitted); the rest of the pass ran regardless.
   */
  sweepError?: string;
}

// A collector transaction never waits long for a client's lock: it gives up and the row stays due.
// Below Postgres's deadlock_timeout (1s), so in a lock cycle with a client it is the collector that
// gives up, not the client's request.
const LOCK_TIMEOUT = '500ms' as const;
const LOCK_FAILURES = new Set(['55P03', '40P01']); // lock_not_available, deadlock_detected
/** Committed blobs checked for links per step of the walk (each step is one short transaction). */
const SWEEP_PAGE = 500;

/**
 * Answers due reviews, one row per short transaction, so any number of workers on any number of
 * replicas share the queues (FOR UPDATE SKIP LOCKED) and a client never waits behind a long pass.
 *
 * - A manifest is garbage when no tag, no index (an existing parent edge) and no existing `subject`
 *   holds it. Deleting it queues what it held: blobs, children, referrers (due at once: the delay
 *   protected the manifest, its contents are judged as of now).
 * - A blob is garbage when no manifest in any repository references it. Its links go in the same
 *   transaction that re-checked the references under a lock on every link, which a manifest PUT
 *   takes FOR SHARE when it verifies its blobs: one of the two wins cleanly. The bytes are deleted
 *   only after that commits, through the blob service, and only if they were not committed again
 *   within the review delay before the decision (see BlobApi.deleteBlob).
 * - The schema1 empty layer is never collected: rewrites link it on demand and no manifest row
 *   references it.
 */
export class GcCollector {
  constructor(
    private readonly ds: DataSource,
    private readonly blobs: BlobApi | undefined,
    private readonly reviewDelayMs: number,
    /** Every cache drops the content a transaction removed before the pass goes on (ADR 24). */
    private readonly coherence: CacheCoherence,
  ) {}

  /** Works until nothing is due (or `shouldStop`), then records the run. */
  async runPass(shouldStop: () => boolean = () => false): Promise<GcPassResult> {
    const total: GcPassResult = { manifestsDeleted: 0, blobsDeleted: 0, bytesFreed: 0, reviewed: 0 };
    const steps = [
      () => this.reviewOneManifest(total),
      () => this.reviewOneBlob(total),
      () => this.deleteOneBlob(total),
      // Last: what it queues is due at once, so the loop below reviews it in this same pass.
      () => this.sweepUnlinked(total),
    ];
    let worked = true;
    while (worked && !shouldStop()) {
      worked = false;
      for (const step of steps) {
        while (!shouldStop() && (await this.retryingLocks(step))) worked = true;
      }
    }
    await recordPass(this.ds, total);
    return total;
  }

  /** A lock timeout or deadlock rolls back one item; it is still due and the next pass takes it. */
  private async retryingLocks(step: () => Promise<boolean>): Promise<boolean> {
    try {
      return await step();
    } catch (e) {
      if (LOCK_FAILURES.has((e as { code?: string }).code ?? '')) return false;
      throw e;
    }
  }

  /** `touched` collects repository ids whose content the transaction removed. */
  private async tx<T>(work: (tx: Queryable, touched: Set<string>) => Promise<T>): Promise<T> {
    const touched = new Set<string>();
    let changes: CacheChange[] = [];
    let recorded: string | undefined;
    const result = await this.ds.transaction(async (em) => {
      await limitLockWait(em, LOCK_TIMEOUT);
      const out = await work(em, touched);
      if (touched.size) {
        changes = (await repositoryNames(em, [...touched])).map(repositoryChanged);
        recorded = await this.coherence.record(em, changes);
      }
      return out;
    });
    // Before the bytes go (a later step): no cache may still hand out what this removed.
    if (changes.length) await this.coherence.settle(changes, recorded);
    return result;
  }

  /**
   * Walks the blob service's committed blobs, oldest commit first, once each commit is older than
   * the review delay, and queues a review (due now) for every one that no repository links. Every
   * link queues its own review, so this finds only bytes whose link never came: the gateway that
   * committed them went away, or its link failed, before the link. One walker at a time (the
   * gc_state row), the cursor advancing in the same transaction as the reviews it queued.
   */
  private async sweepUnlinked(total: GcPassResult): Promise<boolean> {
    const blobs = this.blobs;
    if (!blobs || total.sweepError !== undefined) return false;
    try {
      return await this.sweepUnlinkedPage(blobs);
    } catch (e) {
      if (LOCK_FAILURES.has((e as { code?: string }).code ?? '')) throw e;
      total.sweepError = (e as Error).message;
      return false;
    }
  }

  private sweepUnlinkedPage(blobs: BlobApi): Promise<boolean> {
    return this.tx(async (tx) => {
      const state = await claimSweepCursor(tx);
      if (!state) return false;
      const before = new Date(Date.now() - this.reviewDelayMs);
      const page = await blobs.listCommitted({ before, after: state.cursor, limit: SWEEP_PAGE });
      if (!page.digests.length) return false;
      await reviewUnlinked(tx, page.digests);
      await advanceSweepCursor(tx, page.next);
      return true;
    });
  }

  private reviewOneManifest(total: GcPassResult): Promise<boolean> {
    return this.tx(async (tx, touched) => {
      const claimed = await claimManifestReview(tx);
      if (!claimed) return false;
      const { repositoryId, digest } = claimed;
      // Once the row lock is held, the liveness read sees every reference that was ever going to exist.
      if (
        (await lockManifest(tx, repositoryId, digest)) &&
        !(await manifestIsHeld(tx, repositoryId, digest))
      ) {
        await deleteManifestQueued(tx, { repositoryId }, digest, 0);
        touched.add(repositoryId);
        total.manifestsDeleted++;
      }
      await deleteManifestReview(tx, repositoryId, digest);
      total.reviewed++;
      return true;
    });
  }

  private reviewOneBlob(total: GcPassResult): Promise<boolean> {
    return this.tx(async (tx, touched) => {
      const digest = await claimBlobReview(tx);
      if (digest === undefined) return false;
      if (digest !== SCHEMA1_EMPTY_LAYER_DIGEST) {
        const links = await lockBlobLinks(tx, digest);
        if (!(await blobIsReferenced(tx, digest))) {
          await deleteBlobLinks(tx, digest);
          for (const l of links) touched.add(l.repositoryId);
          const size = links.reduce((max, l) => Math.max(max, l.size), 0);
          await decideBlobDeletion(tx, digest, size);
        }
      }
      await deleteBlobReview(tx, digest);
      total.reviewed++;
      return true;
    });
  }

  /** The bytes of a blob whose links are gone: asked of the blob service after the links' commit. */
  private async deleteOneBlob(total: GcPassResult): Promise<boolean> {
    const blobs = this.blobs;
    if (!blobs) return false;
    return this.tx(async (tx) => {
      const claimed = await claimBlobDeletion(tx);
      if (!claimed) return false;
      const { digest, decidedAt } = claimed;
      // A blob linked again since the decision is live again (its link queued a fresh review).
      if (!(await blobIsLinked(tx, digest))) {
        const cutoff = new Date(decidedAt.getTime() - this.reviewDelayMs);
        const result = await blobs.deleteBlob({ digest, notCommittedAfter: cutoff });
        if (result.deleted) {
          // Not counted twice: a review the walk queued just as another pass deleted the blob.
          if (result.recorded !== false) total.blobsDeleted++;
          total.bytesFreed += result.size;
        } else {
          // Committed again recently, yet unlinked: look again once that upload had time to link it.
          await reviewBlobs(tx, [digest], this.reviewDelayMs);
        }
      }
      await deleteBlobDeletion(tx, digest);
      total.reviewed++;
      return true;
    });
  }
}
