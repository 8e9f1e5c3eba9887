import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The event outbox (docs/adr/0010-durable-events.md). `event_outbox` gets a row in the same
 * transaction as the change it reports; the relay marks it published once every sink has it queued.
 * `event_deliveries` holds what each webhook endpoint has still to receive. New tables only: the
 * previous release never reads them, so a rolling upgrade is safe.
 */
export class MetadataEvents1764700000000 implements MigrationInterface {
  name = 'MetadataEvents1764700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE IF NOT EXISTS metadata.event_outbox (
        seq bigserial PRIMARY KEY,
        id uuid NOT NULL UNIQUE,
        action text NOT NULL,
        event jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz
      );
      CREATE INDEX IF NOT EXISTS event_outbox_unpublished_idx ON metadata.event_outbox (seq)
        WHERE published_at IS NULL;
      CREATE TABLE IF NOT EXISTS metadata.event_deliveries (
        endpoint text NOT NULL,
        seq bigint NOT NULL REFERENCES metadata.event_outbox(seq) ON DELETE CASCADE,
        PRIMARY KEY (endpoint, seq)
      );
      CREATE INDEX IF NOT EXISTS event_deliveries_seq_idx ON metadata.event_deliveries (seq);
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      'DROP TABLE IF EXISTS metadata.event_deliveries; DROP TABLE IF EXISTS metadata.event_outbox',
    );
  }
}
