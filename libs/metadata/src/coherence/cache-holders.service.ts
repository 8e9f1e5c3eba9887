import { Inject, Injectable } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { CacheOps, OpHandlers, PullRecord } from '@wharf/contracts';
import { blobTarget, manifestTarget } from '../events/envelope';
import { EVENT_OUTBOX, type EventRecorder } from '../events/outbox';
import { releaseCacheHolder, renewCacheHolder } from '../store';
import { METADATA_DATA_SOURCE } from '../tokens';
import { TAG_PULLS, type TagPulls } from '../rules/tag-pulls';

/** Leases shorter than this would have holders renewing all the time; longer ones slow writers. */
const MIN_LEASE_MS = 1000;
const MAX_LEASE_MS = 60_000;

/** The metadata service's side of the cache holders' operations (ADR 24). */
@Injectable()
export class CacheHolders implements OpHandlers<CacheOps> {
  constructor(
    @Inject(METADATA_DATA_SOURCE) private readonly ds: DataSource,
    @Inject(EVENT_OUTBOX) private readonly events: EventRecorder,
    @Inject(TAG_PULLS) private readonly tagPulls: TagPulls,
  ) {}

  async renewLease(req: {
    holder: string;
    leaseMs: number;
  }): Promise<{ lost: boolean; pullEvents?: boolean }> {
    const leaseMs = Math.min(MAX_LEASE_MS, Math.max(MIN_LEASE_MS, req.leaseMs));
    const lost = await renewCacheHolder(this.ds, req.holder, leaseMs);
    return { lost, pullEvents: this.events.enabled || this.tagPulls.enabled };
  }

  async releaseLease(req: { holder: string }): Promise<void> {
    await releaseCacheHolder(this.ds, req.holder);
  }

  /** Pulls answered from a gateway's cache: pull events and tag pull times, as if this service had answered them. */
  async recordPulls(req: { pulls: PullRecord[] }): Promise<void> {
    // Pull times by tag (retention), kept as if this service had answered them too.
    for (const p of req.pulls) if (p.tag !== undefined) this.tagPulls.pulled(p.repository, p.tag);
    if (!this.events.enabled) return;
    for (const p of req.pulls) {
      const target =
        p.mediaType !== undefined
          ? manifestTarget(
              p.repository,
              { digest: p.digest, size: p.size, mediaType: p.mediaType },
              p.tag,
              p.event,
            )
          : blobTarget(p.repository, p.digest, p.size, p.event);
      this.events.pull(target, p.event);
    }
  }
}
