import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { BLOB_API } from '@wharf/contracts';
import { openSchemaDataSource } from '@wharf/database';
import type { BlobDriver } from '@wharf/storage';
import { BLOB_ENTITIES } from './entities';
import { BLOB_MIGRATIONS } from './migrations';
import { BLOB_DATA_SOURCE, BLOB_DRIVER, BLOB_OPTIONS, BlobService } from './blob.service';
import { UploadMetrics } from './upload-metrics';

export interface BlobModuleOptions {
  databaseUrl: string;
  poolSize: number;
  timeoutMs: number;
  /** See SchemaDataSourceOptions.warmPool. */
  warmPool?: boolean;
  uploadTtlMs: number;
  driver: BlobDriver;
  /** See BlobServiceOptions.soleWriter. */
  soleWriter?: boolean;
  /** See BlobServiceOptions.redirect. */
  redirect?: boolean;
}

export function openBlobDataSource(
  opts: Pick<BlobModuleOptions, 'databaseUrl' | 'poolSize' | 'timeoutMs' | 'warmPool'>,
): Promise<DataSource> {
  return openSchemaDataSource({
    url: opts.databaseUrl,
    schema: 'blob',
    entities: BLOB_ENTITIES,
    migrations: BLOB_MIGRATIONS,
    poolSize: opts.poolSize,
    timeoutMs: opts.timeoutMs,
    warmPool: opts.warmPool,
    applicationName: 'wharf-blob',
  });
}

/** Upload sessions, blob records and the storage driver. */
@Global()
@Module({})
export class BlobModule implements OnApplicationShutdown {
  constructor(@Inject(BLOB_DATA_SOURCE) private readonly ds: DataSource) {}

  static register(opts: BlobModuleOptions): DynamicModule {
    return {
      module: BlobModule,
      providers: [
        { provide: BLOB_DATA_SOURCE, useFactory: () => openBlobDataSource(opts) },
        { provide: BLOB_DRIVER, useValue: opts.driver },
        {
          provide: BLOB_OPTIONS,
          useValue: {
            uploadTtlMs: opts.uploadTtlMs,
            soleWriter: opts.soleWriter,
            redirect: opts.redirect,
          },
        },
        BlobService,
        UploadMetrics,
        { provide: BLOB_API, useExisting: BlobService },
      ],
      exports: [BLOB_API, BlobService, BLOB_DATA_SOURCE, BLOB_DRIVER],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.ds.isInitialized) await this.ds.destroy();
  }
}
