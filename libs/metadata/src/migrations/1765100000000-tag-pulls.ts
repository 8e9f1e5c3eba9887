import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * When each tag was last pulled (metadata.tags.pulled_at), for retention's keepPulledWithin. A
 * nullable column only: the previous release neither reads nor writes it, so a rolling upgrade is
 * safe; a tag never pulled counts as pulled when it was last set.
 */
export class MetadataTagPulls1765100000000 implements MigrationInterface {
  name = 'MetadataTagPulls1765100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE metadata.tags ADD COLUMN IF NOT EXISTS pulled_at timestamptz');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE metadata.tags DROP COLUMN IF EXISTS pulled_at');
  }
}
