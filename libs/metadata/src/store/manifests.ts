import type { Descriptor } from '@wharf/contracts';
import { queryRows, type Queryable } from '@wharf/database';
import { BLOB_REVIEW_UPSERT, MANIFEST_REVIEW_UPSERT } from './gc-queue';

// metadata.manifests (bytes and parsed fields) and the references read from them:
// manifest_blobs (config and layers) and manifest_children (index → child).

/** A manifest as reads serve and the read cache keeps it; `body` only when asked for (a HEAD needs none). */
export interface ManifestRow {
  digest: string;
  media_type: string;
  size: number;
  body: Buffer | null;
}

export async function manifestByTag(
  db: Queryable,
  repository: string,
  tag: string,
  withBody: boolean,
): Promise<ManifestRow | undefined> {
  const rows = await queryRows<ManifestRow>(
    db,
    `SELECT m.digest, m.media_type, m.size, CASE WHEN $3 THEN m.body END AS body
       FROM metadata.repositories r
       JOIN metadata.tags t ON t.repository_id = r.id
       JOIN metadata.manifests m ON m.repository_id = t.repository_id AND m.digest = t.manifest_digest
       WHERE r.name = $1 AND t.name = $2`,
    [repository, tag, withBody],
  );
  return rows[0];
}

export async function manifestByDigest(
  db: Queryable,
  repository: string,
  digest: string,
  withBody: boolean,
): Promise<ManifestRow | undefined> {
  const rows = await queryRows<ManifestRow>(
    db,
    `SELECT m.digest, m.media_type, m.size, CASE WHEN $3 THEN m.body END AS body
       FROM metadata.repositories r JOIN metadata.manifests m ON m.repository_id = r.id
       WHERE r.name = $1 AND m.digest = $2`,
    [repository, digest, withBody],
  );
  return rows[0];
}

/** A manifest PUT's row: the bytes as pushed and what reads, referrers and the schema1 rewrite need. */
export interface NewManifest {
  repositoryId: string;
  digest: string;
  mediaType: string;
  /** What the referrers API reports (effectiveArtifactType). */
  artifactType: string | null;
  body: Buffer;
  configDigest: string | null;
  subjectDigest: string | null;
  annotations: Record<string, string> | null;
  /** The image config bytes of a Docker schema2 image, kept for the schema1 rewrite. */
  config: Buffer | null;
}

/**
 * DO UPDATE, not DO NOTHING: it locks an existing row, so a concurrent DELETE of this manifest
 * waits for this transaction instead of pulling the row out from under the inserts that follow.
 */
export async function insertManifest(db: Queryable, m: NewManifest): Promise<void> {
  await db.query(
    `INSERT INTO metadata.manifests
       (repository_id, digest, media_type, artifact_type, size, body, config_digest, subject_digest, annotations, config)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (repository_id, digest) DO UPDATE SET digest = EXCLUDED.digest`,
    [
      m.repositoryId,
      m.digest,
      m.mediaType,
      m.artifactType,
      m.body.length,
      m.body,
      m.configDigest,
      m.subjectDigest,
      m.annotations ? JSON.stringify(jsonbSafe(m.annotations)) : null,
      m.config,
    ],
  );
}

export async function insertManifestBlobs(
  db: Queryable,
  repositoryId: string,
  digest: string,
  blobs: string[],
): Promise<void> {
  await db.query(
    `INSERT INTO metadata.manifest_blobs (repository_id, manifest_digest, blob_digest)
     SELECT $1, $2, unnest($3::text[]) ON CONFLICT DO NOTHING`,
    [repositoryId, digest, blobs],
  );
}

export async function insertManifestChildren(
  db: Queryable,
  repositoryId: string,
  digest: string,
  children: string[],
): Promise<void> {
  await db.query(
    `INSERT INTO metadata.manifest_children (repository_id, parent_digest, child_digest)
     SELECT $1, $2, unnest($3::text[]) ON CONFLICT DO NOTHING`,
    [repositoryId, digest, children],
  );
}

/**
 * Of `digests`, those not linked as blobs in the repository. The present ones are locked FOR SHARE
 * until the transaction ends, so an unlink or a collection cannot slip in before the PUT commits.
 */
export function missingBlobLinks(db: Queryable, repositoryId: string, digests: string[]): Promise<string[]> {
  return missingFrom(db, 'blob_links', repositoryId, digests);
}

