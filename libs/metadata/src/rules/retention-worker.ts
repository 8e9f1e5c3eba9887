import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { CACHE_COHERENCE, type CacheCoherence } from '../coherence/cache-coherence';
import { EVENT_OUTBOX, type EventRecorder } from '../events/outbox';
import { GC_OPTIONS, type GcOptions } from '../gc/gc-options';
import { METADATA_DATA_SOURCE } from '../tokens';
import { REPOSITORY_RULES, type RepositoryRules } from './repository-rules';
import { RetentionPass, type RetentionReport } from './retention';

export const RETENTION_OPTIONS = Symbol('RETENTION_OPTIONS');

export interface RetentionOptions {
  /** WHARF_RETENTION_INTERVAL. */
  intervalMs: number;
}

/**
 * One pass at a time across replicas: a session-level advisory lock, tried and never waited for,
 * held on a connection of its own for the length of the pass. (Two passes at once would still be
 * safe, each delete being conditional, only wasteful.)
 */
const RETENTION_LOCK = 0x57_48_52_46_52_45_54; // "WHRFRET"

/** The retention pass every WHARF_RETENTION_INTERVAL in the metadata service. */
@Injectable()
export class RetentionWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('Retention');
  private readonly pass: RetentionPass;
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private stopped = false;

  constructor(
    @Inject(METADATA_DATA_SOURCE) private readonly ds: DataSource,
    @Inject(REPOSITORY_RULES) private readonly rules: RepositoryRules,
    @Inject(RETENTION_OPTIONS) private readonly opts: RetentionOptions,
    @Inject(CACHE_COHERENCE) coherence: CacheCoherence,
    @Inject(EVENT_OUTBOX) events: EventRecorder,
    @Inject(GC_OPTIONS) gc: GcOptions,
  ) {
    this.pass = new RetentionPass(ds, coherence, events, gc.reviewDelayMs);
  }

  onApplicationBootstrap(): void {
    this.schedule();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One pass now, unless the rules have none or another replica is running one (undefined then). */
  async runOnce(): Promise<RetentionReport | undefined> {
    const rules = await this.rules.current();
    if (!rules.retention.length) return undefined;
    const qr = this.ds.createQueryRunner();
    await qr.connect();
    try {
      const [{ locked }] = (await qr.query('SELECT pg_try_advisory_lock($1) AS locked', [
        RETENTION_LOCK,
      ])) as { locked: boolean }[];
      if (!locked) return undefined;
      try {
        const report = await this.pass.run(rules);
        if (report.deleted.length)
          this.log.log(
            `deleted ${report.deleted.length} of ${report.tags} tags in ${report.repositories} repositories`,
          );
        return report;
      } finally {
        await qr.query('SELECT pg_advisory_unlock($1)', [RETENTION_LOCK]);
      }
    } finally {
      await qr.release();
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.runOnce()
        .catch((e: unknown) => this.log.error(`retention pass failed: ${(e as Error).message}`))
        .finally(() => this.schedule());
    }, this.opts.intervalMs).unref();
  }
}
