import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type Provider,
} from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { CacheLease } from '@wharf/transport';
import { METADATA_READ_CACHE, MetadataReadCache, type MetadataCache } from '../read-cache';
import { releaseCacheHolder, renewCacheHolder } from '../store';
import { METADATA_DATA_SOURCE } from '../tokens';
import { CACHE_COHERENCE, HolderCoherence, type NotifyHolders } from './cache-coherence';
import { CacheHolders } from './cache-holders.service';

export interface MetadataCoherenceOptions {
  /** How invalidations reach the gateways (the distributed shape's NATS). */
  notify?: NotifyHolders;
}

const LOCAL_LEASE = Symbol('LOCAL_LEASE');

/**
 * The all-in-one's read cache as a cache holder: its lease renewed straight in Postgres, so that
 * writers in other processes (the admin CLI) can revoke it. Absent where the process keeps no cache.
 */
function localLease(ds: DataSource, cache: MetadataCache): CacheLease | undefined {
  if (!(cache instanceof MetadataReadCache)) return undefined;
  const lease = new CacheLease(
    async (holder, leaseMs) => ({ lost: await renewCacheHolder(ds, holder, leaseMs) }),
    () => cache.flush(),
  );
  cache.holdWith(lease);
  return lease;
}

/** Starts and stops what keeps caches coherent with this process's writes. */
@Injectable()
class CoherenceLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(METADATA_DATA_SOURCE) private readonly ds: DataSource,
    @Inject(CACHE_COHERENCE) private readonly coherence: HolderCoherence,
    @Inject(LOCAL_LEASE) private readonly lease: CacheLease | undefined,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.coherence.start();
    await this.lease?.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.coherence.stop();
    if (this.lease) {
      this.lease.stop();
      await releaseCacheHolder(this.ds, this.lease.holder).catch(() => undefined);
    }
  }
}

export function coherenceProviders(opts: MetadataCoherenceOptions = {}): Provider[] {
  return [
    {
      provide: LOCAL_LEASE,
      inject: [METADATA_DATA_SOURCE, METADATA_READ_CACHE],
      useFactory: (ds: DataSource, cache: MetadataCache) => localLease(ds, cache),
    },
    {
      provide: CACHE_COHERENCE,
      inject: [METADATA_DATA_SOURCE, METADATA_READ_CACHE, LOCAL_LEASE],
      useFactory: (ds: DataSource, cache: MetadataCache, lease: CacheLease | undefined) =>
        new HolderCoherence(ds, {
          local: (changes) => cache.apply(changes),
          self: lease?.holder,
          notify: opts.notify,
        }),
    },
    CoherenceLifecycle,
    CacheHolders,
  ];
}
