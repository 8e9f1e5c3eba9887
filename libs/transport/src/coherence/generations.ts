import type { CacheChange } from '@wharf/contracts';

/**
 * A bounded cache whose invalidation is by generation, not by deleting keys (ADR 8, ADR 24): every
 * entry remembers the generations of its repository, of its invalidation key and of the whole cache
 * as they were *before* the read that produced it began, and only counts while all three are
 * unchanged. A read racing a write therefore never installs what it read before the write committed.
 * Generations live in fixed arrays indexed by a hash (stripes), so invalidation is O(1), never walks
 * entries and holds no memory per repository; two keys sharing a stripe only cost a miss.
 *
 * An entry's map key and its invalidation key may differ: the gateway keeps one entry per Accept
 * variant of a tag, all of which one tag change drops.
 */
const STRIPES = 1 << 12;

interface Entry<V> {
  value: V;
  weight: number;
  repoGen: number;
  keyGen: number;
  epoch: number;
}

/** Generations read before a lookup, to be handed back with its result. */
export interface Ticket {
  repoStripe: number;
  keyStripe: number;
  repoGen: number;
  keyGen: number;
  epoch: number;
}

export class GenerationCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly repoGens = new Uint32Array(STRIPES);
  private readonly keyGens = new Uint32Array(STRIPES);
  /** Bumped by flush(): every entry and every ticket taken before it is void. */
  private epoch = 0;
  private total = 0;

  constructor(
    private readonly maxEntries: number,
    /** Bound on the sum of weights (bytes of manifest bodies, roughly). */
    private readonly maxWeight: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The live value for `key`, or undefined; `genKey` is what invalidates it (default: `key`). */
  get(repository: string, key: string, genKey: string = key): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (
      e.epoch !== this.epoch ||
      e.repoGen !== this.repoGens[stripe(repository)] ||
      e.keyGen !== this.keyGens[stripe(genKey)]
    ) {
      this.remove(key, e);
      return undefined;
    }
    return e.value;
  }

  /** Call before the read whose result may be cached. */
  ticket(repository: string, genKey: string): Ticket {
    const repoStripe = stripe(repository);
    const keyStripe = stripe(genKey);
    return {
      repoStripe,
      keyStripe,
      repoGen: this.repoGens[repoStripe],
      keyGen: this.keyGens[keyStripe],
      epoch: this.epoch,
    };
  }

  /** Caches what a read found, unless a write invalidated its key since the ticket was taken. */
  set(key: string, ticket: Ticket, value: V, weight: number): void {
    if (!this.current(ticket) || weight > this.maxWeight) return;
    const old = this.entries.get(key);
    if (old) this.remove(key, old);
    const { repoGen, keyGen, epoch } = ticket;
    this.entries.set(key, { value, weight, repoGen, keyGen, epoch });
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

  /** True while nothing the ticket covers has been invalidated. */
  current(ticket: Ticket): boolean {
    return (
      ticket.epoch === this.epoch &&
      ticket.repoGen === this.repoGens[ticket.repoStripe] &&
      ticket.keyGen === this.keyGens[ticket.keyStripe]
    );
  }

  /** A write changed this one key (a tag moved or was deleted, a blob was unlinked). */
  invalidateKey(genKey: string): void {
    this.keyGens[stripe(genKey)]++;
  }

  /** A write may have changed anything in the repository (a manifest and its tags were deleted). */
  invalidateRepository(repository: string): void {
    this.repoGens[stripe(repository)]++;
  }

  /** Anything may have changed: nothing cached so far counts any more. */
  flush(): void {
    this.epoch++;
    this.entries.clear();
    this.total = 0;
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

// NUL cannot occur in a repository name, a tag or a digest, so the keys cannot collide.
export const tagKey = (repository: string, tag: string): string => `t\0${repository}\0${tag}`;
export const manifestKey = (repository: string, digest: string): string => `m\0${repository}\0${digest}`;
export const blobKey = (repository: string, digest: string): string => `b\0${repository}\0${digest}`;

/** Drops what writers changed from a cache keyed as above. */
export function invalidate(cache: GenerationCache<unknown>, changes: readonly CacheChange[]): void {
  for (const c of changes) {
    if (c.tag !== undefined) cache.invalidateKey(tagKey(c.repository, c.tag));
    else if (c.digest !== undefined) cache.invalidateKey(blobKey(c.repository, c.digest));
    else cache.invalidateRepository(c.repository);
  }
}
