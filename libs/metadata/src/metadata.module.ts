import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { METADATA_API } from '@wharf/contracts';
import { openSchemaDataSource } from '@wharf/database';
import { METADATA_ENTITIES } from './entities';
import { eventProviders, type MetadataEventsOptions } from './events';
import { GC_OPTIONS, GcWorker, type GcOptions } from './gc';
import { METADATA_MIGRATIONS } from './migrations';
import { MetadataMetrics } from './metadata-metrics';
import { METADATA_DATA_SOURCE, MetadataService } from './metadata.service';
import { METADATA_READ_CACHE, MetadataReadCache, type ReadCacheOptions } from './read-cache';
import { schema1Providers, type Schema1Options } from './schema1.rewriter';

export interface MetadataModuleOptions {
  databaseUrl: string;
  poolSize: number;
  timeoutMs: number;
  /** See SchemaDataSourceOptions.warmPool. */
  warmPool?: boolean;
  /**
   * Old clients: the schema2 → schema1 rewrite and schema1 push. Needs BLOB_API (for configs and
   * the empty layer). Without it schema2 is served as stored, as Distribution 3 does.
   */
  schema1?: Schema1Options;
  /**
   * Caches tag and digest lookups and blob links in process. Only for a process that makes every
   * write to this database itself (the all-in-one): see read-cache.ts.
   */
  readCache?: ReadCacheOptions;
  /** Durable events (outbox, relay, webhooks); off when absent or with nowhere to send them. */
  events?: MetadataEventsOptions;
  /** Online GC: the review delay every write queues with, and the worker (when enabled). */
  gc?: GcOptions;
}

export function openMetadataDataSource(opts: MetadataModuleOptions): Promise<DataSource> {
  return openSchemaDataSource({
    url: opts.databaseUrl,
    schema: 'metadata',
    entities: METADATA_ENTITIES,
    migrations: METADATA_MIGRATIONS,
    poolSize: opts.poolSize,
    timeoutMs: opts.timeoutMs,
    warmPool: opts.warmPool,
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
        MetadataMetrics,
        { provide: METADATA_API, useExisting: MetadataService },
        ...(opts.schema1 ? schema1Providers(opts.schema1) : []),
        ...(opts.readCache
          ? [{ provide: METADATA_READ_CACHE, useValue: new MetadataReadCache(opts.readCache) }]
          : []),
        ...eventProviders(METADATA_DATA_SOURCE, opts.events),
        ...(opts.gc ? [{ provide: GC_OPTIONS, useValue: opts.gc }, GcWorker] : []),
      ],
      exports: [METADATA_API, MetadataService, METADATA_DATA_SOURCE, ...(opts.gc ? [GcWorker] : [])],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.ds.isInitialized) await this.ds.destroy();
  }
}
