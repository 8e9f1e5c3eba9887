import type { Settings } from './settings';

/** Registry events (PROTOCOL.md §8): webhook endpoints and the pull-event switch. */
export interface EventsConfig {
  webhooks: WebhookEndpoint[];
  /** Report pulls (batched in memory, a crash may lose the last batch). */
  pull: boolean;
  /** Longest a pull event waits in memory before its batch is written. */
  pullFlushMs: number;
  /** Distributed shape: the metadata service publishes every event to JetStream. */
  jetstream: boolean;
}

export interface WebhookEndpoint {
  /** Delivery progress is kept per name: renaming an endpoint starts it afresh. */
  name: string;
  url: string;
  headers: Record<string, string[]>;
  timeoutMs: number;
  /** First wait after a failed delivery; it doubles on each further failure up to maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs: number;
}

export function loadEventsConfig(s: Settings): EventsConfig {
  const shared = {
    headers: s.get('WHARF_EVENTS_WEBHOOK_HEADERS'),
    timeoutMs: s.get('WHARF_EVENTS_WEBHOOK_TIMEOUT'),
    backoffMs: s.get('WHARF_EVENTS_WEBHOOK_BACKOFF'),
    maxBackoffMs: s.get('WHARF_EVENTS_WEBHOOK_MAX_BACKOFF'),
  };
  const webhooks = (s.get('WHARF_EVENTS_WEBHOOKS') ?? []).map((e): WebhookEndpoint => ({
    name: e.name,
    url: e.url,
    headers: { ...shared.headers, ...e.headers },
    timeoutMs: e.timeoutMs ?? shared.timeoutMs,
    backoffMs: e.backoffMs ?? shared.backoffMs,
    maxBackoffMs: e.maxBackoffMs ?? shared.maxBackoffMs,
  }));
  return {
    webhooks,
    pull: s.get('WHARF_EVENTS_PULL'),
    jetstream: s.get('WHARF_EVENTS_JETSTREAM'),
    pullFlushMs: s.get('WHARF_EVENTS_PULL_FLUSH'),
  };
}
