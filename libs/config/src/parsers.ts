import { resolve } from 'node:path';
import { isValidSubjectPrefix } from '@wharf/contracts';
import { parseDuration } from '@wharf/oci';
import { ConfigError } from './errors';

/**
 * Turns a key's text into its typed value, or throws a ConfigError naming the key. Each kind of
 * value is read here once, so every key of that kind accepts the same spellings and fails alike.
 */
export type Parser<T> = (key: string, value: string) => T;

export const text: Parser<string> = (_key, value) => value;

/** A file or directory, resolved against the working directory at start. */
export const path: Parser<string> = (_key, value) => resolve(value);

export const bool: Parser<boolean> = (key, value) => {
  if (/^(true|1|yes)$/i.test(value)) return true;
  if (/^(false|0|no)$/i.test(value)) return false;
  throw new ConfigError(key, `"${value}" is not true or false`);
};

export function int(min: number): Parser<number> {
  return (key, value) => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min)
      throw new ConfigError(key, `"${value}" is not an integer >= ${min}`);
    return n;
  };
}

/** `<n>ms|s|m|h` to milliseconds; the grammar lives in @wharf/oci, the key name here. */
export const parseDurationMs: Parser<number> = (key, value) => {
  try {
    return parseDuration(value.trim());
  } catch {
    throw new ConfigError(key, `"${value}" is not a duration like 500ms, 30s, 5m or 24h`);
  }
};

/** A duration with a floor; `floor` is how the floor is written in the message (e.g. `60s`). */
export function durationAtLeast(floor: string): Parser<number> {
  const min = parseDuration(floor);
  return (key, value) => {
    const ms = parseDurationMs(key, value);
    if (ms < min) throw new ConfigError(key, `must be at least ${floor}`);
    return ms;
  };
}

export const parseHostPort: Parser<{ host: string; port: number }> = (key, value) => {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535)
    throw new ConfigError(key, `"${value}" is not host:port (e.g. :5000 or 127.0.0.1:5000)`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
};

export function oneOf<const T extends string>(values: readonly T[]): Parser<T> {
  return (key, value) => {
    if (!(values as readonly string[]).includes(value))
      throw new ConfigError(key, `"${value}" is not one of ${values.join(', ')}`);
    return value as T;
  };
}

/** A comma-separated list of URLs in the given schemes, trailing slashes dropped. */
export function urlList(schemes: readonly string[]): Parser<string[]> {
  return (key, value) => {
    const urls = value
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean);
    if (!urls.length) throw new ConfigError(key, 'is empty');
    for (const u of urls) {
      let parsed: URL;
      try {
        parsed = new URL(u);
      } catch {
        throw new ConfigError(key, `"${u}" is not a URL`);
      }
      if (!schemes.includes(parsed.protocol.replace(/:$/, '')))
        throw new ConfigError(key, `"${u}" must use ${schemes.join(' or ')}`);
    }
    return urls.map((u) => u.replace(/\/+$/, ''));
  };
}

/** An S3 endpoint: `http(s)://host[:port]`, without a path. */
export const s3Endpoint: Parser<string> = (key, value) => {
  if (!/^https?:\/\/[^/?#]+\/?$/.test(value))
    throw new ConfigError(key, `"${value}" is not http(s)://host[:port]`);
  return value.replace(/\/$/, '');
};

export function atLeastChars(chars: number): Parser<string> {
  return (key, value) => {
    if (value.length < chars) throw new ConfigError(key, `must be at least ${chars} characters`);
    return value;
  };
}

export const subjectPrefix: Parser<string> = (key, value) => {
  if (!isValidSubjectPrefix(value))
    throw new ConfigError(key, `"${value}" is not a NATS subject prefix like wharf or team.wharf`);
  return value;
};

/** `os/architecture`, as in a manifest list's platform. */
export const platform: Parser<{ os: string; architecture: string }> = (key, value) => {
  const m = /^([a-z0-9][a-z0-9._-]*)\/([a-z0-9][a-z0-9._-]*)$/.exec(value);
  if (!m) throw new ConfigError(key, `"${value}" is not os/architecture`);
  return { os: m[1], architecture: m[2] };
};

/** An http(s) URL kept as written, or a file path resolved like any other. */
export const urlOrPath: Parser<string> = (key, value) =>
  /^https?:\/\//.test(value) ? value : path(key, value);

export function json(key: string, value: string): unknown {
  try {
    return JSON.parse(value);
  } catch (e) {
    throw new ConfigError(key, `is not JSON: ${(e as Error).message}`);
  }
}
