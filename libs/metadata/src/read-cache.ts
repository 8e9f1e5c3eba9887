/**
 * The all-in-one's in-process cache for the metadata reads every pull makes: tag → manifest,
 * digest → manifest and the repository's blob links (ADR 8). Its own writes invalidate it before
 * they answer; writes made by other processes on the same database (the admin CLI's `gc run`)
 * reach it through its lease (ADR 24): it is a cache holder like a gateway, and a writer that cannot
 * notify it revokes it and waits out its lease, after which it flushes before answering again.
 */
import type { CacheChange } from '@wharf/contracts';
import { GenerationCache, invalidate, type CacheLease } from '@wharf/transport';

export { blobKey, manifestKey, tagKey } from '@wharf/transport';

export const METADATA_READ_CACHE = Symbol('METADATA_READ_CACHE');

export interface ReadCacheOptions {
  maxEntries: number;
  /** Bound on the manifest bytes held. */
  maxBytes: number;
}

/** Per-entry bookkeeping counted on top of a manifest body. */
const ENTRY_OVERHEAD = 256;

/**
 * The metadata service's view of the cache: what it reads through it, and the changes that
 * invalidate it. Every write to tags, manifests or blob links reaches `apply` (through
 * CacheCoherence) once the change has committed (or failed), before it answers.
 */
export interface MetadataCache {
  /**
   * The cached value when there is one that `usable` accepts; otherwise `load`s it and caches the
   * result (not a miss: absence is never cached, so a push is visible at once).
   */
  read<V extends object>(
    repository: string,
    key: string,
    usable: (v: V) => boolean,
    load: () => Promise<V | undefined>,
    weight?: (v: V) => number,
  ): Promise<V | undefined>;
  apply(changes: CacheChange[]): void;
}

/** No cache (the distributed metadata service: the gateways cache): every read loads. */
export const NO_READ_CACHE: MetadataCache = {
  read: (_repository, _key, _usable, load) => load(),
  apply: () => undefined,
};

export class MetadataReadCache implements MetadataCache {
  private readonly cache: GenerationCache<object>;
  private lease: Pick<CacheLease, 'usable'> = { usable: () => true };

  constructor(opts: ReadCacheOptions) {
    this.cache = new GenerationCache(opts.maxEntries, opts.maxBytes);
  }

  /** From now on the cache answers only while `lease` is usable. */
  holdWith(lease: Pick<CacheLease, 'usable'>): void {
    this.lease = lease;
  }

  async read<V extends object>(
    repository: string,
    key: string,
    usable: (v: V) => boolean,
    load: () => Promise<V | undefined>,
    weight: (v: V) => number = () => 0,
  ): Promise<V | undefined> {
    if (!this.lease.usable()) return load();
    const hit = this.cache.get(repository, key) as V | undefined;
    if (hit && usable(hit)) return hit;
    const ticket = this.cache.ticket(repository, key);
    const value = await load();
    if (value) this.cache.set(key, ticket, value, weight(value) + ENTRY_OVERHEAD);
    return value;
  }

  apply(changes: CacheChange[]): void {
    invalidate(this.cache, changes);
  }

  flush(): void {
    this.cache.flush();
  }
}
