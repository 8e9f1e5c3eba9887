import { Logger } from '@nestjs/common';
import type { EventAction, EventContext, EventTarget, RegistryEvent } from '@wharf/contracts';
import type { Queryable } from '@wharf/database';
import { insertEvents } from '../store';
import { newEvent, type EventSource } from './envelope';

export const EVENT_OUTBOX = Symbol('EVENT_OUTBOX');

/** The write side of events as the services see it: the outbox, or NO_EVENTS when events are off. */
export interface EventRecorder {
  /**
   * False for NO_EVENTS. Then there is nothing to build or record.
   */
  readonly enabled: boolean;
  event(action: EventAction, target: EventTarget, ctx: EventContext | undefined): RegistryEvent;
  /** Inside the change's transaction: the events commit or roll back with it. */
  record(tx: Queryable, events: RegistryEvent[]): Promise<void>;
  pull(target: EventTarget, ctx: EventContext): void;
  flush(): Promise<void>;
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
 * Pull events waiting for their insert, at most: beyond it new ones are dropped (and counted), so
 * pulls arriving faster than PostgreSQL takes their events (gateways answering from their caches
 * report thousands a second) cost no unbounded memory.
 */
const PULL_BACKLOG_MAX = 10_000;
const DROP_REPORT_MS = 10_000;

/**
 * The write side of durable events. Push, mount and delete are recorded in the transaction of the
 * change they describe, so an event exists exactly when its change committed. Pulls are not worth
 * a write per GET: they gather in memory and go in as one insert per batch; a crash loses at most
 * the batch not yet written.
 */
export class EventOutbox implements EventRecorder {
  readonly enabled = true;
  private readonly log = new Logger('EventOutbox');
  private pulls: RegistryEvent[] = [];
  private timer?: NodeJS.Timeout;
  private flushing = Promise.resolve();
  /** Pull events in batches handed to `flushing` and not yet inserted. */
  private inFlight = 0;
  private dropped = 0;
  private dropReport?: NodeJS.Timeout;

  constructor(
    private readonly pool: Queryable,
    private readonly opts: OutboxOptions,
  ) {}

  event(action: EventAction, target: EventTarget, ctx: EventContext | undefined): RegistryEvent {
    return newEvent(action, target, ctx, this.opts.source);
  }

  async record(tx: Queryable, events: RegistryEvent[]): Promise<void> {
    if (!events.length) return;
    await insertEvents(tx, events);
    this.opts.onRecorded?.();
  }

  pull(target: EventTarget, ctx: EventContext): void {
    if (!this.opts.pull) return;
    if (this.inFlight + this.pulls.length >= PULL_BACKLOG_MAX) return this.drop();
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
    this.inFlight += batch.length;
    this.flushing = this.flushing
      .then(() => insertEvents(this.pool, batch))
      .then(
        () => this.opts.onRecorded?.(),
        // Pull events are best effort by design; a failed batch must not fail the reads.
        (e: unknown) => this.log.warn(`dropped ${batch.length} pull events: ${(e as Error).message}`),
      )
      .finally(() => {
        this.inFlight -= batch.length;
      });
    return this.flushing;
  }

  /** Counts a pull event the backlog had no room for; says so once per DROP_REPORT_MS. */
  private drop(): void {
    this.dropped++;
    this.dropReport ??= setTimeout(() => {
      this.log.warn(`dropped ${this.dropped} pull events: PostgreSQL takes them slower than they come`);
      this.dropped = 0;
      this.dropReport = undefined;
    }, DROP_REPORT_MS).unref();
  }
}

/** Events off (no endpoint, no publisher): nothing is recorded, and changes run as if there were no outbox. */
export const NO_EVENTS: EventRecorder = {
  enabled: false,
  event: (action, target, ctx) => newEvent(action, target, ctx, { addr: '', instanceID: '' }),
  record: async () => undefined,
  pull: () => undefined,
  flush: async () => undefined,
};
