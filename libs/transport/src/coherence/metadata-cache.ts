import type { NatsConnection, Subscription } from 'nats';
import type { CacheOps, MetadataApi, OpHandlers } from '@wharf/contracts';
import { CachingMetadataApi, type GatewayCacheOptions } from './caching-metadata';
import { listenForInvalidations } from './invalidations';
import { CACHE_LEASE_DEFAULTS, CacheLease, type CacheLeaseOptions } from './lease';
import { PullForwarder } from './pull-forwarder';

export interface MetadataCacheOptions extends GatewayCacheOptions {
  /** How long pulls answered from the cache gather before they are reported. */
  pullFlushMs: number;
  lease?: CacheLeaseOptions;
}

/**
 * A gateway's coherent cache of metadata reads (ADR 24), assembled: the caching MetadataApi, the
 * lease that says whether it may answer, the subscription that applies and acknowledges writers'
 * invalidations, and the batches of pulls it reports.
 */
export class CoherentMetadataCache {
  readonly api: CachingMetadataApi;
  readonly lease: CacheLease;
  private readonly pulls: PullForwarder;
  private sub: Subscription | undefined;

  constructor(
    private readonly nats: NatsConnection,
    private readonly prefix: string,
    private readonly remote: MetadataApi & OpHandlers<CacheOps>,
    opts: MetadataCacheOptions,
  ) {
    this.pulls = new PullForwarder((pulls) => remote.recordPulls({ pulls }), opts.pullFlushMs);
    this.lease = new CacheLease(
      async (holder, leaseMs) => {
        const answer = await remote.renewLease({ holder, leaseMs });
        this.pulls.enabled = answer.pullEvents ?? true;
        return answer;
      },
      () => this.api.flush(),
      opts.lease ?? CACHE_LEASE_DEFAULTS,
    );
    this.api = new CachingMetadataApi(remote, this.lease, this.pulls, opts);
  }

  /**
   * Subscribes first and makes sure NATS has the subscription before the first renewal: from the
   * moment a writer can see this holder's lease, every invalidation reaches it.
   */
  async start(): Promise<void> {
    this.sub = listenForInvalidations(this.nats, this.prefix, this.lease, (changes) =>
      this.api.apply(changes),
    );
    await this.nats.flush();
    await this.lease.start();
  }

  async stop(): Promise<void> {
    this.lease.stop();
    // Writers need not wait for a holder that no longer answers from its cache.
    await this.remote.releaseLease({ holder: this.lease.holder }).catch(() => undefined);
    this.sub?.unsubscribe();
    await this.pulls.flush();
  }
}
