import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { EVENTS_MEDIA_TYPE, type RegistryEvent } from '@wharf/contracts';
import type { WebhookEndpoint } from '@wharf/config';
import {
  claimDeliveries,
  claimUnpublished,
  deleteDelivered,
  deleteDeliveries,
  dropDeliveriesExcept,
  markPublished,
  queueDeliveries,
} from '../store';

/** Where the relay hands events on besides webhooks: JetStream in the distributed shape. */
export const EVENT_PUBLISHER = Symbol('EVENT_PUBLISHER');
export interface EventPublisher {
  /** Resolves once the event is stored durably; `event.id` is the deduplication key. */
  publish(event: RegistryEvent): Promise<void>;
}

/** An endpoint as configured (WHARF_EVENTS_ENDPOINTS). */
export type WebhookTarget = WebhookEndpoint;

export interface RelayOptions {
  webhooks: WebhookTarget[];
  /** Idle poll interval; other replicas' events are found this way. */
  pollMs?: number;
}

const RELAY_BATCH = 200;
const DELIVERY_BATCH = 20;
const DEFAULT_POLL_MS = 500;
const CLEANUP_EVERY_MS = 60_000;

/**
 * Moves events out of the outbox. Stage one (any replica, rows claimed with SKIP LOCKED) publishes
 * each new event to the optional publisher and queues it for every webhook endpoint in
 * `event_deliveries`, all in one transaction. Stage two sends each endpoint's queue in order and
 * deletes a row only after a 2xx/3xx answer: a crash (kill -9 included) at any point leaves the row,
 * and it is sent again after the restart with the same id. See docs/adr/0010-durable-events.md.
 */
export class EventRelay {
  private readonly log = new Logger('EventRelay');
  private stopped = false;
  private wakers = new Set<() => void>();
  private loops: Promise<void>[] = [];
  private readonly pollMs: number;
  /** Endpoints currently failing: logged once when an outage starts and once when it ends. */
  private readonly failing = new Set<string>();
  /** Cuts in-flight POSTs on stop: their rows stay and are sent again after the restart. */
  private readonly aborted = new AbortController();

  constructor(
    private readonly ds: DataSource,
    private readonly opts: RelayOptions,
    private readonly publisher?: EventPublisher,
  ) {
    this.pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
  }

  start(): void {
    this.loops = [
      this.dropUnconfigured().then(
        () => undefined,
        (e: Error) => this.log.warn(`dropping deliveries for removed endpoints: ${e.message}`),
      ),
      this.loop('relay', () => this.relayOnce()),
      this.loop('cleanup', () => this.cleanup(), CLEANUP_EVERY_MS),
      ...this.opts.webhooks.map((w) => this.webhookLoop(w)),
    ];
  }

  /** New rows may be there: end every idle wait now. */
  wake(): void {
    for (const w of this.wakers) w();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.aborted.abort();
    this.wake();
    await Promise.all(this.loops);
  }

  /**
   * Deliveries queued for an endpoint that is no longer configured would wait forever, hold their
   * events in the outbox and count as lag: they go at start, once, with a line saying how many.
   */
  async dropUnconfigured(): Promise<number> {
    const rows = await dropDeliveriesExcept(
      this.ds,
      this.opts.webhooks.map((w) => w.name),
    );
    const dropped = rows.reduce((sum, r) => sum + r.n, 0);
    if (dropped)
      this.log.warn(
        `dropped ${dropped} queued deliveries for endpoints no longer configured: ${rows.map((r) => r.endpoint).join(', ')}`,
      );
    return dropped;
  }

  /** Stage one; answers how many rows it moved (0: nothing waiting). */
  async relayOnce(): Promise<number> {
    const names = this.opts.webhooks.map((w) => w.name);
    return this.ds.transaction(async (em) => {
      const rows = await claimUnpublished(em, RELAY_BATCH);
      if (!rows.length) return 0;
      // Published before the rows are marked: a crash in between publishes again, and JetStream
      // drops the duplicate by its Nats-Msg-Id.
      if (this.publisher) for (const r of rows) await this.publisher.publish(r.event);
      const seqs = rows.map((r) => r.seq);
      if (names.length) await queueDeliveries(em, names, seqs);
      await markPublished(em, seqs);
      return rows.length;
    });
  }

