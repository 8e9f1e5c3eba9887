/**
 * An in-process cache for the metadata reads every pull makes: tag → manifest, digest → manifest
 * and the repository's blob links. It is correct only where every write to the metadata schema goes
 * through this process (the all-in-one): a write invalidates before it answers, so once the PUT that
 * moved a tag has answered 201, no read serves the old digest (DESIGN.md, read-your-writes).
 * Replicas of the distributed shape must not share a database with it enabled; see
 * docs/adr/0008-metadata-read-cache.md.
 *
 * Invalidation is by generation, not by deleting keys: every entry remembers the generations of its
 * repository and of its own key as they were *before* its database read began, and only counts while
 * both are unchanged. A read racing a write therefore never installs what it read before the write
 * committed. Generations live in fixed arrays indexed by a hash (stripes), so invalidation is O(1),
 * never walks entries and holds no memory per repository; two keys sharing a stripe only cost a miss.
 */
const STRIPES = 1 << 12;

interface Entry<V> {
  value: V;
  weight: number;
  repoGen: number;
  keyGen: number;
}

/** Generations read before a database lookup, to be handed back with its result. */
export interface Ticket {
  repoStripe: number;
  keyStripe: number;
  repoGen: number;
  keyGen: number;
}

export class ReadCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly repoGens = new Uint32Array(STRIPES);
  private readonly keyGens = new Uint32Array(STRIPES);
  private total = 0;

  constructor(
    private readonly maxEntries: number,
    /** Bound on the sum of weights (bytes of manifest bodies, roughly). */
    private readonly maxWeight: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The live value for `key` of `repository`, or undefined. */
  get(repository: string, key: string): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.repoGen !== this.repoGens[stripe(repository)] || e.keyGen !== this.keyGens[stripe(key)]) {
      this.remove(key, e);
      return undefined;
    }
    return e.value;
  }

  /** Call before the database read whose result may be cached. */
  ticket(repository: string, key: string): Ticket {
    const repoStripe = stripe(repository);
    const keyStripe = stripe(key);
    return { repoStripe, keyStripe, repoGen: this.repoGens[repoStripe], keyGen: this.keyGens[keyStripe] };
  }

  /** Caches what a read found, unless a write invalidated its key since the ticket was taken. */
  set(key: string, ticket: Ticket, value: V, weight: number): void {
    if (
      ticket.repoGen !== this.repoGens[ticket.repoStripe] ||
      ticket.keyGen !== this.keyGens[ticket.keyStripe]
    ) {
      return;
    }
    if (weight > this.maxWeight) return;
    const old = this.entries.get(key);
    if (old) this.remove(key, old);
    this.entries.set(key, { value, weight, repoGen: ticket.repoGen, keyGen: ticket.keyGen });
    this.total += weight;
    // Oldest first (insertion order). Hits do not reorder: a pull's hot entries are refilled soon
    // enough, and a hit stays a pair of Map reads.
    if (this.entries.size > this.maxEntries || this.total > this.maxWeight) {
      for (const [k, e] of this.entries) {
        if (this.entries.size <= this.maxEntries && this.total <= this.maxWeight) break;
        this.remove(k, e);
      }
    }
  }

  /** A write changed this one key (a tag moved or was deleted, a blob was unlinked). */
  invalidateKey(key: string): void {
    this.keyGens[stripe(key)]++;
  }

  /** A write may have changed anything in the repository (a manifest and its tags were deleted). */
  invalidateRepository(repository: string): void {
    this.repoGens[stripe(repository)]++;
  }

  private remove(key: string, e: Entry<V>): void {
    this.entries.delete(key);
    this.total -= e.weight;
  }
}

/** FNV-1a over UTF-16 code units, folded to a stripe index. */
function stripe(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) & (STRIPES - 1);
}

export const METADATA_READ_CACHE = Symbol('METADATA_READ_CACHE');

export interface ReadCacheOptions {
  maxEntries: number;
  /** Bound on the manifest bytes held. */
  maxBytes: number;
}

/** Per-entry bookkeeping counted on top of a manifest body. */
const ENTRY_OVERHEAD = 256;

/**
 * The metadata service's view of the cache: what it reads through it, and the writes that
 * invalidate. Every write to tags, manifests or blob links must call the matching method once the
 * change has committed (or failed), before it answers.
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
  /** A tag was put or deleted. */
  tagChanged(repository: string, tag: string): void;
  /** A manifest was deleted (and with it its tags), or anything else repository-wide changed. */
  repositoryChanged(repository: string): void;
  /** A blob link was removed. */
  blobUnlinked(repository: string, digest: string): void;
}

/** No cache (the distributed shape): every read loads, and there is nothing to invalidate. */
export const NO_READ_CACHE: MetadataCache = {
  read: (_repository, _key, _usable, load) => load(),
  tagChanged: () => undefined,
  repositoryChanged: () => undefined,
  blobUnlinked: () => undefined,
};

export class MetadataReadCache implements MetadataCache {
  private readonly cache: ReadCache<object>;

  constructor(opts: ReadCacheOptions) {
    this.cache = new ReadCache(opts.maxEntries, opts.maxBytes);
  }

  async read<V extends object>(
    repository: string,
    key: string,
    usable: (v: V) => boolean,
    load: () => Promise<V | undefined>,
    weight: (v: V) => number = () => 0,
  ): Promise<V | undefined> {
    const hit = this.cache.get(repository, key) as V | undefined;
    if (hit && usable(hit)) return hit;
    const ticket = this.cache.ticket(repository, key);
    const value = await load();
    if (value) this.cache.set(key, ticket, value, weight(value) + ENTRY_OVERHEAD);
    return value;
  }

  tagChanged(repository: string, tag: string): void {
    this.cache.invalidateKey(tagKey(repository, tag));
  }

  repositoryChanged(repository: string): void {
    this.cache.invalidateRepository(repository);
  }

  blobUnlinked(repository: string, digest: string): void {
    this.cache.invalidateKey(blobKey(repository, digest));
  }
}

// NUL cannot occur in a repository name, a tag or a digest, so the keys cannot collide.
export const tagKey = (repository: string, tag: string): string => `t\0${repository}\0${tag}`;
export const manifestKey = (repository: string, digest: string): string => `m\0${repository}\0${digest}`;
export const blobKey = (repository: string, digest: string): string => `b\0${repository}\0${digest}`;
