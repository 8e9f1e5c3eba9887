import { Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import type { Queryable } from '@wharf/database';
import { recordTagPulls, type TagPull } from '../store';

/** The record of each tag's last pull (TAG_PULLS), for retention's keepPulledWithin. */
export const TAG_PULLS = Symbol('TAG_PULLS');

/** Distinct tags waiting for their write; more are written at once rather than held. */
const PENDING_MAX = 20_000;

/**
 * Last pull time per tag, without a write per pull: pulls gather in memory (one entry per tag, the
 * latest time) and go in as one UPDATE every `flushMs`, like pull events. A crash loses at most the
 * batch not yet written, which only makes a tag look pulled a little earlier than it was.
 */
export class TagPulls implements BeforeApplicationShutdown {
  private readonly log = new Logger('TagPulls');
  private pending = new Map<string, TagPull>();
  private timer?: NodeJS.Timeout;
  private flushing = Promise.resolve();

  constructor(
    private readonly db: Queryable,
    private readonly flushMs: number,
    /** False where nothing reads pull times (no rules file): pulls cost nothing at all. */
    readonly enabled = true,
  ) {}

  pulled(repository: string, tag: string, at = new Date()): void {
    if (!this.enabled) return;
    const key = `${repository}\0${tag}`;
    const seen = this.pending.get(key);
    if (!seen || seen.at < at) this.pending.set(key, { repository, tag, at });
    if (this.pending.size >= PENDING_MAX) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.flushMs).unref();
  }

  /** Writes what is pending; resolves once it (and every earlier batch) is written or given up. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    if (!batch.length) return this.flushing;
    this.flushing = this.flushing
      .then(() => recordTagPulls(this.db, batch))
      // Best effort like pull events: a lost batch must not fail the pulls.
      .catch((e: unknown) =>
        this.log.warn(`dropped ${batch.length} tag pull times: ${(e as Error).message}`),
      );
    return this.flushing;
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.flush();
  }
}

/** Where pull times are not recorded. */
export const NO_TAG_PULLS = new TagPulls(null as unknown as Queryable, 0, false);
