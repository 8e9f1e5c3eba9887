import { SCHEMA1_EMPTY_LAYER_DIGEST } from '@wharf/oci';

/**
 * A full mark over the reference graph: live = tagged, plus (recursively) the children of live
 * indexes and the referrers of live subjects; garbage = every other manifest, and every linked
 * blob that no live manifest references. Finds orphans the queues do not know about too (content
 * from before the queues existed), which `enqueueGarbage` hands to the workers.
 */
export const MARK = `
  WITH RECURSIVE edges AS (
    SELECT repository_id, parent_digest AS source, child_digest AS target FROM metadata.manifest_children
    UNION ALL
    SELECT repository_id, subject_digest, digest FROM metadata.manifests WHERE subject_digest IS NOT NULL
  ),
  live(repository_id, digest) AS (
    SELECT DISTINCT t.repository_id, t.manifest_digest FROM metadata.tags t
    UNION
    SELECT e.repository_id, e.target FROM edges e JOIN live l
      ON l.repository_id = e.repository_id AND l.digest = e.source
  ),
  dead_manifests AS (
    SELECT m.repository_id, m.digest, m.size, m.created_at FROM metadata.manifests m
    WHERE NOT EXISTS (SELECT 1 FROM live l WHERE l.repository_id = m.repository_id AND l.digest = m.digest)
  ),
  live_blobs AS (
    SELECT DISTINCT mb.blob_digest AS digest FROM metadata.manifest_blobs mb
    JOIN live l ON l.repository_id = mb.repository_id AND l.digest = mb.manifest_digest
  ),
  dead_blobs AS (
    SELECT bl.digest, max(bl.size) AS size, max(bl.created_at) AS created_at FROM metadata.blob_links bl
    WHERE bl.digest <> '${SCHEMA1_EMPTY_LAYER_DIGEST}'
      AND NOT EXISTS (SELECT 1 FROM live_blobs lb WHERE lb.digest = bl.digest)
    GROUP BY bl.digest
  )`;
