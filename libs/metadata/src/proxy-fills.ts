import { Inject, Injectable } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { FillClaimRequest, FillClaimResult, FillReleaseRequest } from '@wharf/contracts';
import { claimProxyFill, releaseProxyFill } from './store';
import { METADATA_DATA_SOURCE } from './tokens';

/**
 * Bound on one lease. A fill renews while it runs, so nothing needs longer; a larger value would
 * only risk Postgres's timestamp range and leave a dead gateway's key blocked for that long.
 */
export const FILL_TTL_MAX_MS = 24 * 3600_000;

/** MetadataApi's fill leases for the pull-through cache: one gateway fetches, the others wait. */
@Injectable()
export class ProxyFills {
  constructor(@Inject(METADATA_DATA_SOURCE) private readonly ds: DataSource) {}

  async claimFill({ key, holder, ttlMs }: FillClaimRequest): Promise<FillClaimResult> {
    return { claimed: await claimProxyFill(this.ds, key, holder, Math.min(ttlMs, FILL_TTL_MAX_MS)) };
  }

  releaseFill({ key, holder }: FillReleaseRequest): Promise<void> {
    return releaseProxyFill(this.ds, key, holder);
  }
}
