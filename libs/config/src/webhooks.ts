import { ConfigError } from './errors';
import { json, parseDurationMs, type Parser } from './parsers';

/**
 * One endpoint as WHARF_EVENTS_WEBHOOKS lists it: either comma-separated URLs, or a JSON array of
 * objects for per-endpoint settings:
 * `[{"url":"https://hook/a","name":"audit","headers":{"Authorization":["Bearer x"]},"timeout":"2s"}]`.
 * What an entry leaves out, the WHARF_EVENTS_WEBHOOK_* keys fill in.
 */
export interface WebhookEntry {
  name: string;
  url: string;
  headers: Record<string, string[]>;
  timeoutMs?: number;
  backoffMs?: number;
  maxBackoffMs?: number;
}

export const webhookList: Parser<WebhookEntry[]> = (key, value) => {
  const raw = value.trim();
  const entries = !raw
    ? []
    : raw.startsWith('[')
      ? jsonEntries(key, raw)
      : raw
          .split(',')
          .map((u) => u.trim())
          .filter(Boolean)
          .map((url) => ({ name: url, url: checkUrl(key, url), headers: {} }));
  const names = new Set<string>();
  for (const e of entries) {
    if (names.has(e.name)) throw new ConfigError(key, `endpoint "${e.name}" is listed twice`);
    names.add(e.name);
  }
  return entries;
};

/** Distribution's form: a map from header name to a list of values; a single string is accepted too. */
export const headerMap: Parser<Record<string, string[]>> = (key, value) =>
  parseHeaders(key, json(key, value));

function jsonEntries(key: string, raw: string): WebhookEntry[] {
  let list: unknown;
  try {
    list = JSON.parse(raw);
  } catch (e) {
    throw new ConfigError(key, `is neither comma-separated URLs nor JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(list)) throw new ConfigError(key, 'JSON form must be an array of endpoints');
  return list.map((item, i) => {
    const at = `${key}[${i}]`;
    if (!item || typeof item !== 'object' || Array.isArray(item))
      throw new ConfigError(at, 'must be an object with a url');
    const e = item as Record<string, unknown>;
    const known = ['url', 'name', 'headers', 'timeout', 'backoff', 'maxBackoff'];
    const unknown = Object.keys(e).find((k) => !known.includes(k));
    if (unknown) throw new ConfigError(`${at}.${unknown}`, `unknown setting (known: ${known.join(', ')})`);
    const text = (k: string): string | undefined => {
      if (e[k] === undefined) return undefined;
      if (typeof e[k] !== 'string' || !e[k])
        throw new ConfigError(`${at}.${k}`, 'must be a non-empty string');
      return e[k] as string;
    };
    const url = checkUrl(`${at}.url`, text('url') ?? '');
    const duration = (k: string): number | undefined => {
      const v = text(k);
      return v === undefined ? undefined : parseDurationMs(`${at}.${k}`, v);
    };
    return {
      name: text('name') ?? url,
      url,
      headers: parseHeaders(`${at}.headers`, e.headers),
      timeoutMs: duration('timeout'),
      backoffMs: duration('backoff'),
      maxBackoffMs: duration('maxBackoff'),
    };
  });
}

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
