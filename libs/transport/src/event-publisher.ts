import { nanos, StorageType, type JetStreamClient, type NatsConnection } from 'nats';
import { eventSubject, type RegistryEvent } from '@wharf/contracts';

/** How long JetStream remembers a Nats-Msg-Id: a relay retry after a crash falls well inside it. */
const DEDUP_WINDOW_MS = 10 * 60_000;
/** Events are kept for consumers that were away; webhooks have their own queue in Postgres. */
const MAX_AGE_MS = 7 * 24 * 3600_000;

/**
 * Publishes registry events to JetStream on `<prefix>.events.<action>` (the default prefix gives
 * Distribution-style `wharf.events.push`), with the event id as Nats-Msg-Id so a republish after a
 * crash is dropped as a duplicate. The stream is created on first use if it does not exist.
 */
export class JetStreamEventPublisher {
  private js?: Promise<JetStreamClient>;

  constructor(
    private readonly nc: NatsConnection,
    private readonly prefix: string,
  ) {}

  /** `<prefix>_events` with the dots of a nested prefix made underscores (stream names have none). */
  get streamName(): string {
    return `${this.prefix.replace(/\./g, '_')}_events`;
  }

  async publish(event: RegistryEvent): Promise<void> {
    const js = await (this.js ??= this.open().catch((e: unknown) => {
      this.js = undefined;
      throw e;
    }));
    await js.publish(eventSubject(this.prefix, event.action), JSON.stringify(event), { msgID: event.id });
  }

  private async open(): Promise<JetStreamClient> {
    const jsm = await this.nc.jetstreamManager();
    const name = this.streamName;
    const exists = () =>
      jsm.streams.info(name).then(
        () => true,
        () => false,
      );
    if (!(await exists())) {
      try {
        await jsm.streams.add({
          name,
          subjects: [`${this.prefix}.events.>`],
          storage: StorageType.File,
          duplicate_window: nanos(DEDUP_WINDOW_MS),
          max_age: nanos(MAX_AGE_MS),
        });
      } catch (e) {
        // Another replica created it first.
        if (!(await exists())) throw e;
      }
    }
    return this.nc.jetstream();
  }
}
