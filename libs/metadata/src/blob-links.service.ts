import { Inject, Injectable, Optional } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import {
  blobUnlinked,
  type BlobLink,
  type BlobLinkRequest,
  type BlobMountRequest,
  type BlobStatRequest,
  type BlobUnlinkRequest,
  type RegistryEvent,
} from '@wharf/contracts';
import type { Queryable } from '@wharf/database';
import { RegistryError } from '@wharf/oci';
import { CACHE_COHERENCE, type CacheCoherence } from './coherence/cache-coherence';
import { blobTarget } from './events/envelope';
import { EVENT_OUTBOX, type EventRecorder } from './events/outbox';
import { GC_OPTIONS, type GcOptions } from './gc/gc-options';
import { METADATA_READ_CACHE, blobKey, type MetadataCache } from './read-cache';
import { enforceQuota, quotaRuleFor } from './rules/quotas';
import { NO_REPOSITORY_RULES, REPOSITORY_RULES, type RepositoryRules } from './rules/repository-rules';
import type { Schema1Links } from './schema1.seam';
import {
  ensureRepositoryId,
  insertBlobLink,
  linkBlobQueued,
  linkedBlobSize,
  lockSomeLink,
  mountSource,
  protectLinkedBlob,
  reviewBlobs,
  unlinkBlobQueued,
} from './store';
import { METADATA_DATA_SOURCE } from './tokens';

/** The blob side of MetadataApi: which blobs a repository links (the access boundary), and links made and removed. */
@Injectable()
export class BlobLinks implements Schema1Links {
  constructor(
    @Inject(METADATA_DATA_SOURCE) private readonly ds: DataSource,
    @Inject(METADATA_READ_CACHE) private readonly cache: MetadataCache,
    @Inject(CACHE_COHERENCE) private readonly coherence: CacheCoherence,
    @Inject(EVENT_OUTBOX) private readonly events: EventRecorder,
    @Inject(GC_OPTIONS) private readonly gc: GcOptions,
    @Optional()
    @Inject(REPOSITORY_RULES)
    private readonly rules: RepositoryRules = NO_REPOSITORY_RULES,
  ) {}

  async statBlob({ repository, digest, event, head }: BlobStatRequest): Promise<BlobLink | null> {
    const load = () => this.queryBlobLink(repository, digest);
    const link = head
      ? await this.statForPush(repository, digest)
      : ((await this.cache.read(repository, blobKey(repository, digest), always, load)) ?? null);
    if (link && event && this.events.enabled)
      this.events.pull(blobTarget(repository, digest, link.size, event), event);
    return link;
  }

  /**
   * A HEAD answered 200 lets a client reference the blob without uploading it: protect it from the
   * collector first (store/gc-queue.ts), then read the link past the cache, so a collection that
   * finished while we waited answers 404 and the client uploads instead of losing its manifest PUT.
   */
  private async statForPush(repository: string, digest: string): Promise<BlobLink | null> {
    await protectLinkedBlob(this.ds, repository, digest, this.gc.reviewDelayMs);
    return (await this.queryBlobLink(repository, digest)) ?? null;
  }

  private async queryBlobLink(repository: string, digest: string): Promise<BlobLink | undefined> {
    const size = await linkedBlobSize(this.ds, repository, digest);
    return size === undefined ? undefined : { digest, size };
  }

  async linkBlob({ repository, digest, size, event, proxied }: BlobLinkRequest): Promise<void> {
    const pushed = this.events.enabled
      ? this.events.event('push', blobTarget(repository, digest, size, event), event)
      : undefined;
    await this.link(repository, digest, size, pushed, undefined, proxied);
  }

  /**
   * Links a blob; with an event, records it in the same transaction, and under a quota checks it
   * there too (a refusal rolls the link back; the committed bytes are left to the collector's walk
   * over unlinked blobs). A pull-through cache's fill (`proxied`) counts only under a literal rule.
   */
  private async link(
    repository: string,
    digest: string,
    size: number,
    recorded?: RegistryEvent,
    mount?: { from: string | null },
    proxied?: boolean,
  ): Promise<boolean> {
    const delayMs = this.gc.reviewDelayMs;
    const quota = quotaRuleFor(await this.rules.current(), repository, proxied);
    // Every link queues the blob for GC review (uploaded or mounted is not yet referenced), taking
    // the review row before the links: the collector's lock order (store/gc-queue.ts).
    if (recorded || mount || quota) {
      const repositoryId = await ensureRepositoryId(this.ds, repository);
      return this.ds.transaction(async (em) => {
        await reviewBlobs(em, [digest], delayMs);
        // A mount re-reads its source under lock: a collection of this digest that finished while
        // we waited for the review row leaves nothing to mount.
        if (mount && !(await lockSomeLink(em, digest, mount.from))) return false;
        await insertBlobLink(em, repositoryId, digest, size);
        if (recorded) await this.events.record(em, [recorded]);
        if (quota) await enforceQuota(em, repository, quota);
        return true;
      });
    }
    // One round trip when the repository exists, as it does for every blob of a push but the first.
    if (await linkBlobQueued(this.ds, repository, digest, size, delayMs)) return true;
    // Repositories are never deleted, so once created the same statement finds it.
    await ensureRepositoryId(this.ds, repository);
    await linkBlobQueued(this.ds, repository, digest, size, delayMs);
    return true;
  }

  async unlinkBlob({ repository, digest, event }: BlobUnlinkRequest): Promise<void> {
    const changes = [blobUnlinked(repository, digest)];
    let recorded: string | undefined;
    const remove = async (db: Queryable): Promise<boolean> => {
      // GC: without this link the bytes may be referenced by nothing.
      const deleted = await unlinkBlobQueued(db, repository, digest, this.gc.reviewDelayMs);
      if (deleted) recorded = await this.coherence.record(db, changes);
      if (deleted && this.events.enabled)
        await this.events.record(db, [this.events.event('delete', { digest, repository }, event)]);
      return deleted;
    };
    // One transaction: the record of what changed commits with the change (ADR 24).
    const deleted = await this.ds
      .transaction((em) => remove(em))
      .finally(() => this.coherence.settle(changes, recorded));
    if (!deleted) throw new RegistryError('BLOB_UNKNOWN', undefined, { digest });
  }

  async mountBlob({ repository, digest, from, event, proxied }: BlobMountRequest): Promise<BlobLink | null> {
    const source = await mountSource(this.ds, digest, from ?? null);
    if (!source) return null;
    const { size } = source;
    const mounted = this.events.enabled
      ? this.events.event('mount', blobTarget(repository, digest, size, event, source.repository), event)
      : undefined;
    return (await this.link(repository, digest, size, mounted, { from: from ?? null }, proxied))
      ? { digest, size }
      : null;
  }
}

const always = (): boolean => true;
