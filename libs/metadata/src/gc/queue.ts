/**
 * The GC review queues, written in the same transaction (often the same statement) as the change
 * that may orphan something. A review is a question for later ("is this still reachable?"), never
 * a verdict: enqueuing something live costs one row and one look.
 *
 * Lock order, everywhere: a blob's review row first, then its links. The collector claims the review
 * row and then locks the links; a link insert takes the review row first, so it either waits for a
 * collection of that digest to finish or makes the collector skip the row.
 */

/** Anything with `query`: a DataSource or a transaction's EntityManager. */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

/** Upsert keeping the later deadline, so a fresh reason to wait is never shortened by an old one. */
const LATER = 'review_after = GREATEST(EXCLUDED.review_after, ';

export const MANIFEST_REVIEW_UPSERT = `ON CONFLICT (repository_id, digest) DO UPDATE SET ${LATER}metadata.gc_manifest_reviews.review_after)`;
export const BLOB_REVIEW_UPSERT = `ON CONFLICT (digest) DO UPDATE SET ${LATER}metadata.gc_blob_reviews.review_after)`;

export function reviewManifests(
  q: Queryable,
  repositoryId: string,
  digests: string[],
  delayMs: number,
): Promise<unknown> {
  return q.query(
    `INSERT INTO metadata.gc_manifest_reviews (repository_id, digest, review_after)
     SELECT $1, unnest($2::text[]), now() + $3 * interval '1 millisecond' ${MANIFEST_REVIEW_UPSERT}`,
    [repositoryId, digests, delayMs],
  );
}

export function reviewBlobs(q: Queryable, digests: string[], delayMs: number): Promise<unknown> {
  return q.query(
    `INSERT INTO metadata.gc_blob_reviews (digest, review_after)
     SELECT unnest($1::text[]), now() + $2 * interval '1 millisecond' ${BLOB_REVIEW_UPSERT}`,
    [digests, delayMs],
  );
}

/** Before a tag moves: its current manifest may be left untagged. Locks the tag so racing moves each see the one they replace. */
export function reviewTagTarget(
  q: Queryable,
  repositoryId: string,
  tag: string,
  newDigest: string,
  delayMs: number,
): Promise<unknown> {
  return q.query(
    `INSERT INTO metadata.gc_manifest_reviews (repository_id, digest, review_after)
     SELECT t.repository_id, t.manifest_digest, now() + $4 * interval '1 millisecond'
     FROM (SELECT repository_id, manifest_digest FROM metadata.tags
           WHERE repository_id = $1 AND name = $2 FOR UPDATE) t
     WHERE t.manifest_digest <> $3 ${MANIFEST_REVIEW_UPSERT}`,
    [repositoryId, tag, newDigest, delayMs],
  );
}

/**
 * Links a blob into a repository (no row when the repository does not exist yet) and
 * queues the blob for review: uploaded is not yet referenced. The link insert reads the review
 * upsert's output, so the review row is locked first (see the lock order above).
 */
export function linkBlob(
  q: Queryable,
  repository: string,
  digest: string,
  size: number,
  delayMs: number,
): Promise<unknown> {
  return q.query(
    `WITH r AS (SELECT id FROM metadata.repositories WHERE name = $1),
          review AS (INSERT INTO metadata.gc_blob_reviews (digest, review_after)
                     SELECT $2, now() + $4 * interval '1 millisecond' FROM r ${BLOB_REVIEW_UPSERT} RETURNING 1),
          link AS (INSERT INTO metadata.blob_links (repository_id, digest, size)
                   SELECT r.id, $2, $3 FROM r, review ON CONFLICT (repository_id, digest) DO NOTHING)
     SELECT 1 FROM r`,
    [repository, digest, size, delayMs],
  );
}

/** Removes one repository link (DELETE blob): the bytes may now be referenced by nothing. */
export function unlinkBlob(
  q: Queryable,
  repository: string,
  digest: string,
  delayMs: number,
): Promise<unknown> {
  return q.query(
    `WITH review AS (INSERT INTO metadata.gc_blob_reviews (digest, review_after)
                     VALUES ($2, now() + $3 * interval '1 millisecond') ${BLOB_REVIEW_UPSERT} RETURNING 1)
     DELETE FROM metadata.blob_links bl USING metadata.repositories r, review
     WHERE r.id = bl.repository_id AND r.name = $1 AND bl.digest = $2 RETURNING bl.digest`,
    [repository, digest, delayMs],
  );
}