/** Of `digests`, those not stored as manifests in the repository; the present ones locked FOR SHARE. */
export function missingManifests(db: Queryable, repositoryId: string, digests: string[]): Promise<string[]> {
  return missingFrom(db, 'manifests', repositoryId, digests);
}

async function missingFrom(
  db: Queryable,
  table: 'blob_links' | 'manifests',
  repositoryId: string,
  digests: string[],
): Promise<string[]> {
  if (!digests.length) return [];
  const rows = await queryRows<{ digest: string }>(
    db,
    `SELECT digest FROM metadata.${table} WHERE repository_id = $1 AND digest = ANY($2::text[]) FOR SHARE`,
    [repositoryId, digests],
  );
  const present = new Set(rows.map((r) => r.digest));
  return digests.filter((d) => !present.has(d));
}

/** The manifests whose subject is `subject`, oldest first, optionally of one artifact type. */
export async function referrersOf(
  db: Queryable,
  repository: string,
  subject: string,
  artifactType: string | null,
): Promise<Descriptor[]> {
  const rows = await queryRows<{
    digest: string;
    media_type: string;
    size: number;
    artifact_type: string | null;
    annotations: Record<string, string> | null;
  }>(
    db,
    `SELECT m.digest, m.media_type, m.size, m.artifact_type, m.annotations
       FROM metadata.manifests m JOIN metadata.repositories r ON r.id = m.repository_id
       WHERE r.name = $1 AND m.subject_digest = $2 AND ($3::text IS NULL OR m.artifact_type = $3)
       ORDER BY m.created_at, m.digest`,
    [repository, subject, artifactType],
  );
  return rows.map((r) => ({
    mediaType: r.media_type,
    digest: r.digest,
    size: Number(r.size),
    ...(r.artifact_type ? { artifactType: r.artifact_type } : {}),
    ...(r.annotations ? { annotations: r.annotations } : {}),
  }));
}

/** The image config kept beside a manifest (null for rows older than that column), and the row's repository id. */
export async function keptImageConfig(
  db: Queryable,
  repository: string,
  digest: string,
): Promise<{ repositoryId: string; config: Buffer | null } | undefined> {
  const rows = await queryRows<{ id: string; config: Buffer | null }>(
    db,
    `SELECT r.id, m.config FROM metadata.repositories r
       JOIN metadata.manifests m ON m.repository_id = r.id
       WHERE r.name = $1 AND m.digest = $2`,
    [repository, digest],
  );
  return rows.length ? { repositoryId: rows[0].id, config: rows[0].config } : undefined;
}

/** Keeps a config read late beside its manifest, unless another replica kept one first. */
export async function backfillImageConfig(
  db: Queryable,
  repositoryId: string,
  digest: string,
  config: Buffer,
): Promise<void> {
  await db.query(
    `UPDATE metadata.manifests SET config = $3 WHERE repository_id = $1 AND digest = $2 AND config IS NULL`,
    [repositoryId, digest, config],
  );
}

/**
 * Deletes a manifest (its tags and reference rows go by ON DELETE CASCADE) and queues what it
 * held up: its blobs, its index children and its referrers. Every part of the statement sees the
 * rows as they were before it, so the cascade-deleted edges are still there to read. False when
 * there was no such manifest.
 */
export async function deleteManifestQueued(
  db: Queryable,
  where: { repository: string } | { repositoryId: string },
  digest: string,
  delayMs: number,
): Promise<boolean> {
  const [repoJoin, repoParam] =
    'repository' in where
      ? ['USING metadata.repositories r WHERE r.id = m.repository_id AND r.name = $1', where.repository]
      : ['WHERE m.repository_id = $1::bigint', where.repositoryId];
  const rows = await queryRows<{ digest: string }>(
    db,
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
  return rows.length > 0;
}

/**
 * Annotations as jsonb can hold: jsonb rejects `\u0000` and lone surrogates, which JSON text (and
 * so a pushed manifest) may contain. Both become U+FFFD, as Go's JSON decoder does for lone
 * surrogates; only the referrers listing shows the result, the stored manifest bytes stay exact.
 */
function jsonbSafe(annotations: Record<string, string>): Record<string, string> {
  // With the `u` flag a paired surrogate is one code point, so \p{Cs} matches only lone ones.
  const clean = (v: string): string => v.replace(/[\0\p{Cs}]/gu, '\uFFFD');
  return Object.fromEntries(Object.entries(annotations).map(([k, v]) => [clean(k), clean(v)]));
}
