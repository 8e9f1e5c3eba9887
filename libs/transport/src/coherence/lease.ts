import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';

/** What the lease's registry answers to a renewal (ADR 24). */
export interface LeaseRenewal {
  /**
   * The holder may have missed an invalidation since its last renewal: a writer revoked it, or its
   * lease had run out (writers then no longer wait for it). Everything cached must go.
   */
  lost: boolean;
}

export type RenewLease = (holder: string, leaseMs: number) => Promise<LeaseRenewal>;

export interface CacheLeaseOptions {
  /** How long a renewal holds, as the registry records it (writers wait this long at most). */
  leaseMs: number;
  /** How often the holder renews: a few renewals fit in one lease, so one slow one costs nothing. */
  renewEveryMs: number;
}

export const CACHE_LEASE_DEFAULTS: CacheLeaseOptions = { leaseMs: 3000, renewEveryMs: 1000 };

/**
 * A cache holder's right to answer from its cache (ADR 24). The registry (the `cache_holders`
 * table, reached through the metadata service or directly) records each renewal as valid until its
 * own clock's now + leaseMs; the holder counts from when it *sent* the renewal, on its own monotonic
 * clock and with a margin, so its lease always ends before the registry's record of it does. A
 * writer that cannot reach a holder revokes it and waits out the record: by then the holder has
 * stopped answering from its cache, and its next renewal tells it to flush.
 */
export class CacheLease {
  readonly holder = `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
  private validUntil = 0;
  /** Set when the lease ran out or was dropped: flush before answering from the cache again. */
  private lapsed = true;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly renew: RenewLease,
    /** Drops everything cached; called before the lease is usable again after any doubt. */
    private readonly flush: () => void,
    private readonly opts: CacheLeaseOptions = CACHE_LEASE_DEFAULTS,
  ) {}

  /** True while the cache may answer. */
  usable(): boolean {
    return performance.now() < this.validUntil;
  }

  /** Renews now and then every renewEveryMs until stop(). */
  start(): Promise<void> {
    this.stopped = false;
    const loop = async (): Promise<void> => {
      await this.renewOnce();
      if (!this.stopped) this.timer = setTimeout(() => void loop(), this.opts.renewEveryMs).unref();
    };
    return loop();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.drop();
  }

  /** The connection that carries invalidations broke: some may be lost. Stop answering at once. */
  drop(): void {
    this.validUntil = 0;
    this.lapsed = true;
  }

  /** One renewal; a failed one changes nothing (the lease then runs out by itself). */
  async renewOnce(): Promise<void> {
    const sentAt = performance.now();
    if (sentAt >= this.validUntil) this.lapsed = true;
    let renewal: LeaseRenewal;
    let timer: NodeJS.Timeout | undefined;
    // A renewal slower than a lease is worthless: give up on it and try again on schedule.
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('renewal timed out')), this.opts.leaseMs);
    });
    try {
      renewal = await Promise.race([this.renew(this.holder, this.opts.leaseMs), late]);
    } catch {
      return;
    } finally {
      clearTimeout(timer);
    }
    if (this.stopped) return;
    if (renewal.lost || this.lapsed || performance.now() >= this.validUntil) {
      this.validUntil = 0;
      this.flush();
      this.lapsed = false;
    }
    // 10 % margin for the two clocks' rates; the registry's record starts later than sentAt anyway.
    this.validUntil = Math.max(this.validUntil, sentAt + this.opts.leaseMs * 0.9);
  }
}
