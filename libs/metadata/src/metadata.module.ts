import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { METADATA_API } from '@wharf/contracts';
import { openSchemaDataSource } from '@wharf/database';
import { BlobLinks } from './blob-links.service';
import {
  CACHE_COHERENCE,
  CacheHolders,
  coherenceProviders,
  type MetadataCoherenceOptions,
} from './coherence';
import { eventProviders, type MetadataEventsOptions } from './events';
import { GC_DEFAULTS, GC_OPTIONS, GcWorker, type GcOptions } from './gc';
import { ManifestReads } from './manifest-reads';
import { ManifestWrites } from './manifest-writes';
import { METADATA_MIGRATIONS } from './migrations';
import { MetadataMetrics } from './metadata-metrics';
import { MetadataService } from './metadata.service';
import { ProxyFills } from './proxy-fills';
import { METADATA_READ_CACHE, MetadataReadCache, NO_READ_CACHE, type ReadCacheOptions } from './read-cache';
import { schema1Providers, type Schema1Options } from './schema1.rewriter';
import { NO_SCHEMA1 } from './schema1.seam';
import { REPOSITORY_RULES, loadRepositoryRules } from './rules/repository-rules';
import { NamespaceQuotas } from './rules/quotas';
import { QuotaMetrics } from './rules/quota-metrics';
import { RETENTION_OPTIONS, RetentionWorker } from './rules/retention-worker';
import { NO_TAG_PULLS, TAG_PULLS, TagPulls } from './rules/tag-pulls';
import { METADATA_DATA_SOURCE, SCHEMA1_REWRITER } from './tokens';

export interface MetadataModuleOptions {
  databaseUrl: string;
  poolSize: number;
  timeoutMs: number;
  /** See SchemaDataSourceOptions.warmPool. */
  warmPool?: boolean;
  /**
   * Old clients: the schema2 → schema1 rewrite and schema1 push. Without it schema2 is served as
   * stored, as Distribution 3 does.
   */
  schema1?: Schema1Options;
  /**
   * Caches tag and digest lookups and blob links in process (the all-in-one), as a cache holder
   * that writers in other processes revoke: see read-cache.ts.
   */
  readCache?: ReadCacheOptions;
  /** Durable events (outbox, relay, webhooks); off when absent or with nowhere to send them. */
  events?: MetadataEventsOptions;
  /** Online GC: the review delay every write queues with, and the worker (when enabled). */
  gc?: GcOptions;
  /** How writes keep the gateways' caches coherent (ADR 24). */
  coherence?: MetadataCoherenceOptions;
  /** Repository rules (WHARF_RULES): immutable tags, quotas, retention; none when absent. */
  rules?: { file?: string; retentionIntervalMs: number };
}

export function openMetadataDataSource(opts: MetadataModuleOptions): Promise<DataSource> {
  return openSchemaDataSource({
    url: opts.databaseUrl,
    schema: 'metadata',
    migrations: METADATA_MIGRATIONS,
    poolSize: opts.poolSize,
    timeoutMs: opts.timeoutMs,
    warmPool: opts.warmPool,
    applicationName: 'wharf-metadata',
  });
}

/**
 * Repositories, manifests, tags, links. Global so that whatever wires METADATA_API sees it. Needs a
 * BLOB_API from the app: image configs kept at PUT, the schema1 empty layer, GC byte deletions.
 */
@Global()
@Module({})
export class MetadataModule implements OnApplicationShutdown {
  constructor(@Inject(METADATA_DATA_SOURCE) private readonly ds: DataSource) {}

  static register(opts: MetadataModuleOptions): DynamicModule {
    return {
      module: MetadataModule,
      providers: [
        { provide: METADATA_DATA_SOURCE, useFactory: () => openMetadataDataSource(opts) },
        ManifestReads,
        ManifestWrites,
        BlobLinks,
        ProxyFills,
        NamespaceQuotas,
        QuotaMetrics,
        MetadataService,
        MetadataMetrics,
        { provide: METADATA_API, useExisting: MetadataService },
        ...(opts.schema1
          ? schema1Providers(opts.schema1)
          : [{ provide: SCHEMA1_REWRITER, useValue: NO_SCHEMA1 }]),
        {
          provide: METADATA_READ_CACHE,
          useValue: opts.readCache ? new MetadataReadCache(opts.readCache) : NO_READ_CACHE,
        },
        ...eventProviders(METADATA_DATA_SOURCE, opts.events),
        ...coherenceProviders(opts.coherence),
        { provide: GC_OPTIONS, useValue: opts.gc ?? GC_DEFAULTS },
        { provide: REPOSITORY_RULES, useFactory: () => loadRepositoryRules(opts.rules?.file) },
        // Pull times only where rules may read them; batched like pull events.
        {
          provide: TAG_PULLS,
          inject: [METADATA_DATA_SOURCE],
          useFactory: (ds: DataSource) =>
            opts.rules?.file ? new TagPulls(ds, opts.events?.pullFlushMs ?? 1000) : NO_TAG_PULLS,
        },
        {
          provide: RETENTION_OPTIONS,
          useValue: { intervalMs: opts.rules?.retentionIntervalMs ?? 3_600_000 },
        },
        ...(opts.rules?.file ? [RetentionWorker] : []),
        ...(opts.gc ? [GcWorker] : []),
      ],
      exports: [
        METADATA_API,
        MetadataService,
        METADATA_DATA_SOURCE,
        CACHE_COHERENCE,
        CacheHolders,
        ...(opts.gc ? [GcWorker] : []),
        ...(opts.rules?.file ? [RetentionWorker] : []),
      ],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.ds.isInitialized) await this.ds.destroy();
  }
}
