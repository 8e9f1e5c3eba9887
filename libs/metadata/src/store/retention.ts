import { queryRows, type Queryable } from '@wharf/database';
import { MANIFEST_REVIEW_UPSERT } from './gc-queue';

// Retention's reads and deletes over metadata.tags, and the batched record of tag pulls (pulled_at).

/** A tag as retention judges it. */
export interface RetentionTag {
  tag: string;
  digest: string;
  /** When the tag was last set (updated_at). */
  pushedAt: Date;
  /** updated_at to the microsecond: a delete goes only if the tag was not set again since. */
  pushedUs: string;
  /** Last pull by tag, null when never pulled (since pulls were recorded). */
  pulledAt: Date | null;
}

/** Repositories holding at least one tag, by name. */
export function taggedRepositories(db: Queryable): Promise<{ id: string; name: string }[]> {
  return queryRows<{ id: string; name: string }>(
    db,
    `SELECT r.id, r.name FROM metadata.repositories r
       WHERE EXISTS (SELECT 1 FROM metadata.tags t WHERE t.repository_id = r.id)
       ORDER BY r.name`,
  );
}

/** A repository's tags, most recently pushed first (ties: by name). */
export async function retentionTags(db: Queryable, repositoryId: string): Promise<RetentionTag[]> {
  const rows = await queryRows<{
    name: string;
    manifest_digest: string;
    updated_at: Date;
    pushed_us: string;
    pulled_at: Date | null;
  }>(
    db,
    `SELECT name, manifest_digest, updated_at, pulled_at,
            (extract(epoch FROM updated_at) * 1000000)::bigint::text AS pushed_us
       FROM metadata.tags WHERE repository_id = $1
       ORDER BY updated_at DESC, name`,
    [repositoryId],
  );
  return rows.map((r) => ({
    tag: r.name,
    digest: r.manifest_digest,
    pushedAt: r.updated_at,
    pushedUs: r.pushed_us,
    pulledAt: r.pulled_at,
  }));
}

/**
 * Deletes a tag retention chose, as a DELETE of the tag does (its manifest queued for the GC's
 * review), but only if it still points where it did when chosen: a tag pushed again since stays.
 */
export async function deleteTagIfUnchanged(
  db: Queryable,
  repositoryId: string,
  t: Pick<RetentionTag, 'tag' | 'digest' | 'pushedUs'>,
  delayMs: number,
): Promise<boolean> {
  const rows = await queryRows<{ name: string }>(
    db,
    `WITH del AS (DELETE FROM metadata.tags
                  WHERE repository_id = $1 AND name = $2 AND manifest_digest = $3
                    AND (extract(epoch FROM updated_at) * 1000000)::bigint = $4::bigint
                  RETURNING repository_id, manifest_digest, name),
          review AS (INSERT INTO metadata.gc_manifest_reviews (repository_id, digest, review_after)
                     SELECT repository_id, manifest_digest, now() + $5 * interval '1 millisecond' FROM del
                     ${MANIFEST_REVIEW_UPSERT})
     SELECT name FROM del`,
    [repositoryId, t.tag, t.digest, t.pushedUs, delayMs],
  );
  return rows.length > 0;
}

export interface TagPull {
  repository: string;
  tag: string;
  at: Date;
}

/** One UPDATE for a batch of pulls (one entry per tag); a pulled_at never moves back. */
export async function recordTagPulls(db: Queryable, pulls: TagPull[]): Promise<void> {
  if (!pulls.length) return;
  // Rows locked in one order (ORDER BY … FOR UPDATE), so batches that two replicas flush at once
  // cannot deadlock.
  await db.query(
    `WITH p AS (SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS p(repository, tag, at)),
          target AS (SELECT t.repository_id, t.name, p.at FROM p
                       JOIN metadata.repositories r ON r.name = p.repository
                       JOIN metadata.tags t ON t.repository_id = r.id AND t.name = p.tag
                       WHERE t.pulled_at IS NULL OR t.pulled_at < p.at
                       ORDER BY r.name, t.name FOR UPDATE OF t)
     UPDATE metadata.tags t SET pulled_at = target.at FROM target
       WHERE t.repository_id = target.repository_id AND t.name = target.name`,
    [pulls.map((p) => p.repository), pulls.map((p) => p.tag), pulls.map((p) => p.at.toISOString())],
  );
}
