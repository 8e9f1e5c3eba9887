import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The metadata schema, first version. Byte-order ("C") collation makes ORDER BY match the spec. */
export class MetadataInit1764320000000 implements MigrationInterface {
  name = 'MetadataInit1764320000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE metadata.repositories (
        id bigserial PRIMARY KEY,
        name text COLLATE "C" NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE metadata.blob_links (
        repository_id bigint NOT NULL REFERENCES metadata.repositories(id) ON DELETE CASCADE,
        digest text NOT NULL,
        size bigint NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (repository_id, digest)
      );
      CREATE INDEX blob_links_digest_idx ON metadata.blob_links (digest);
      CREATE TABLE metadata.manifests (
        repository_id bigint NOT NULL REFERENCES metadata.repositories(id) ON DELETE CASCADE,
        digest text NOT NULL,
        media_type text NOT NULL,
        artifact_type text,
        size integer NOT NULL,
        body bytea NOT NULL,
        config_digest text,
        subject_digest text,
        annotations jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (repository_id, digest)
      );
      CREATE INDEX manifests_subject_idx ON metadata.manifests (repository_id, subject_digest)
        WHERE subject_digest IS NOT NULL;
      CREATE TABLE metadata.manifest_blobs (
        repository_id bigint NOT NULL,
        manifest_digest text NOT NULL,
        blob_digest text NOT NULL,
        PRIMARY KEY (repository_id, manifest_digest, blob_digest),
        FOREIGN KEY (repository_id, manifest_digest)
          REFERENCES metadata.manifests (repository_id, digest) ON DELETE CASCADE
      );
      CREATE INDEX manifest_blobs_blob_idx ON metadata.manifest_blobs (blob_digest);
      CREATE TABLE metadata.manifest_children (
        repository_id bigint NOT NULL,
        parent_digest text NOT NULL,
        child_digest text NOT NULL,
        PRIMARY KEY (repository_id, parent_digest, child_digest),
        FOREIGN KEY (repository_id, parent_digest)
          REFERENCES metadata.manifests (repository_id, digest) ON DELETE CASCADE
      );
      CREATE INDEX manifest_children_child_idx ON metadata.manifest_children (repository_id, child_digest);
      CREATE TABLE metadata.tags (
        repository_id bigint NOT NULL,
        name text COLLATE "C" NOT NULL,
        manifest_digest text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (repository_id, name),
        FOREIGN KEY (repository_id, manifest_digest)
          REFERENCES metadata.manifests (repository_id, digest) ON DELETE CASCADE
      );
      CREATE INDEX tags_manifest_idx ON metadata.tags (repository_id, manifest_digest);
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP TABLE metadata.tags; DROP TABLE metadata.manifest_children; DROP TABLE metadata.manifest_blobs;
      DROP TABLE metadata.manifests; DROP TABLE metadata.blob_links; DROP TABLE metadata.repositories;
    `);
  }
}
