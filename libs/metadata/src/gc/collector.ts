import type { DataSource, EntityManager } from 'typeorm';
import type { BlobApi } from '@wharf/contracts';
import { SCHEMA1_EMPTY_LAYER_DIGEST } from '@wharf/oci';
import { deleteManifestQueued, reviewBlobs } from './queue';

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
const LOCK_TIMEOUT = '500ms';
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
    /** Told (after commit) which repositories lost content: the all-in-one's read cache. */
    private readonly changed?: (repositories: string[]) => void,
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
    await this.ds.query(
      `UPDATE metadata.gc_state SET last_run_at = now(), manifests_deleted = manifests_deleted + $1,
         blobs_deleted = blobs_deleted + $2, bytes_freed = bytes_freed + $3 WHERE id = 1`,
      [total.manifestsDeleted, total.blobsDeleted, total.bytesFreed],
    );
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
  private async tx<T>(work: (em: EntityManager, touched: Set<string>) => Promise<T>): Promise<T> {
    const touched = new Set<string>();
    let names: string[] = [];
    const result = await this.ds.transaction(async (em) => {
      await em.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
      const out = await work(em, touched);
      if (touched.size && this.changed) {
        const rows: { name: string }[] = await em.query(
          'SELECT name FROM metadata.repositories WHERE id = ANY($1::bigint[])',
          [[...touched]],
        );
        names = rows.map((r) => r.name);
      }
      return out;
    });
    if (names.length) this.changed?.(names);
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
    return this.tx(async (em) => {
      const state: { unlinked_cursor: string | null }[] = await em.query(
        'SELECT unlinked_cursor FROM metadata.gc_state WHERE id = 1 FOR UPDATE SKIP LOCKED',
      );
      if (!state.length) return false;
      const before = new Date(Date.now() - this.reviewDelayMs);
      const page = await blobs.listCommitted(before, state[0].unlinked_cursor, SWEEP_PAGE);
      if (!page.digests.length) return false;
      await em.query(
        `INSERT INTO metadata.gc_blob_reviews (digest, review_after)
         SELECT d, now() FROM unnest($1::text[]) AS d
         WHERE NOT EXISTS (SELECT 1 FROM metadata.blob_links l WHERE l.digest = d)
         ON CONFLICT (digest) DO NOTHING`,
        [page.digests],
      );
      await em.query('UPDATE metadata.gc_state SET unlinked_cursor = $1 WHERE id = 1', [page.next]);
      return true;
    });
  }

  private reviewOneManifest(total: GcPassResult): Promise<boolean> {
    return this.tx(async (em, touched) => {
      const claimed: { repository_id: string; digest: string }[] = await em.query(
        `SELECT repository_id, digest FROM metadata.gc_manifest_reviews WHERE review_after <= now()
         ORDER BY review_after LIMIT 1 FOR UPDATE SKIP LOCKED`,
      );
      if (!claimed.length) return false;
      const { repository_id: repositoryId, digest } = claimed[0];
      // The row lock conflicts with a tag insert (FK) and a PUT's FOR SHARE check of its children,
      // so once held, the liveness read below sees every reference that was ever going to exist.
      const rows: { digest: string }[] = await em.query(
        'SELECT digest FROM metadata.manifests WHERE repository_id = $1 AND digest = $2 FOR UPDATE',
        [repositoryId, digest],
      );
      if (rows.length && !(await manifestIsHeld(em, repositoryId, digest))) {
        await deleteManifestQueued(em, { repositoryId }, digest, 0);
        touched.add(repositoryId);
        total.manifestsDeleted++;
      }
      await em.query('DELETE FROM metadata.gc_manifest_reviews WHERE repository_id = $1 AND digest = $2', [
        repositoryId,
        digest,
      ]);
      total.reviewed++;
      return true;
    });
  }

  private reviewOneBlob(total: GcPassResult): Promise<boolean> {
    return this.tx(async (em, touched) => {
      const claimed: { digest: string }[] = await em.query(
        `SELECT digest FROM metadata.gc_blob_reviews WHERE review_after <= now()
         ORDER BY review_after LIMIT 1 FOR UPDATE SKIP LOCKED`,
      );
      if (!claimed.length) return false;
      const { digest } = claimed[0];
      if (digest !== SCHEMA1_EMPTY_LAYER_DIGEST) {
        const links: { size: string; repository_id: string }[] = await em.query(
          'SELECT size, repository_id FROM metadata.blob_links WHERE digest = $1 FOR UPDATE',
          [digest],
        );
        const referenced: unknown[] = await em.query(
          'SELECT 1 FROM metadata.manifest_blobs WHERE blob_digest = $1 LIMIT 1',
          [digest],
        );
        if (!referenced.length) {
          await em.query('DELETE FROM metadata.blob_links WHERE digest = $1', [digest]);
          for (const l of links) touched.add(l.repository_id);
          const size = links.reduce((max, l) => Math.max(max, Number(l.size)), 0);
          await em.query(
            `INSERT INTO metadata.gc_blob_deletions (digest, size, decided_at) VALUES ($1, $2, now())
             ON CONFLICT (digest) DO UPDATE SET decided_at = now()`,
            [digest, size],
          );
        }
      }
      await em.query('DELETE FROM metadata.gc_blob_reviews WHERE digest = $1', [digest]);
      total.reviewed++;
      return true;
    });
  }

  /** The bytes of a blob whose links are gone: asked of the blob service after the links' commit. */
  private async deleteOneBlob(total: GcPassResult): Promise<boolean> {
    const blobs = this.blobs;
    if (!blobs) return false;
    return this.tx(async (em) => {
      const claimed: { digest: string; decided_at: Date }[] = await em.query(
        `SELECT digest, decided_at FROM metadata.gc_blob_deletions ORDER BY decided_at
         LIMIT 1 FOR UPDATE SKIP LOCKED`,
      );
      if (!claimed.length) return false;
      const { digest, decided_at: decidedAt } = claimed[0];
      const relinked: unknown[] = await em.query(
        'SELECT 1 FROM metadata.blob_links WHERE digest = $1 LIMIT 1',
        [digest],
      );
      // A blob linked again since the decision is live again (its link queued a fresh review).
      if (!relinked.length) {
        const cutoff = new Date(new Date(decidedAt).getTime() - this.reviewDelayMs);
        const result = await blobs.deleteBlob(digest, cutoff);
        if (result.deleted) {
          // Not counted twice: a review the walk queued just as another pass deleted the blob.
          if (result.recorded !== false) total.blobsDeleted++;
          total.bytesFreed += result.size;
        } else {
          // Committed again recently, yet unlinked: look again once that upload had time to link it.
          await reviewBlobs(em, [digest], this.reviewDelayMs);
        }
      }
      await em.query('DELETE FROM metadata.gc_blob_deletions WHERE digest = $1', [digest]);
      total.reviewed++;
      return true;
    });
  }
}

/** Tagged, a child of an existing index, or a referrer of an existing subject. */
async function manifestIsHeld(em: EntityManager, repositoryId: string, digest: string): Promise<boolean> {
  const rows: { held: boolean }[] = await em.query(
    `SELECT EXISTS (SELECT 1 FROM metadata.tags WHERE repository_id = $1 AND manifest_digest = $2)
         OR EXISTS (SELECT 1 FROM metadata.manifest_children WHERE repository_id = $1 AND child_digest = $2)
         OR EXISTS (SELECT 1 FROM metadata.manifests m JOIN metadata.manifests s
                      ON s.repository_id = m.repository_id AND s.digest = m.subject_digest
                    WHERE m.repository_id = $1 AND m.digest = $2) AS held`,
    [repositoryId, digest],
  );
  return rows[0].held;
}
