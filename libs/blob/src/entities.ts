import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/**
 * An upload in progress. Everything another replica needs to continue it lives here: the byte
 * count, the driver's handle (file or multipart state) and when it was last touched.
 */
@Entity({ schema: 'blob', name: 'uploads' })
export class UploadEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;
  @Column({ type: 'text' })
  repository!: string;
  @Column({ type: 'bigint' })
  size!: string;
  @Column({ type: 'jsonb' })
  handle!: Record<string, unknown>;
  /** Exclusive right to append, so two requests never write the same upload at once. */
  @Column({ name: 'lease_until', type: 'timestamptz', nullable: true })
  leaseUntil!: Date | null;
  @Column({ name: 'lease_token', type: 'text', nullable: true })
  leaseToken!: string | null;
  @CreateDateColumn({ name: 'started_at', type: 'timestamptz' })
  startedAt!: Date;
  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

/** A committed, verified blob in object storage. */
@Entity({ schema: 'blob', name: 'blobs' })
export class BlobEntity {
  @PrimaryColumn({ type: 'text' })
  digest!: string;
  @Column({ type: 'bigint' })
  size!: string;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}

export const BLOB_ENTITIES = [UploadEntity, BlobEntity];
