import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Coherent caches across processes (docs/adr/0024-coherent-caches.md). `cache_holders` is the lease
 * registry: every process that answers reads from a cache (gateways, the all-in-one) renews its row
 * every second; writers wait for the acknowledgement of every live holder, or revoke it and wait
 * out its lease. `cache_changes` holds a write's invalidation from its commit until every holder has
 * it, so one whose writer died in between is delivered by another replica. New tables only: the
 * previous release never reads them, so a rolling upgrade is safe.
 */
export class MetadataCacheCoherence1764900000000 implements MigrationInterface {
  name = 'MetadataCacheCoherence1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE IF NOT EXISTS metadata.cache_holders (
        id text PRIMARY KEY,
        expires_at timestamptz NOT NULL,
        revoked boolean NOT NULL DEFAULT false
      );
      CREATE TABLE IF NOT EXISTS metadata.cache_changes (
        id bigserial PRIMARY KEY,
        changes jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE IF EXISTS metadata.cache_changes; DROP TABLE IF EXISTS metadata.cache_holders');
  }
}
