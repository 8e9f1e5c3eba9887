import type { Queryable } from '@wharf/database';

/**
 * The GC review queues, written in the same transaction (often the same statement) as the change
 * that may orphan something: here, and in the statements that make such a change
 * (deleteManifestQueued, deleteTagQueued, linkBlob, unlinkBlob). A review is a question for later
 * ("is this still reachable?"), never a verdict: enqueuing something live costs one row and one look.
 *
 * Lock order, everywhere: a blob's review row first, then its links. The collector claims the review
 * row and then locks the links; a link insert takes the review row first, so it either waits for a
 * collection of that digest to finish or makes the collector skip the row.
 */

/** Upsert keeping the later deadline, so a fresh reason to wait is never shortened by an old one. */
const LATER = 'review_after = GREATEST(EXCLUDED.review_after, ';

export const MANIFEST_REVIEW_UPSERT = `ON CONFLICT (repository_id, digest) DO UPDATE SET ${LATER}metadata.gc_manifest_reviews.review_after)`;
export const BLOB_REVIEW_UPSERT = `ON CONFLICT (digest) DO UPDATE SET ${LATER}metadata.gc_blob_reviews.review_after)`;

export async function reviewManifests(
  db: Queryable,
  repositoryId: string,
  digests: string[],
  delayMs: number,
): Promise<void> {
  await db.query(
    `INSERT INTO metadata.gc_manifest_reviews (repository_id, digest, review_after)
     SELECT $1, unnest($2::text[]), now() + $3 * interval '1 millisecond' ${MANIFEST_REVIEW_UPSERT}`,
    [repositoryId, digests, delayMs],
  );
}

export async function reviewBlobs(db: Queryable, digests: string[], delayMs: number): Promise<void> {
  await db.query(
    `INSERT INTO metadata.gc_blob_reviews (digest, review_after)
     SELECT unnest($1::text[]), now() + $2 * interval '1 millisecond' ${BLOB_REVIEW_UPSERT}`,
    [digests, delayMs],
  );
}

/** Before a tag moves: its current manifest may be left untagged. Locks the tag so racing moves each see the one they replace. */
export async function reviewTagTarget(
  db: Queryable,
  repositoryId: string,
  tag: string,
  newDigest: string,
  delayMs: number,
): Promise<void> {
  await db.query(
    `INSERT INTO metadata.gc_manifest_reviews (repository_id, digest, review_after)
     SELECT t.repository_id, t.manifest_digest, now() + $4 * interval '1 millisecond'
     FROM (SELECT repository_id, manifest_digest FROM metadata.tags
           WHERE repository_id = $1 AND name = $2 FOR UPDATE) t
     WHERE t.manifest_digest <> $3 ${MANIFEST_REVIEW_UPSERT}`,
    [repositoryId, tag, newDigest, delayMs],
  );
}

/**
 * A blob HEAD is how a pushing client decides to skip an upload and reference the blob in its
 * manifest PUT: push the blob's review back by the delay, so the collector cannot take it in
 * between. Waits while a collection of the digest holds the review row; only for a linked blob.
 */
export async function protectLinkedBlob(
  db: Queryable,
  repository: string,
  digest: string,
  delayMs: number,
): Promise<void> {
  await db.query(
    `INSERT INTO metadata.gc_blob_reviews (digest, review_after)
     SELECT bl.digest, now() + $3 * interval '1 millisecond'
     FROM metadata.blob_links bl JOIN metadata.repositories r ON r.id = bl.repository_id
     WHERE r.name = $1 AND bl.digest = $2 ${BLOB_REVIEW_UPSERT}`,
    [repository, digest, delayMs],
  );
}
