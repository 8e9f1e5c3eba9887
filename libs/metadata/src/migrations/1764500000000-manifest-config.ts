import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The image config beside its manifest, so the schema1 rewrite reads no blob. Nullable and without
 * a default: adding it is instant, the previous release (which names its columns) never sees it,
 * and rows from before it are backfilled on their first rewrite.
 */
export class MetadataManifestConfig1764500000000 implements MigrationInterface {
  name = 'MetadataManifestConfig1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE metadata.manifests ADD COLUMN IF NOT EXISTS config bytea');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE metadata.manifests DROP COLUMN IF EXISTS config');
  }
}
