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
import { EVENT_OUTBOX, EventOutbox } from './outbox';
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

/** Starts the relay with the application and stops it, pull batch flushed, before the pool closes. */
@Injectable()
export class EventsLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    @Optional() @Inject(EVENT_RELAY) private readonly relay: EventRelay | null,
    @Optional() @Inject(EVENT_OUTBOX) private readonly outbox: EventOutbox | null,
  ) {}

  onApplicationBootstrap(): void {
    this.relay?.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.outbox?.flush();
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
      provide: EVENT_OUTBOX,
      inject: [dataSource, EVENT_RELAY],
      useFactory: (ds: DataSource, relay: EventRelay | null) =>
        relay && opts
          ? new EventOutbox(ds, {
              source: { addr: opts.sourceAddr ?? hostname(), instanceID: randomUUID() },
              pull: opts.pull,
              pullFlushMs: opts.pullFlushMs,
              // After the caller's commit, not inside it: a tick later the rows are visible.
              onRecorded: () => setTimeout(() => relay.wake(), 5).unref(),
            })
          : null,
    },
    EventsLifecycle,
  ];
}
