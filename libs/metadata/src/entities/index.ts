import { Column, CreateDateColumn, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

// The metadata schema. Hot paths query it with hand-written SQL (see metadata.store.ts); the
// entities document the tables and serve migrations and admin tooling.

@Entity({ schema: 'metadata', name: 'repositories' })
export class RepositoryEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;
  @Column({ type: 'text', unique: true, collation: 'C' })
  name!: string;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}

/** A blob linked into a repository: the access boundary (knowing a digest grants nothing). */
@Entity({ schema: 'metadata', name: 'blob_links' })
export class BlobLinkEntity {
  @PrimaryColumn({ name: 'repository_id', type: 'bigint' })
  repositoryId!: string;
  @PrimaryColumn({ type: 'text' })
  digest!: string;
  @Column({ type: 'bigint' })
  size!: string;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}

@Entity({ schema: 'metadata', name: 'manifests' })
export class ManifestEntity {
  @PrimaryColumn({ name: 'repository_id', type: 'bigint' })
  repositoryId!: string;
  @PrimaryColumn({ type: 'text' })
  digest!: string;
  @Column({ name: 'media_type', type: 'text' })
  mediaType!: string;
  /** artifactType, or config.mediaType for an image: what the referrers API reports. */
  @Column({ name: 'artifact_type', type: 'text', nullable: true })
  artifactType!: string | null;
  @Column({ type: 'integer' })
  size!: number;
  /** The exact bytes that were pushed. */
  @Column({ type: 'bytea' })
  body!: Buffer;
  @Column({ name: 'config_digest', type: 'text', nullable: true })
  configDigest!: string | null;
  /** The image config bytes of a Docker schema2 image (what the schema1 rewrite reads), up to 4 MiB. */
  @Column({ type: 'bytea', nullable: true })
  config!: Buffer | null;
  @Column({ name: 'subject_digest', type: 'text', nullable: true })
  subjectDigest!: string | null;
  @Column({ type: 'jsonb', nullable: true })
  annotations!: Record<string, string> | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}

/** Blobs (config and layers) a manifest references, as rows so GC can follow them. */
@Entity({ schema: 'metadata', name: 'manifest_blobs' })
export class ManifestBlobEntity {
  @PrimaryColumn({ name: 'repository_id', type: 'bigint' })
  repositoryId!: string;
  @PrimaryColumn({ name: 'manifest_digest', type: 'text' })
  manifestDigest!: string;
  @PrimaryColumn({ name: 'blob_digest', type: 'text' })
  blobDigest!: string;
}

/** Index → child manifest edges. */
@Entity({ schema: 'metadata', name: 'manifest_children' })
export class ManifestChildEntity {
  @PrimaryColumn({ name: 'repository_id', type: 'bigint' })
  repositoryId!: string;
  @PrimaryColumn({ name: 'parent_digest', type: 'text' })
  parentDigest!: string;
  @PrimaryColumn({ name: 'child_digest', type: 'text' })
  childDigest!: string;
}

@Entity({ schema: 'metadata', name: 'tags' })
export class TagEntity {
  @PrimaryColumn({ name: 'repository_id', type: 'bigint' })
  repositoryId!: string;
  @PrimaryColumn({ type: 'text', collation: 'C' })
  name!: string;
  @Column({ name: 'manifest_digest', type: 'text' })
  manifestDigest!: string;
  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

export const METADATA_ENTITIES = [
  RepositoryEntity,
  BlobLinkEntity,
  ManifestEntity,
  ManifestBlobEntity,
  ManifestChildEntity,
  TagEntity,
];
