import { Logger } from '@nestjs/common';
import { createInbox, Events, type NatsConnection, type Subscription } from 'nats';
import {
  invalidationSubject,
  readCacheAck,
  readCacheInvalidation,
  writeCacheInvalidation,
  type CacheChange,
} from '@wharf/contracts';
import type { CacheLease } from './lease';

const log = new Logger('cache-coherence');

/**
 * A holder's side: applies every invalidation published on `<prefix>.cache.invalidate` and then
 * acknowledges it with the holder id, so the writer knows this cache no longer holds what changed.
 * A disconnect may lose invalidations: the lease is dropped at once, and the next renewal after
 * reconnecting flushes the cache before it answers again.
 */
export function listenForInvalidations(
  nc: NatsConnection,
  prefix: string,
  lease: CacheLease,
  apply: (changes: CacheChange[]) => void,
): Subscription {
  const ack = new TextEncoder().encode(JSON.stringify({ holder: lease.holder }));
  const sub = nc.subscribe(invalidationSubject(prefix), {
    callback: (err, msg) => {
      if (err) return;
      try {
        apply(readCacheInvalidation(JSON.parse(new TextDecoder().decode(msg.data))).changes);
      } catch (e) {
        // Something we cannot read may have been a change: doubt means flush.
        log.warn(`unreadable invalidation, dropping the cache: ${(e as Error).message}`);
        lease.drop();
        return;
      }
      if (msg.reply) msg.respond(ack);
    },
  });
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === Events.Disconnect || status.type === Events.Error) lease.drop();
    }
  })().catch(() => undefined);
  void nc.closed().then(() => lease.drop());
  return sub;
}

/**
 * A writer's side: publishes `changes` to every holder and answers which of `waitFor` acknowledged
 * within `timeoutMs` (the others are the caller's to revoke).
 */
export async function publishInvalidation(
  nc: NatsConnection,
  prefix: string,
  changes: CacheChange[],
  waitFor: ReadonlySet<string>,
  timeoutMs: number,
): Promise<Set<string>> {
  const acked = new Set<string>();
  if (nc.isClosed()) return acked;
  const inbox = createInbox();
  let done: () => void = () => undefined;
  const all = new Promise<void>((resolve) => (done = resolve));
  const sub = nc.subscribe(inbox, {
    callback: (err, msg) => {
      if (err) return;
      try {
        const { holder } = readCacheAck(JSON.parse(new TextDecoder().decode(msg.data)));
        if (waitFor.has(holder)) acked.add(holder);
      } catch {
        return;
      }
      if (acked.size === waitFor.size) done();
    },
  });
  const timer = setTimeout(done, timeoutMs);
  try {
    const payload = JSON.stringify(writeCacheInvalidation({ changes }));
    nc.publish(invalidationSubject(prefix), new TextEncoder().encode(payload), { reply: inbox });
    if (waitFor.size > 0) await all;
  } finally {
    clearTimeout(timer);
    sub.unsubscribe();
  }
  return acked;
}
