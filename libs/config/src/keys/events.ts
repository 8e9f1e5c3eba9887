import * as p from '../parsers';
import { headerMap, webhookList } from '../webhooks';
import type { KeyTable } from './spec';

/** The README's events table (PROTOCOL.md §8). */
export const EVENTS_KEYS = {
  WHARF_EVENTS_WEBHOOKS: {
    parse: webhookList,
    doc: 'comma-separated URLs, or a JSON array of endpoints (below); unset: no webhooks',
  },
  WHARF_EVENTS_WEBHOOK_HEADERS: {
    parse: headerMap,
    default: '{}',
    secret: true,
    doc: 'JSON object, header name → value or list of values, sent to every endpoint (e.g. `Authorization`)',
  },
  WHARF_EVENTS_WEBHOOK_TIMEOUT: { parse: p.parseDurationMs, default: '5s', doc: 'per POST' },
  WHARF_EVENTS_WEBHOOK_BACKOFF: {
    parse: p.parseDurationMs,
    default: '1s',
    doc: 'wait after a failed POST; doubles per further failure',
  },
  WHARF_EVENTS_WEBHOOK_MAX_BACKOFF: {
    parse: p.parseDurationMs,
    default: '1m',
    doc: 'the longest wait between attempts (retries never give up)',
  },
  WHARF_EVENTS_PULL: { parse: p.bool, default: 'true', doc: '`false`: no pull events' },
  WHARF_EVENTS_PULL_FLUSH: {
    parse: p.parseDurationMs,
    default: '1s',
    doc: 'longest a pull event waits in memory before its batch is written',
  },
  WHARF_EVENTS_JETSTREAM: {
    parse: p.bool,
    default: 'true',
    doc: 'distributed shape: publish to JetStream (the NATS server needs JetStream enabled)',
  },
} satisfies KeyTable;
