import { Logger } from '@nestjs/common';
import type { EventAction, EventContext, EventTarget, RegistryEvent } from '@wharf/contracts';
import { newEvent, type EventSource } from './envelope';

export const EVENT_OUTBOX = Symbol('EVENT_OUTBOX');

/** Anything that runs SQL: the change's own transaction (EntityManager) or the pool (DataSource). */
export interface Sql {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

export interface OutboxOptions {
  source: EventSource;
  /** False drops pull events (WHARF_EVENTS_PULL=false). */
  pull: boolean;
  pullFlushMs: number;
  /** Called once rows may be waiting, so the relay need not wait for its next poll. */
  onRecorded?: () => void;
}

/** A pull batch is written when it reaches this many events, or after pullFlushMs. */
const PULL_BATCH_MAX = 500;

/**
 * The write side of durable events. Push, mount and delete are recorded in the transaction of the
 * change they describe, so an event exists exactly when its change committed. Pulls are not worth
 * a write per GET: they gather in memory and go in as one insert per batch; a crash loses at most
 * the batch not yet written.
 */
export class EventOutbox {
  private readonly log = new Logger('EventOutbox');
  private pulls: RegistryEvent[] = [];
  private timer?: NodeJS.Timeout;
  private flushing = Promise.resolve();

  constructor(
    private readonly pool: Sql,
    private readonly opts: OutboxOptions,
  ) {}

  event(action: EventAction, target: EventTarget, ctx: EventContext | undefined): RegistryEvent {
    return newEvent(action, target, ctx, this.opts.source);
  }

  /** Inside the change's transaction: the events commit or roll back with it. */
  async record(tx: Sql, events: RegistryEvent[]): Promise<void> {
    if (!events.length) return;
    await insertEvents(tx, events);
    this.opts.onRecorded?.();
  }

  pull(target: EventTarget, ctx: EventContext): void {
    if (!this.opts.pull) return;
    this.pulls.push(this.event('pull', target, ctx));
    if (this.pulls.length >= PULL_BATCH_MAX) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.opts.pullFlushMs).unref();
  }

  /** Writes the pending pull batch; on shutdown and when a batch is full or old enough. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pulls;
    this.pulls = [];
    if (!batch.length) return this.flushing;
    this.flushing = this.flushing
      .then(() => insertEvents(this.pool, batch))
      .then(
        () => this.opts.onRecorded?.(),
        // Pull events are best effort by design; a failed batch must not fail the reads.
        (e: unknown) => this.log.warn(`dropped ${batch.length} pull events: ${(e as Error).message}`),
      );
    return this.flushing;
  }
}

function insertEvents(sql: Sql, events: RegistryEvent[]): Promise<unknown> {
  return sql.query(
    `INSERT INTO metadata.event_outbox (id, action, event)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::jsonb[])`,
    [events.map((e) => e.id), events.map((e) => e.action), events.map((e) => JSON.stringify(e))],
  );
}
