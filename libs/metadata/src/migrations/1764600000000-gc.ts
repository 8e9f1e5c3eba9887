import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Online garbage collection (docs/adr/0012-online-gc.md): review queues written in the transaction
 * of the change that may orphan something, the byte deletions still owed to the blob service, and
 * one row of running totals. New tables only: the previous release never reads them, so a rolling
 * upgrade is safe (its writes simply enqueue nothing; the CLI's dry run still sees the orphans).
 */
export class MetadataGc1764600000000 implements MigrationInterface {
  name = 'MetadataGc1764600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE IF NOT EXISTS metadata.gc_manifest_reviews (
        repository_id bigint NOT NULL REFERENCES metadata.repositories(id) ON DELETE CASCADE,
        digest text NOT NULL,
        review_after timestamptz NOT NULL,
        PRIMARY KEY (repository_id, digest)
      );
      CREATE INDEX IF NOT EXISTS gc_manifest_reviews_due_idx ON metadata.gc_manifest_reviews (review_after);
      CREATE TABLE IF NOT EXISTS metadata.gc_blob_reviews (
        digest text PRIMARY KEY,
        review_after timestamptz NOT NULL
      );
      CREATE INDEX IF NOT EXISTS gc_blob_reviews_due_idx ON metadata.gc_blob_reviews (review_after);
      CREATE TABLE IF NOT EXISTS metadata.gc_blob_deletions (
        digest text PRIMARY KEY,
        size bigint NOT NULL,
        decided_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE IF NOT EXISTS metadata.gc_state (
        id smallint PRIMARY KEY CHECK (id = 1),
        last_run_at timestamptz,
        manifests_deleted bigint NOT NULL DEFAULT 0,
        blobs_deleted bigint NOT NULL DEFAULT 0,
        bytes_freed bigint NOT NULL DEFAULT 0
      );
      INSERT INTO metadata.gc_state (id) VALUES (1) ON CONFLICT DO NOTHING;
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP TABLE IF EXISTS metadata.gc_state; DROP TABLE IF EXISTS metadata.gc_blob_deletions;
      DROP TABLE IF EXISTS metadata.gc_blob_reviews; DROP TABLE IF EXISTS metadata.gc_manifest_reviews;
    `);
  }
}
