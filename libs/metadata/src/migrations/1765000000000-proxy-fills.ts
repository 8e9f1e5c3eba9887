import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The pull-through cache's fill leases (metadata.proxy_fills): a gateway fetching something from an
 * upstream holds `key` until `expires_at`, so the others wait for it instead of fetching it too.
 * A new table only: the previous release never reads it, so a rolling upgrade is safe.
 */
export class MetadataProxyFills1765000000000 implements MigrationInterface {
  name = 'MetadataProxyFills1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE IF NOT EXISTS metadata.proxy_fills (
        key text PRIMARY KEY,
        holder text NOT NULL,
        expires_at timestamptz NOT NULL
      )
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE IF EXISTS metadata.proxy_fills');
  }
}