/**
 * Deletes a manifest (its tags and reference rows go by ON DELETE CASCADE) and queues what it
 * held up: its blobs, its index children and its referrers. Every part of the statement sees the
 * rows as they were before it, so the cascade-deleted edges are still there to read.
 */
export function deleteManifestQueued(
  q: Queryable,
  where: { repository: string } | { repositoryId: string },
  digest: string,
  delayMs: number,
): Promise<unknown> {
  const [repoJoin, repoParam] =
    'repository' in where
      ? ['USING metadata.repositories r WHERE r.id = m.repository_id AND r.name = $1', where.repository]
      : ['WHERE m.repository_id = $1::bigint', where.repositoryId];
  return q.query(
    `WITH del AS (DELETE FROM metadata.manifests m ${repoJoin} AND m.digest = $2
                  RETURNING m.repository_id, m.digest),
          blobs AS (INSERT INTO metadata.gc_blob_reviews (digest, review_after)
                    SELECT DISTINCT mb.blob_digest, now() + $3 * interval '1 millisecond'
                    FROM metadata.manifest_blobs mb JOIN del
                      ON mb.repository_id = del.repository_id AND mb.manifest_digest = del.digest
                    ${BLOB_REVIEW_UPSERT}),
          held AS (SELECT c.repository_id, c.child_digest AS digest FROM metadata.manifest_children c
                     JOIN del ON c.repository_id = del.repository_id AND c.parent_digest = del.digest
                   UNION
                   SELECT s.repository_id, s.digest FROM metadata.manifests s
                     JOIN del ON s.repository_id = del.repository_id AND s.subject_digest = del.digest),
          manifests AS (INSERT INTO metadata.gc_manifest_reviews (repository_id, digest, review_after)
                        SELECT repository_id, digest, now() + $3 * interval '1 millisecond' FROM held
                        WHERE digest <> $2 ${MANIFEST_REVIEW_UPSERT})
     SELECT digest FROM del`,
    [repoParam, digest, delayMs],
  );
}

/** Deletes a tag; the manifest it pointed at may now be untagged. */
export function deleteTagQueued(
  q: Queryable,
  repository: string,
  tag: string,
  delayMs: number,
): Promise<unknown> {
  return q.query(
    `WITH del AS (DELETE FROM metadata.tags t USING metadata.repositories r
                  WHERE r.id = t.repository_id AND r.name = $1 AND t.name = $2
                  RETURNING t.repository_id, t.manifest_digest, t.name),
          review AS (INSERT INTO metadata.gc_manifest_reviews (repository_id, digest, review_after)
                     SELECT repository_id, manifest_digest, now() + $3 * interval '1 millisecond' FROM del
                     ${MANIFEST_REVIEW_UPSERT})
     SELECT name FROM del`,
    [repository, tag, delayMs],
  );
}

/**
 * A blob HEAD is how a pushing client decides to skip an upload and reference the blob in its
 * manifest PUT: push the blob's review back by the delay, so the collector cannot take it in
 * between. Waits while a collection of the digest holds the review row; only for a linked blob.
 */
export function protectLinkedBlob(
  q: Queryable,
  repository: string,
  digest: string,
  delayMs: number,
): Promise<unknown> {
  return q.query(
    `INSERT INTO metadata.gc_blob_reviews (digest, review_after)
     SELECT bl.digest, now() + $3 * interval '1 millisecond'
     FROM metadata.blob_links bl JOIN metadata.repositories r ON r.id = bl.repository_id
     WHERE r.name = $1 AND bl.digest = $2 ${BLOB_REVIEW_UPSERT}`,
    [repository, digest, delayMs],
  );
}

/** Locks one existing link of `digest` (in `from`, when given) against a collection; false when none is left. */
export async function lockSomeLink(q: Queryable, digest: string, from: string | null): Promise<boolean> {
  const rows = (await q.query(
    `SELECT 1 FROM metadata.blob_links bl JOIN metadata.repositories r ON r.id = bl.repository_id
     WHERE bl.digest = $1 AND ($2::text IS NULL OR r.name = $2) LIMIT 1 FOR SHARE OF bl`,
    [digest, from],
  )) as unknown[];
  return rows.length > 0;
}
