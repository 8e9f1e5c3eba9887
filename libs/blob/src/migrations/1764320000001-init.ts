import type { MigrationInterface, QueryRunner } from 'typeorm';

export class BlobInit1764320000001 implements MigrationInterface {
  name = 'BlobInit1764320000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE blob.uploads (
        id uuid PRIMARY KEY,
        repository text NOT NULL,
        size bigint NOT NULL DEFAULT 0,
        handle jsonb NOT NULL,
        lease_until timestamptz,
        lease_token text,
        started_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX uploads_updated_idx ON blob.uploads (updated_at);
      CREATE TABLE blob.blobs (
        digest text PRIMARY KEY,
        size bigint NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE blob.blobs; DROP TABLE blob.uploads;');
  }
}