  /**
   * Sends up to one batch of this endpoint's queue, oldest first, stopping at the first failure so
   * order holds. The rows stay locked while they are in flight, so another replica never sends
   * the same event concurrently. Answers 'failed', 'more' or 'idle'.
   */
  async deliverOnce(w: WebhookTarget): Promise<'failed' | 'more' | 'idle'> {
    return this.ds.transaction(async (em) => {
      const rows = await claimDeliveries(em, w.name, DELIVERY_BATCH);
      const done: string[] = [];
      let failed = false;
      for (const r of rows) {
        if (this.stopped || !(await this.post(w, r.event))) {
          failed = !this.stopped;
          break;
        }
        done.push(r.seq);
      }
      if (done.length) await deleteDeliveries(em, w.name, done);
      return failed ? 'failed' : rows.length === DELIVERY_BATCH ? 'more' : 'idle';
    });
  }

  /** Distribution's request: one event per POST, 3-space indented; 2xx and 3xx count as delivered. */
  private async post(w: WebhookTarget, event: RegistryEvent): Promise<boolean> {
    const headers = new Headers();
    for (const [name, values] of Object.entries(w.headers)) for (const v of values) headers.append(name, v);
    headers.set('Content-Type', EVENTS_MEDIA_TYPE);
    try {
      const res = await fetch(w.url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ events: [event] }, null, 3),
        signal: AbortSignal.any([AbortSignal.timeout(w.timeoutMs), this.aborted.signal]),
      });
      await res.body?.cancel();
      if (res.status >= 200 && res.status < 400) {
        if (this.failing.delete(w.name)) this.log.log(`webhook ${w.name}: delivering again`);
        return true;
      }
      this.failed(w, `event ${event.id} answered ${res.status}`);
    } catch (e) {
      if (!this.stopped) this.failed(w, `event ${event.id} failed: ${(e as Error).message}`);
    }
    return false;
  }

  private failed(w: WebhookTarget, why: string): void {
    if (this.failing.has(w.name)) return this.log.debug(`webhook ${w.name}: ${why}`);
    this.failing.add(w.name);
    this.log.warn(`webhook ${w.name}: ${why}; retrying with backoff until it answers 2xx`);
  }

  private async webhookLoop(w: WebhookTarget): Promise<void> {
    let backoff = w.backoffMs;
    while (!this.stopped) {
      let outcome: 'failed' | 'more' | 'idle';
      try {
        outcome = await this.deliverOnce(w);
      } catch (e) {
        this.log.warn(`webhook ${w.name}: ${(e as Error).message}`);
        outcome = 'failed';
      }
      if (outcome === 'failed') {
        await this.sleep(backoff, false);
        backoff = Math.min(backoff * 2, w.maxBackoffMs);
        continue;
      }
      backoff = w.backoffMs;
      if (outcome === 'idle') await this.sleep(this.pollMs, true);
    }
  }

  private async loop(name: string, step: () => Promise<unknown>, everyMs = this.pollMs): Promise<void> {
    while (!this.stopped) {
      let moved: unknown = 0;
      try {
        moved = await step();
      } catch (e) {
        if (!this.stopped) this.log.warn(`${name}: ${(e as Error).message}`);
      }
      if (!moved) await this.sleep(everyMs, name === 'relay');
    }
  }

  private async cleanup(): Promise<number> {
    await deleteDelivered(this.ds);
    return 0;
  }

  /** Waits `ms`, or less when woken (if `wakeable`) or stopped. */
  private sleep(ms: number, wakeable: boolean): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve();
      };
      const wake = (): void => (wakeable || this.stopped ? done() : undefined);
      const timer = setTimeout(done, ms);
      this.wakers.add(wake);
    });
  }
}
