import { queryRows, type Queryable } from '@wharf/database';
import { BLOB_REVIEW_UPSERT } from './gc-queue';

// metadata.blob_links: a blob linked into a repository, the access boundary (knowing a digest
// grants nothing). Every link queues the blob for GC review, taking the review row first.

/** The size of a blob linked in the repository; undefined when it is not linked there. */
export async function linkedBlobSize(
  db: Queryable,
  repository: string,
  digest: string,
): Promise<number | undefined> {
  const rows = await queryRows<{ size: string }>(
    db,
    `SELECT bl.size FROM metadata.blob_links bl JOIN metadata.repositories r ON r.id = bl.repository_id
       WHERE r.name = $1 AND bl.digest = $2`,
    [repository, digest],
  );
  return rows.length ? Number(rows[0].size) : undefined;
}

/** A link of `digest` to mount from: in `from` when given, else in any repository. */
export async function mountSource(
  db: Queryable,
  digest: string,
  from: string | null,
): Promise<{ size: number; repository: string } | undefined> {
  const rows = await queryRows<{ size: string; name: string }>(
    db,
    `SELECT bl.size, r.name FROM metadata.blob_links bl JOIN metadata.repositories r ON r.id = bl.repository_id
       WHERE bl.digest = $1 AND ($2::text IS NULL OR r.name = $2) LIMIT 1`,
    [digest, from],
  );
  return rows.length ? { size: Number(rows[0].size), repository: rows[0].name } : undefined;
}

/**
 * Links a blob into a repository and queues the blob for review (uploaded is not yet referenced),
 * in one statement. False, and nothing written, when the repository does not exist yet. The link
 * insert reads the review upsert's output, so the review row is locked first (the lock order).
 */
export async function linkBlobQueued(
  db: Queryable,
  repository: string,
  digest: string,
  size: number,
  delayMs: number,
): Promise<boolean> {
  const rows = await queryRows<unknown>(
    db,
    `WITH r AS (SELECT id FROM metadata.repositories WHERE name = $1),
          review AS (INSERT INTO metadata.gc_blob_reviews (digest, review_after)
                     SELECT $2, now() + $4 * interval '1 millisecond' FROM r ${BLOB_REVIEW_UPSERT} RETURNING 1),
          link AS (INSERT INTO metadata.blob_links (repository_id, digest, size)
                   SELECT r.id, $2, $3 FROM r, review ON CONFLICT (repository_id, digest) DO NOTHING)
     SELECT 1 FROM r`,
    [repository, digest, size, delayMs],
  );
  return rows.length > 0;
}

/** The link alone, in a transaction that has taken the blob's review row (reviewBlobs) first. */
export async function insertBlobLink(
  db: Queryable,
  repositoryId: string,
  digest: string,
  size: number,
): Promise<void> {
  await db.query(
    `INSERT INTO metadata.blob_links (repository_id, digest, size) VALUES ($1, $2, $3)
           ON CONFLICT (repository_id, digest) DO NOTHING`,
    [repositoryId, digest, size],
  );
}

/** Locks one existing link of `digest` (in `from`, when given) against a collection; false when none is left. */
export async function lockSomeLink(db: Queryable, digest: string, from: string | null): Promise<boolean> {
  const rows = await queryRows<unknown>(
    db,
    `SELECT 1 FROM metadata.blob_links bl JOIN metadata.repositories r ON r.id = bl.repository_id
     WHERE bl.digest = $1 AND ($2::text IS NULL OR r.name = $2) LIMIT 1 FOR SHARE OF bl`,
    [digest, from],
  );
  return rows.length > 0;
}

/**
 * Removes one repository link (DELETE blob) and queues the blob for review: the bytes may now be
 * referenced by nothing. False when there was no such link.
 */
export async function unlinkBlobQueued(
  db: Queryable,
  repository: string,
  digest: string,
  delayMs: number,
): Promise<boolean> {
  const rows = await queryRows<{ digest: string }>(
    db,
    `WITH review AS (INSERT INTO metadata.gc_blob_reviews (digest, review_after)
                     VALUES ($2, now() + $3 * interval '1 millisecond') ${BLOB_REVIEW_UPSERT} RETURNING 1)
     DELETE FROM metadata.blob_links bl USING metadata.repositories r, review
     WHERE r.id = bl.repository_id AND r.name = $1 AND bl.digest = $2 RETURNING bl.digest`,
    [repository, digest, delayMs],
  );
  return rows.length > 0;
}
