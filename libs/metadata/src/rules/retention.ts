import type { DataSource } from 'typeorm';
import { tagChanged, type CacheChange, type RegistryEvent } from '@wharf/contracts';
import type { CacheCoherence } from '../coherence/cache-coherence';
import type { EventRecorder } from '../events/outbox';
import { deleteTagIfUnchanged, retentionTags, taggedRepositories, type RetentionTag } from '../store';
import type { Rules } from './rules-file';

/** A tag retention deletes (or, dry, would delete). */
export interface RetainedOut {
  repository: string;
  tag: string;
  digest: string;
  pushedAt: string;
  /** Null when never pulled: then it counts as pulled when pushed. */
  pulledAt: string | null;
}

export interface RetentionReport {
  dryRun: boolean;
  /** The database's clock when the pass chose, which every keep window counts back from. */
  at: string;
  /** Repositories some retention rule matched, and their tags. */
  repositories: number;
  tags: number;
  /** What the pass deletes (a dry run: would delete), by repository then tag. */
  deleted: RetainedOut[];
  /** Chosen but set again (or deleted) before the pass got to them: left alone. */
  skipped: number;
}

/**
 * Which of a repository's tags no keep-rule of any matching retention rule holds, and no immutable
 * rule protects. keepLatest counts by push time (when the tag was last set), newest first; tags
 * pushed in the same microsecond count in tag-name (byte) order, so `a` is newer than `b`. A tag
 * never pulled counts as pulled when pushed, and a tag pushed again counts as pulled then too.
 */
export function expiredTags(
  repository: string,
  tags: readonly RetentionTag[],
  rules: Rules,
  now: Date,
): RetentionTag[] {
  const matching = rules.retentionFor(repository);
  if (!matching.length) return [];
  const newestFirst = [...tags].sort(byPushTime);
  const within = (at: Date, ms: number | undefined): boolean =>
    ms !== undefined && now.getTime() - at.getTime() <= ms;
  return newestFirst.filter((t, i) => {
    if (rules.immutableRule(repository, t.tag)) return false;
    const lastUse = t.pulledAt && t.pulledAt > t.pushedAt ? t.pulledAt : t.pushedAt;
    const kept = matching.some(
      (r) =>
        (r.keepLatest !== undefined && i < r.keepLatest) ||
        r.keepTags.some((re) => re.test(t.tag)) ||
        within(t.pushedAt, r.keepNewerThanMs) ||
        within(lastUse, r.keepPulledWithinMs),
    );
    return !kept;
  });
}

function byPushTime(a: RetentionTag, b: RetentionTag): number {
  const pa = BigInt(a.pushedUs);
  const pb = BigInt(b.pushedUs);
  if (pa !== pb) return pa > pb ? -1 : 1;
  return a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0;
}

interface Planned {
  repository: string;
  repositoryId: string;
  tag: RetentionTag;
}

/** Tags deleted per transaction: each commits with its cache record and events, then settles. */
const DELETE_BATCH = 500;

/**
 * The retention pass: chooses what goes (the same code for a dry run), then deletes it the way a
 * DELETE of the tag does — the GC review queued, the change recorded and settled so that no cache
 * in any replica serves the tag afterwards (ADR 24), a delete event per tag. The manifests and
 * blobs are left to the online GC.
 */
export class RetentionPass {
  constructor(
    private readonly ds: DataSource,
    private readonly coherence: CacheCoherence,
    private readonly events: EventRecorder,
    private readonly reviewDelayMs: number,
  ) {}

  async run(rules: Rules, opts: { dryRun?: boolean } = {}): Promise<RetentionReport> {
    const dryRun = !!opts.dryRun;
    const [{ now }] = await this.ds.query<{ now: Date }[]>('SELECT now() AS now');
    let repositories = 0;
    let tags = 0;
    const chosen: Planned[] = [];
    for (const repo of await taggedRepositories(this.ds)) {
      if (!rules.retentionFor(repo.name).length) continue;
      const all = await retentionTags(this.ds, repo.id);
      repositories++;
      tags += all.length;
      for (const tag of expiredTags(repo.name, all, rules, now))
        chosen.push({ repository: repo.name, repositoryId: repo.id, tag });
    }
    chosen.sort((a, b) => cmp(a.repository, b.repository) || cmp(a.tag.tag, b.tag.tag));
    const report = { dryRun, at: now.toISOString(), repositories, tags, skipped: 0 };
    if (dryRun) return { ...report, deleted: chosen.map(describe) };
    const deleted: RetainedOut[] = [];
    for (let i = 0; i < chosen.length; i += DELETE_BATCH) {
      const batch = chosen.slice(i, i + DELETE_BATCH);
      const gone = await this.deleteBatch(batch);
      deleted.push(...gone.map(describe));
      report.skipped += batch.length - gone.length;
    }
    return { ...report, deleted };
  }

  private async deleteBatch(batch: Planned[]): Promise<Planned[]> {
    let recorded: string | undefined;
    let changes: CacheChange[] = [];
    const gone = await this.ds.transaction(async (em) => {
      const done: Planned[] = [];
      for (const p of batch)
        if (await deleteTagIfUnchanged(em, p.repositoryId, p.tag, this.reviewDelayMs)) done.push(p);
      if (!done.length) return done;
      changes = done.map((p) => tagChanged(p.repository, p.tag.tag));
      recorded = await this.coherence.record(em, changes);
      if (this.events.enabled) {
        const events: RegistryEvent[] = done.map((p) =>
          this.events.event('delete', { repository: p.repository, tag: p.tag.tag }, undefined),
        );
        await this.events.record(em, events);
      }
      return done;
    });
    // Before the pass reports a tag gone, no cache anywhere serves it.
    await this.coherence.settle(changes, recorded);
    return gone;
  }
}

function describe(p: Planned): RetainedOut {
  return {
    repository: p.repository,
    tag: p.tag.tag,
    digest: p.tag.digest,
    pushedAt: p.tag.pushedAt.toISOString(),
    pulledAt: p.tag.pulledAt?.toISOString() ?? null,
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
