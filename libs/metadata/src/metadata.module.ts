import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { METADATA_API } from '@wharf/contracts';
import { openSchemaDataSource } from '@wharf/database';
import { METADATA_ENTITIES } from './entities';
import { METADATA_MIGRATIONS } from './migrations';
import { METADATA_DATA_SOURCE, MetadataService } from './metadata.service';

export interface MetadataModuleOptions {
  databaseUrl: string;
  poolSize: number;
  timeoutMs: number;
}

export function openMetadataDataSource(opts: MetadataModuleOptions): Promise<DataSource> {
  return openSchemaDataSource({
    url: opts.databaseUrl,
    schema: 'metadata',
    entities: METADATA_ENTITIES,
    migrations: METADATA_MIGRATIONS,
    poolSize: opts.poolSize,
    timeoutMs: opts.timeoutMs,
    applicationName: 'wharf-metadata',
  });
}

/** Repositories, manifests, tags, links. Global so that whatever wires METADATA_API sees it. */
@Global()
@Module({})
export class MetadataModule implements OnApplicationShutdown {
  constructor(@Inject(METADATA_DATA_SOURCE) private readonly ds: DataSource) {}

  static register(opts: MetadataModuleOptions): DynamicModule {
    return {
      module: MetadataModule,
      providers: [
        { provide: METADATA_DATA_SOURCE, useFactory: () => openMetadataDataSource(opts) },
        MetadataService,
        { provide: METADATA_API, useExisting: MetadataService },
      ],
      exports: [METADATA_API, MetadataService],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.ds.isInitialized) await this.ds.destroy();
  }
}
