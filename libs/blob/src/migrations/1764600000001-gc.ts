import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * When a blob's bytes were last committed (uploaded again or put), so a GC deletion decided before
 * a re-upload never removes the re-uploaded bytes. Nullable without a default: instant to add, and
 * the previous release (which names its columns) never sees it; NULL reads as created_at.
 */
export class BlobGc1764600000001 implements MigrationInterface {
  name = 'BlobGc1764600000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE blob.blobs ADD COLUMN IF NOT EXISTS committed_at timestamptz');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE blob.blobs DROP COLUMN IF EXISTS committed_at');
  }
}
