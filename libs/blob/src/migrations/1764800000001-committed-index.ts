import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The order the collector pages blob.blobs in (BlobApi.listCommitted): commit time, then digest.
 * Built once at upgrade (seconds for a million blobs; commits wait meanwhile); without it every
 * page would scan the table.
 */
export class BlobCommittedIndex1764800000001 implements MigrationInterface {
  name = 'BlobCommittedIndex1764800000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      'CREATE INDEX IF NOT EXISTS blobs_committed ON blob.blobs ((COALESCE(committed_at, created_at)), digest)',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX IF EXISTS blob.blobs_committed');
  }
}
