import { ConfigError, parseDurationMs } from './config';

/**
 * Registry events (PROTOCOL.md §8): webhook endpoints and the pull-event switch. Endpoints come
 * from WHARF_EVENTS_WEBHOOKS, either comma-separated URLs sharing the WHARF_EVENTS_WEBHOOK_* settings,
 * or a JSON array of objects for per-endpoint ones:
 * `[{"url":"https://hook/a","name":"audit","headers":{"Authorization":["Bearer x"]},"timeout":"2s"}]`.
 */
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

type Get = (key: string) => string | undefined;
const KEY = 'WHARF_EVENTS_WEBHOOKS';

export function loadEventsConfig(get: Get): EventsConfig {
  const defaults = {
    headers: parseHeaders('WHARF_EVENTS_WEBHOOK_HEADERS', parseJson('WHARF_EVENTS_WEBHOOK_HEADERS', get)),
    timeoutMs: parseDurationMs('WHARF_EVENTS_WEBHOOK_TIMEOUT', get('WHARF_EVENTS_WEBHOOK_TIMEOUT') ?? '5s'),
    backoffMs: parseDurationMs('WHARF_EVENTS_WEBHOOK_BACKOFF', get('WHARF_EVENTS_WEBHOOK_BACKOFF') ?? '1s'),
    maxBackoffMs: parseDurationMs(
      'WHARF_EVENTS_WEBHOOK_MAX_BACKOFF',
      get('WHARF_EVENTS_WEBHOOK_MAX_BACKOFF') ?? '1m',
    ),
  };
  const raw = get(KEY)?.trim();
  const webhooks = !raw
    ? []
    : raw.startsWith('[')
      ? jsonEndpoints(raw, defaults)
      : raw
          .split(',')
          .map((u) => u.trim())
          .filter(Boolean)
          .map((url) => ({ name: url, url: checkUrl(KEY, url), ...defaults }));
  const names = new Set<string>();
  for (const w of webhooks) {
    if (names.has(w.name)) throw new ConfigError(KEY, `endpoint "${w.name}" is listed twice`);
    names.add(w.name);
  }
  return {
    webhooks,
    pull: flag(get, 'WHARF_EVENTS_PULL'),
    jetstream: flag(get, 'WHARF_EVENTS_JETSTREAM'),
    pullFlushMs: parseDurationMs('WHARF_EVENTS_PULL_FLUSH', get('WHARF_EVENTS_PULL_FLUSH') ?? '1s'),
  };
}

/** A boolean key defaulting to true. */
function flag(get: Get, key: string): boolean {
  const v = get(key) ?? 'true';
  if (!/^(true|false|1|0|yes|no)$/i.test(v)) throw new ConfigError(key, `"${v}" is not true or false`);
  return /^(true|1|yes)$/i.test(v);
}

function jsonEndpoints(raw: string, defaults: Omit<WebhookEndpoint, 'name' | 'url'>): WebhookEndpoint[] {
  let list: unknown;
  try {
    list = JSON.parse(raw);
  } catch (e) {
    throw new ConfigError(KEY, `is neither comma-separated URLs nor JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(list)) throw new ConfigError(KEY, 'JSON form must be an array of endpoints');
  return list.map((item, i) => {
    const key = `${KEY}[${i}]`;
    if (!item || typeof item !== 'object' || Array.isArray(item))
      throw new ConfigError(key, 'must be an object with a url');
    const e = item as Record<string, unknown>;
    const known = ['url', 'name', 'headers', 'timeout', 'backoff', 'maxBackoff'];
    const unknown = Object.keys(e).find((k) => !known.includes(k));
    if (unknown) throw new ConfigError(`${key}.${unknown}`, `unknown setting (known: ${known.join(', ')})`);
    const text = (k: string): string | undefined => {
      if (e[k] === undefined) return undefined;
      if (typeof e[k] !== 'string' || !e[k])
        throw new ConfigError(`${key}.${k}`, 'must be a non-empty string');
      return e[k] as string;
    };
    const url = checkUrl(`${key}.url`, text('url') ?? '');
    const duration = (k: string, fallback: number): number => {
      const v = text(k);
      return v === undefined ? fallback : parseDurationMs(`${key}.${k}`, v);
    };
    return {
      name: text('name') ?? url,
      url,
      headers: { ...defaults.headers, ...parseHeaders(`${key}.headers`, e.headers) },
      timeoutMs: duration('timeout', defaults.timeoutMs),
      backoffMs: duration('backoff', defaults.backoffMs),
      maxBackoffMs: duration('maxBackoff', defaults.maxBackoffMs),
    };
  });
}

function parseJson(key: string, get: Get): unknown {
  const raw = get(key);
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw);
  } catch (e) {
    throw new ConfigError(key, `is not JSON: ${(e as Error).message}`);
  }
}

/** Distribution's form: a map from header name to a list of values; a single string is accepted too. */
function parseHeaders(key: string, value: unknown): Record<string, string[]> {
  if (value === undefined) return {};
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new ConfigError(key, 'must be an object of header name to value(s)');
  const out: Record<string, string[]> = {};
  for (const [name, v] of Object.entries(value)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name))
      throw new ConfigError(key, `"${name}" is not a header name`);
    const values = Array.isArray(v) ? v : [v];
    if (!values.every((s) => typeof s === 'string' && !/[\r\n\0]/.test(s)))
      throw new ConfigError(`${key}.${name}`, 'values must be strings without line breaks');
    out[name] = values as string[];
  }
  return out;
}

function checkUrl(key: string, url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(key, `"${url}" is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new ConfigError(key, `"${url}" is not an http(s) URL`);
  return url;
}
