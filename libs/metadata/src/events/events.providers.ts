import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import {
  Inject,
  Injectable,
  Optional,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type Provider,
} from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { EVENT_OUTBOX, EventOutbox, NO_EVENTS, type EventRecorder } from './outbox';
import { EventRelay, type EventPublisher, type WebhookTarget } from './relay';

export interface MetadataEventsOptions {
  webhooks: WebhookTarget[];
  pull: boolean;
  pullFlushMs: number;
  /** Distribution's `source.addr`: the registry's host:port (defaults to this host's name). */
  sourceAddr?: string;
  /** JetStream in the distributed shape. */
  publisher?: EventPublisher;
  pollMs?: number;
}

/** The relay when events have somewhere to go; null otherwise (then nothing is recorded either). */
export const EVENT_RELAY = Symbol('EVENT_RELAY');
/**
 * With events configured but every endpoint removed there is no relay to run, yet the queues the
 * removed endpoints left behind still have to go: a relay with no endpoints, used once at start.
 */
const LEFTOVER_DELIVERIES = Symbol('LEFTOVER_DELIVERIES');

/** Starts the relay with the application and stops it, pull batch flushed, before the pool closes. */
@Injectable()
export class EventsLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    @Optional() @Inject(EVENT_RELAY) private readonly relay: EventRelay | null,
    @Inject(EVENT_OUTBOX) private readonly outbox: EventRecorder,
    @Optional() @Inject(LEFTOVER_DELIVERIES) private readonly leftovers: EventRelay | null,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.relay?.start();
    await this.leftovers?.dropUnconfigured();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.outbox.flush();
    await this.relay?.stop();
  }
}

export function eventProviders(dataSource: symbol, opts: MetadataEventsOptions | undefined): Provider[] {
  const enabled = !!opts && (opts.webhooks.length > 0 || !!opts.publisher);
  return [
    {
      provide: EVENT_RELAY,
      inject: [dataSource],
      useFactory: (ds: DataSource) =>
        enabled && opts
          ? new EventRelay(ds, { webhooks: opts.webhooks, pollMs: opts.pollMs }, opts.publisher)
          : null,
    },
    {
      provide: LEFTOVER_DELIVERIES,
      inject: [dataSource],
      useFactory: (ds: DataSource) => (opts && !enabled ? new EventRelay(ds, { webhooks: [] }) : null),
    },
    {
      provide: EVENT_OUTBOX,
      inject: [dataSource, EVENT_RELAY],
      useFactory: (ds: DataSource, relay: EventRelay | null): EventRecorder =>
        relay && opts
          ? new EventOutbox(ds, {
              source: { addr: opts.sourceAddr ?? hostname(), instanceID: randomUUID() },
              pull: opts.pull,
              pullFlushMs: opts.pullFlushMs,
              // After the caller's commit, not inside it: a tick later the rows are visible.
              onRecorded: () => setTimeout(() => relay.wake(), 5).unref(),
            })
          : NO_EVENTS,
    },
    EventsLifecycle,
  ];
}
