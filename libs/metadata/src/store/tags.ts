import { queryRows, type Queryable } from '@wharf/database';
import { MANIFEST_REVIEW_UPSERT } from './gc-queue';

// metadata.tags: (repository, name) → manifest digest; byte-order ("C") names.

/** Points the tag at `digest`, creating it when new. */
export async function putTag(
  db: Queryable,
  repositoryId: string,
  tag: string,
  digest: string,
): Promise<void> {
  await db.query(
    `INSERT INTO metadata.tags (repository_id, name, manifest_digest, updated_at)
     VALUES ($1, $2, $3, now())
     ON CONFLICT (repository_id, name) DO UPDATE SET manifest_digest = EXCLUDED.manifest_digest, updated_at = now()`,
    [repositoryId, tag, digest],
  );
}

/** The tags on a manifest, by name; read without a lock (see ManifestWrites.deleteManifest). */
export async function tagsOfManifest(db: Queryable, repository: string, digest: string): Promise<string[]> {
  const rows = await queryRows<{ name: string }>(
    db,
    `SELECT t.name FROM metadata.tags t JOIN metadata.repositories r ON r.id = t.repository_id
     WHERE r.name = $1 AND t.manifest_digest = $2 ORDER BY t.name`,
    [repository, digest],
  );
  return rows.map((r) => r.name);
}

/** Tags list page: names after `after` (byte order), at most `limit`. */
export async function tagNamesPage(
  db: Queryable,
  repositoryId: string,
  after: string | null,
  limit: number,
): Promise<string[]> {
  const rows = await queryRows<{ name: string }>(
    db,
    `SELECT name FROM metadata.tags WHERE repository_id = $1 AND ($2::text IS NULL OR name > $2)
     ORDER BY name LIMIT $3`,
    [repositoryId, after, limit],
  );
  return rows.map((r) => r.name);
}

/** Deletes a tag and queues the manifest it pointed at for review; false when there was no such tag. */
export async function deleteTagQueued(
  db: Queryable,
  repository: string,
  tag: string,
  delayMs: number,
): Promise<boolean> {
  const rows = await queryRows<{ name: string }>(
    db,
    `WITH del AS (DELETE FROM metadata.tags t USING metadata.repositories r
                  WHERE r.id = t.repository_id AND r.name = $1 AND t.name = $2
                  RETURNING t.repository_id, t.manifest_digest, t.name),
          review AS (INSERT INTO metadata.gc_manifest_reviews (repository_id, digest, review_after)
                     SELECT repository_id, manifest_digest, now() + $3 * interval '1 millisecond' FROM del
                     ${MANIFEST_REVIEW_UPSERT})
     SELECT name FROM del`,
    [repository, tag, delayMs],
  );
  return rows.length > 0;
}
