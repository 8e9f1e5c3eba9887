import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Where the collector's walk over committed blobs (BlobApi.listCommitted) has got to: an opaque
 * cursor of the blob service's. NULL (nothing walked yet) is where a fresh or upgraded registry
 * starts, so bytes that were orphaned before this release are found too.
 */
export class MetadataGcUnlinked1764800000000 implements MigrationInterface {
  name = 'MetadataGcUnlinked1764800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE metadata.gc_state ADD COLUMN IF NOT EXISTS unlinked_cursor text');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE metadata.gc_state DROP COLUMN IF EXISTS unlinked_cursor');
  }
}
