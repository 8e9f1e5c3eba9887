import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { CacheChange } from '@wharf/contracts';
import type { Queryable } from '@wharf/database';
import {
  forgetCacheChanges,
  liveCacheHolders,
  recordCacheChanges,
  revokeCacheHolders,
  strandedCacheChanges,
} from '../store';

export const CACHE_COHERENCE = Symbol('CACHE_COHERENCE');

/**
 * How a write keeps every cache coherent (ADR 24): it records its changes in its own transaction,
 * and once it has settled, before it answers, every cache holder has dropped them.
 */
export interface CacheCoherence {
  /** In the write's transaction: what it changes, kept until delivered (a record id). */
  record(db: Queryable, changes: CacheChange[]): Promise<string>;
  /**
   * After the write settled (committed or not): every live holder has dropped `changes`, or has
   * been revoked and its lease has run out. Then the record (if any) goes.
   */
  settle(changes: CacheChange[], recorded?: string): Promise<void>;
}

/** Asks every holder to drop `changes`; answers which of `waitFor` acknowledged. */
export type NotifyHolders = (changes: CacheChange[], waitFor: ReadonlySet<string>) => Promise<Set<string>>;

export interface CoherenceOptions {
  /** The process's own cache, invalidated in process first (the all-in-one). */
  local?: (changes: CacheChange[]) => void;
  /** The process's own holder id: its local cache needs no acknowledgement. */
  self?: string;
  /**
   * How changes reach other holders (NATS). Without it a writer revokes every other live holder and
   * waits out its lease: correct, only slower (the admin CLI, the all-in-one).
   */
  notify?: NotifyHolders;
  /** A record this old was left by a writer that died: another process delivers it. */
  strandedAfterMs?: number;
  /** How often to look for such records; 0 never (the CLI). */
  sweepEveryMs?: number;
}

const WAIT_MARGIN_MS = 50;
const STRANDED_AFTER_MS = 30_000;
const SWEEP_EVERY_MS = 5_000;

export class HolderCoherence implements CacheCoherence {
  private readonly log = new Logger('cache-coherence');
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(
    private readonly ds: DataSource,
    private readonly opts: CoherenceOptions = {},
  ) {}

  record(db: Queryable, changes: CacheChange[]): Promise<string> {
    return recordCacheChanges(db, changes);
  }

  async settle(changes: CacheChange[], recorded?: string): Promise<void> {
    if (!changes.length) return;
    await this.deliver(changes);
    // Not awaited: the write need not wait for this commit's flush. A record that outlives a crash
    // is delivered once more by the sweep, which changes nothing.
    if (recorded !== undefined)
      forgetCacheChanges(this.ds, recorded).catch((e: unknown) =>
        this.log.warn(`cache change ${recorded} stays for the sweep: ${(e as Error).message}`),
      );
  }

  /** Starts delivering records whose writer died. */
  start(): void {
    const every = this.opts.sweepEveryMs ?? SWEEP_EVERY_MS;
    if (every <= 0 || this.timer) return;
    const tick = (): void => {
      this.sweeping = this.sweep()
        .then(() => undefined)
        .catch((e: unknown) => this.log.warn(`stranded cache changes: ${(e as Error).message}`))
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, every).unref();
        });
    };
    this.timer = setTimeout(tick, every).unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.sweeping;
  }

  /** Delivers (and forgets) what writers that died left behind. */
  async sweep(): Promise<number> {
    const after = this.opts.strandedAfterMs ?? STRANDED_AFTER_MS;
    return this.ds.transaction(async (em) => {
      const stranded = await strandedCacheChanges(em, after, 100);
      for (const { id, changes } of stranded) {
        await this.deliver(changes);
        await forgetCacheChanges(em, id);
      }
      return stranded.length;
    });
  }

  private async deliver(changes: CacheChange[]): Promise<void> {
    this.opts.local?.(changes);
    // Read after the commit: a holder that registers later starts with an empty cache.
    const holders = (await liveCacheHolders(this.ds)).filter((h) => h !== this.opts.self);
    if (!holders.length) return;
    const acked = this.opts.notify
      ? await this.opts.notify(changes, new Set(holders)).catch(() => new Set<string>())
      : new Set<string>();
    const missing = holders.filter((h) => !acked.has(h));
    if (!missing.length) return;
    const waitMs = await revokeCacheHolders(this.ds, missing);
    // Expected without a way to notify (the CLI); with one, a holder is cut off or overloaded.
    const note = `${missing.length} cache holder(s) not notified; waiting ${waitMs} ms for their leases`;
    if (this.opts.notify) this.log.warn(note);
    else this.log.debug(note);
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs + WAIT_MARGIN_MS));
  }
}
