import { z } from 'zod';
import { noReply, op, reply } from './ops';
import { bool, count, decoder, str, writer } from './schema';

/**
 * Cache coherence on the wire (ADR 24). A write that changes what a cached read would answer
 * publishes the change on `<prefix>.cache.invalidate` to every cache holder (gateways, the
 * all-in-one), each of which drops what the change touches and then acknowledges with its holder
 * id. The writer answers only once every holder with a live lease has acknowledged, or has been
 * revoked and its lease has run out.
 */

/**
 * What changed in a repository: one tag (`tag`), one blob link (`digest`), or anything in it
 * (neither: a manifest and its tags were deleted, the GC removed content).
 */
const cacheChange = z.object({ repository: str, tag: str.optional(), digest: str.optional() });

export const cacheInvalidation = z.object({ changes: z.array(cacheChange).max(10_000) });
export const cacheAck = z.object({ holder: str });

export type CacheChange = z.output<typeof cacheChange>;
export type CacheInvalidation = z.output<typeof cacheInvalidation>;
export type CacheAck = z.output<typeof cacheAck>;

export const readCacheInvalidation = decoder(cacheInvalidation);
export const writeCacheInvalidation = writer(cacheInvalidation);
export const readCacheAck = decoder(cacheAck);

export function invalidationSubject(prefix: string): string {
  return `${prefix}.cache.invalidate`;
}

/** Kinds of change, as a holder applies them. */
export const tagChanged = (repository: string, tag: string): CacheChange => ({ repository, tag });
export const blobUnlinked = (repository: string, digest: string): CacheChange => ({ repository, digest });
export const repositoryChanged = (repository: string): CacheChange => ({ repository });

/** The request's facts for events (events.ts), as the gateway sends them with each call. */
export const eventContext = z.object({
  baseUrl: str,
  request: z.object({ id: str, addr: str, host: str, method: str, useragent: str }),
  actor: str.optional(),
});

/** A pull a gateway answered from its cache: a manifest (with its media type) or a blob. */
const pullRecord = z.object({
  repository: str,
  digest: str,
  size: count,
  /** Present for a manifest. */
  mediaType: str.optional(),
  /** The tag the manifest was pulled by. */
  tag: str.optional(),
  event: eventContext,
});

export type PullRecord = z.output<typeof pullRecord>;

/** The cache holders' operations, answered by the metadata service (`<prefix>.metadata.<name>`). */
export const CACHE_OPS = {
  /** A holder's lease renewal (CacheLease); `pullEvents` says whether pulls are worth reporting. */
  renewLease: op(
    z.object({ holder: str, leaseMs: count }),
    reply(z.object({ lost: bool, pullEvents: bool.optional() })),
  ),
  /** A holder that stopped answering from its cache: writers need not wait for it. */
  releaseLease: op(z.object({ holder: str }), noReply),
  /** Pulls answered from a cache, reported in batches as pull events. */
  recordPulls: op(z.object({ pulls: z.array(pullRecord).max(5000) }), noReply),
};
export type CacheOps = typeof CACHE_OPS;
